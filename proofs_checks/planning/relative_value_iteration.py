r"""Relative value iteration (average reward): the span contraction per step, and the gain.

RVI iterates ``u_{k+1} = T~ u_k - (T~ u_k)(s_ref)`` with the operator of the aperiodicity
transform ``P~ = (1 - tau) I + tau P``, ``R~ = tau R`` (Puterman 1994, Sec. 8.5.5). For any
``u, v``, ``sp(T~ u - T~ v) <= delta sp(u - v)`` with the Dobrushin coefficient
``delta = 1 - min_{(s,a),(s',a')} sum_j min(P~(j|s,a), P~(j|s',a'))`` (Puterman Sec. 6.6.1,
8.5.2), hence at every step

.. math:: \mathrm{sp}(\tilde T u_{k+1} - u_{k+1}) \le \delta\,\mathrm{sp}(\tilde T u_k - u_k).

* ``relative_value_iteration.span_contraction`` [R]: the ratio of consecutive span residuals is
  at most ``delta`` at every step, on full-support Garnets, on a periodic instance (a
  deterministic 2-cycle, where RVI without the transform would not converge), and equals
  ``delta`` on a two-state chain where the bound is tight (``delta = |1 - tau (p + q)|``, the
  second eigenvalue). ``P~``, ``delta`` and the residuals are computed here from ``P``, ``tau``
  and the iterates the solver returned.
* ``relative_value_iteration.gain_matches_lp`` [R]: on unichain instances RVI's gain equals
  the optimal gain of the stationary-occupancy LP, and the Odoni bracket
  ``min(Tu - u) <= g* <= max(Tu - u)`` holds (Puterman Sec. 8.5 and 8.8; Odoni 1969).
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.planning._instances import PUTERMAN, dense

__all__ = ["rvi_span_contraction", "rvi_gain_matches_lp"]

TAU = 0.5  # the aperiodicity transform's parameter (the solver's default)
#: Ratios are read while the residual's span is above this fraction of the iterates' scale
#: ``max(1, ||u||, sp_0)``: a residual is a difference of numbers of that scale, so its round-off
#: is a few 1e-16 of it and a ratio moves by at most about 1e-16 / SPAN_WINDOW = 1e-9.
SPAN_WINDOW = 1e-7
RATIO_TOL = 1e-6


def _instance(config, rng):
    kind = config["instance"]
    if kind == "garnet_full":
        # full-support rows: every policy is irreducible and aperiodic, hence unichain
        n = config["n_states"]
        return mdps.garnet(n, 4, n, rng=rng)
    if kind == "river_swim":
        return mdps.river_swim(config["n_states"])
    if kind == "jao":
        return mdps.jao(0.1, 0.05, 2)
    if kind == "two_state":  # P = [[1-p, p], [q, 1-q]], one action: the contraction is tight
        p, q = config["p"], config["q"]
        return mdps.TabularMDP(np.array([[[1 - p, p]], [[q, 1 - q]]]), np.array([[1.0], [0.0]]))
    if kind == "two_cycle":  # deterministic period-2 chain
        return mdps.TabularMDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), np.array([[1.0], [0.0]]))
    raise ValueError(f"unknown instance {kind!r}")


def _transformed(P, tau):
    """``P~[s, a, :] = (1 - tau) e_s + tau P[s, a, :]``, written out from the definition."""
    S = P.shape[0]
    return (1 - tau) * np.eye(S)[:, None, :] + tau * P


def _dobrushin(Pt) -> float:
    rows = Pt.reshape(-1, Pt.shape[-1])
    overlap = np.minimum(rows[:, None, :], rows[None, :, :]).sum(axis=-1)
    return float(1.0 - overlap.min())


def _span_run(config, rng):
    mdp = _instance(config, rng)
    P, R = dense(mdp)
    Pt = _transformed(P, TAU)
    delta = _dobrushin(Pt)
    sol = mdps.relative_value_iteration(mdp, tol=1e-12, tau=TAU, keep_iterates=True)
    U = np.asarray(sol.trace["iterates"])
    resid = np.array([np.ptp((TAU * R + Pt @ u).max(axis=1) - u) for u in U])  # sp(T~ u_k - u_k)
    scale = max(1.0, float(np.abs(U).max()), float(resid[0]))
    usable = resid[:-1] > SPAN_WINDOW * scale
    ratios = resid[1:][usable] / resid[:-1][usable]
    return [{"k": k, "span_residual": float(r), "delta": delta} for k, r in enumerate(resid)] + \
           [{"k": -1, "span_residual": float("nan"), "delta": delta,
             "max_ratio": float(ratios.max()) if ratios.size else 0.0,
             "min_ratio": float(ratios.min()) if ratios.size else 0.0, "n_ratios": int(ratios.size)}]


def _span_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(instance=["garnet_full"], n_states=ctx.pick([10, 30], [10, 30, 100]))
    grid += [{"instance": "two_state", "p": p, "q": q} for p, q in ((0.1, 0.3), (0.7, 0.6), (0.05, 0.05))]
    grid += [{"instance": "two_cycle"}]
    frame = ctx.sweep(_span_run, grid, n_seeds=ctx.pick(3, 10))
    summary = frame[frame["k"] == -1]
    over = (summary["max_ratio"] - summary["delta"]).to_numpy()  # ratio <= delta, every instance
    tight = summary[summary["instance"] == "two_state"]
    under = (tight["delta"] - tight["min_ratio"]).to_numpy()  # and == delta where it is tight
    no_data = (summary["n_ratios"] == 0) & (summary["delta"] > 0)
    values = np.concatenate([over, under, np.where(no_data, np.nan, 0.0)])
    return worst_case(
        values, "<=", 0.0, RATIO_TOL, frame,
        f"per-step ratio sp(T~u_(k+1) - u_(k+1)) / sp(T~u_k - u_k) minus the Dobrushin coefficient delta of "
        f"P~ = (1 - tau) I + tau P (tau = {TAU}) over {len(summary)} runs: full-support Garnets (delta "
        f"{summary[summary.instance == 'garnet_full'].delta.min():.3f}..{summary.delta.max():.3f}), a deterministic "
        "2-cycle (periodic: delta = 0 after the transform) and two-state chains where the bound is tight (there "
        f"also delta - ratio); largest excess {np.nanmax(over):.1e}, largest shortfall on the tight chains "
        f"{np.nanmax(under) if under.size else 0:.1e}.",
    )


def _span_plot(result):
    from labkit.figures import convergence_plot

    data = result.data[(result.data["k"] >= 0) & (result.data["instance"] == "garnet_full")]
    curves, refs = {}, {}
    for n, g in data.groupby("n_states"):
        runs = [h.sort_values("k")["span_residual"].to_numpy() for _, h in g.groupby("replicate")]
        m = min(map(len, runs))
        curves[f"S={n:g}"] = np.array([r[:m] / r[0] for r in runs])
        refs[f"S={n:g}"] = float(g["delta"].max()) ** np.arange(m)
    return convergence_plot(curves, theory=refs, floor=1e-12, xlabel="sweep k", theory_label=r"$\delta^k$",
                            ylabel=r"$sp(\tilde Tu_k - u_k)/sp(\tilde Tu_0 - u_0)$")


rvi_span_contraction = register(Check(
    name="relative_value_iteration.span_contraction",
    paper=PUTERMAN + ", Sec. 6.6.1, 8.5.2 and 8.5.5",
    claim="At every step relative value iteration's span residual sp(T~u_k - u_k) contracts by at most the "
          "Dobrushin coefficient of the aperiodicity-transformed MDP, and by exactly that on a two-state chain.",
    tag="R", family="planning", cost=(2, 10),
    measure=_span_measure, plot=_span_plot,
))

#: RVI stops at span residual 1e-12; the gain estimate then lies in the Odoni bracket of that
#: width, and HiGHS solves the gain LP to ~1e-9 (its default tolerances).
GAIN_TOL = 1e-8


def _gain_run(config, rng):
    mdp = _instance(config, rng)
    lp = mdps.average_reward_lp(mdp)
    sol = mdps.relative_value_iteration(mdp, tol=1e-12, tau=TAU, keep_iterates=True)
    P, R = dense(mdp)
    U = np.asarray(sol.trace["iterates"])
    # the Odoni bracket of every iterate, computed here: min/max of (T u - u)
    diffs = np.array([(R + P @ u).max(axis=1) - u for u in U])
    violation = float(np.maximum(diffs.min(axis=1) - lp.gain, lp.gain - diffs.max(axis=1)).clip(min=0.0).max())
    # the gain of the policy RVI returns, evaluated exactly
    policy_gain = float(np.max(mdps.evaluate(mdp, np.asarray(sol.policy))))
    return {"gain_rvi": float(sol.gain), "gain_lp": float(lp.gain), "policy_gain": policy_gain,
            "bracket_violation": violation, "converged": bool(sol.converged)}


def _gain_measure(ctx) -> Outcome:
    grid = [{"instance": "garnet_full", "n_states": n} for n in ctx.pick([10, 30], [10, 30, 100])]
    grid += [{"instance": "river_swim", "n_states": n} for n in ctx.pick([6], [6, 12, 20])]
    grid += [{"instance": "jao", "n_states": 2}]
    frame = ctx.sweep(_gain_run, grid, n_seeds=ctx.pick(5, 20))
    gaps = np.maximum((frame["gain_rvi"] - frame["gain_lp"]).abs(), (frame["policy_gain"] - frame["gain_lp"]).abs())
    values = np.where(frame["converged"], np.maximum(gaps, frame["bracket_violation"]), np.inf)
    return worst_case(
        values, "<=", 0.0, GAIN_TOL, frame,
        f"max of |g_RVI - g_LP|, of |gain of RVI's policy - g_LP| and of the Odoni-bracket violation over "
        f"{len(frame)} unichain instances (full-support Garnets, RiverSwim, JAO); worst gap {gaps.max():.2e}, "
        f"worst bracket violation {frame.bracket_violation.max():.2e}.",
    )


def _gain_plot(result):
    from labkit.figures import MARKERS, legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (inst, g) in enumerate(result.data.groupby("instance")):
        ax.scatter(g["gain_lp"], (g["gain_rvi"] - g["gain_lp"]).abs().clip(lower=1e-17), s=9, label=inst,
                   marker=MARKERS[i % len(MARKERS)])
    reference_line(ax, GAIN_TOL, label="tolerance (theorem: gap 0)")
    ax.set_yscale("log")
    ax.set_xlabel(r"optimal gain $g^*$ (LP)")
    ax.set_ylabel(r"$|g_{RVI} - g^*|$")
    legend(ax, outside=True)
    return fig


rvi_gain_matches_lp = register(Check(
    name="relative_value_iteration.gain_matches_lp",
    paper=PUTERMAN + ", Sec. 8.5 and 8.8; A. Odoni 1969",
    claim="On unichain instances relative value iteration's gain, and the exact gain of its policy, equal the "
          "optimal gain of the stationary-occupancy LP, and the Odoni bracket min(Tu-u) <= g* <= max(Tu-u) holds.",
    tag="R", family="planning", cost=(1, 5),
    measure=_gain_measure, plot=_gain_plot,
))
