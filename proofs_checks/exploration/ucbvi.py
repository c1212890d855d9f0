r"""UCBVI's regret on fixed episodic instances, and the greedy control's linear regret.

References: M. G. Azar, I. Osband, R. Munos, *Minimax Regret Bounds for Reinforcement
Learning*, ICML 2017, arXiv:1703.05449 (UCBVI-CH Theorem 1, UCBVI-BF Theorem 2); the greedy
negative control on RiverSwim (Strehl & Littman 2008). Derivations and the instances:
docs/theory/exploration.md.

The checks never read the regret the engine reports: they take the policies it played
(``keep_policies=True``), evaluate each distinct one exactly with
:func:`mdps.evaluate_finite_horizon`, and build the pseudo-regret from ``V*`` of
:func:`mdps.backward_induction`.

* ``ucbvi.regret_tail_slope`` -- UCBVI-BF at the theory scale (``bonus_scale = 1``) on fixed
  instances: the tail slope of log E[Reg(K)] vs log K is at most 1/2 (+ tol), and the regret
  stays below the Theorem-1 bound :func:`algorithms.exploration.ucbvi_regret_bound` (with
  ``S' = S`` for stationary estimates and ``S' = S H`` for stage-dependent ones) at every
  checkpoint. On a fixed instance with a gap the regret is eventually logarithmic, so the slope
  is an upper-bound statement; the sqrt(K) growth needs instances rebuilt for each K.
* ``ucbvi.greedy_linear`` -- the no-bonus control with estimated rewards on RiverSwim locks onto
  the small reward at the left bank: regret slope at least 1 (- tol).
* ``ucbvi.optimism`` -- UCBVI-BF's optimism lemma: on the good event (probability at least
  ``1 - delta``) the optimistic values dominate the optimal ones, ``Vbar_{k,h}(s) >= V*_h(s)``
  at every episode ``k``, stage ``h`` and state ``s``, and the clip keeps ``Vbar_{k,h} <= H - h``.
  The check rebuilds every episode's optimistic plan itself from the visited trajectories
  (:func:`optimistic_plans`, Algorithm 4's update written out in NumPy), requires the engine's
  reported plan values ``rho . Vbar_{k,0}`` to equal the rebuilt ones and to respect the clip,
  and counts the runs in which optimism fails somewhere: at most a ``delta`` fraction, up to a
  binomial margin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import exploration
from labkit.check import Check, Outcome, register
from labkit.rates import fit_power_law

__all__ = ["regret_tail_slope", "greedy_linear", "optimism", "optimistic_plans"]

AOM17 = "M. G. Azar, I. Osband, R. Munos 2017, Minimax Regret Bounds for RL, arXiv:1703.05449"
#: slope tolerance of docs/theory/exploration.md (rate-check methodology: +-0.1 on a tail fit)
SLOPE_TOL = 0.1


def instance(name: str) -> mdps.TabularMDP:
    """The fixed instances: RiverSwim(3), H = 6 (stationary P), a random episodic MDP with
    S = 3, A = 2, H = 4 whose P_h depends on the stage (seed 1), and ``short``: a random
    stationary MDP with S = 3, A = 2, H = 2 (seed 2)."""
    if name == "river_swim":
        return mdps.river_swim(3, horizon=6)
    if name == "random":
        return mdps.random_finite_horizon(3, 2, 4, rng=1)
    if name == "short":  # stationary, H = 2: the plan leaves the clip within a few thousand episodes
        return mdps.random_finite_horizon(3, 2, 2, stage_dependent=False, rng=2)
    raise ValueError(f"unknown instance {name!r}")


def audited_regret(mdp, batch) -> tuple[np.ndarray, float]:
    """Per-episode pseudo-regret ``(n_runs, K)`` recomputed from the played policies, and the
    largest gap to the values the engine reported about itself."""
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    pol = batch.policies
    n, K, H, S = pol.shape
    flat = pol.reshape(n * K, H * S)
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    vals = np.array([float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, u.reshape(H, S).astype(np.int64))[0])
                     for u in uniq])
    values = vals[inverse.ravel()].reshape(n, K)
    return v_star - values, float(np.abs(values - batch.values).max())


def _curve_run(config, rng):
    mdp = instance(config["instance"])
    K = config["n_episodes"]
    if config["agent"] == "greedy":
        batch = exploration.greedy(mdp, n_episodes=K, rewards="estimated", keep_policies=True,
                                   n_runs=config["n_runs"], rng=rng)
    else:
        batch = exploration.ucbvi(mdp, n_episodes=K, bonus=config["agent"], bonus_scale=1.0, delta=config["delta"],
                                  keep_policies=True, n_runs=config["n_runs"], rng=rng)
    regret, gap = audited_regret(mdp, batch)
    ks = labkit.checkpoints(K, 40, first=10)
    cum = regret.cumsum(axis=1)[:, ks - 1]
    stage = bool(batch.settings.stage_dependent_estimates)
    bound = exploration.ucbvi_regret_bound(mdp.n_states, mdp.n_actions, mdp.horizon, ks, delta=config["delta"],
                                           stage_dependent=stage)
    rows = [pd.DataFrame({"run": i, "K": ks, "regret": cum[i], "bound": bound, "self_report_gap": gap,
                          "stage_dependent": stage}) for i in range(cum.shape[0])]
    return pd.concat(rows, ignore_index=True)


def _fits(frame):
    out = {}
    for name, g in frame.groupby("instance"):
        Y = g.pivot_table(index=["replicate", "run"], columns="K", values="regret").to_numpy()
        ks = np.sort(g["K"].unique())
        out[name] = (ks, Y, fit_power_law(ks, np.maximum(Y, 1e-12), tail_decades=1.0))
    return out


def _tail_measure(ctx) -> Outcome:
    K = ctx.pick(40_000, 1_000_000)
    grid = labkit.expand_grid(instance=["river_swim", "random"], agent=["bernstein"], n_episodes=[K],
                              n_runs=[ctx.pick(8, 20)], delta=[0.1])
    frame = ctx.sweep(_curve_run, grid, n_seeds=1)
    fits = _fits(frame)
    worst = max(fits, key=lambda k: fits[k][2].ci[1])
    fit = fits[worst][2]
    ratio = float((frame["regret"] / frame["bound"]).max())
    measured, ci = fit.estimate, fit.ci
    if not ratio <= 1.0:  # the bound is violated at some K: the check fails whatever the slope
        measured, ci = float("inf"), (float("inf"), float("inf"))
    slopes = ", ".join(f"{k}: {v[2].estimate:.3f} [{v[2].ci[0]:.3f}, {v[2].ci[1]:.3f}]" for k, v in fits.items())
    return Outcome(
        measured=measured, ci=ci, expected=0.5, relation="<=", tol=SLOPE_TOL, data=frame,
        details=f"tail slope (last decade, 90% bootstrap CI over runs) of the mean cumulative pseudo-regret of "
                f"UCBVI-BF (bonus_scale = 1, delta = 0.1), K = {K}, worst instance {worst}; all: {slopes}. "
                f"Largest Reg(K) / Theorem-1 bound over runs and checkpoints {ratio:.2e} (<= 1 required; "
                f"S' = S H for the stage-dependent instance). Pseudo-regret recomputed from the played "
                f"policies; the engine's own values differ by at most {frame.self_report_gap.max():.1e}.",
        extras={"slopes": {k: [v[2].estimate, *v[2].ci] for k, v in fits.items()}, "bound_ratio": ratio},
    )


def _curve_plot(result, *, theory_slope, label):
    from labkit.figures import BAND_CI, MARKERS, PALETTE, legend, subplots, theory_line

    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (name, g) in enumerate(result.data.groupby("instance")):
        Y = g.pivot_table(index=["replicate", "run"], columns="K", values="regret")
        ks = Y.columns.to_numpy(dtype=float)
        mean = Y.mean(axis=0).to_numpy()
        lo, hi = np.quantile(Y.to_numpy(), [0.05, 0.95], axis=0)
        color = PALETTE[i % len(PALETTE)]
        ax.plot(ks, mean, color=color, marker=MARKERS[i], markevery=6, label=f"{name} (mean)")
        ax.fill_between(ks, np.maximum(lo, 1e-3), np.maximum(hi, 1e-3), color=color, alpha=0.2, linewidth=0,
                        label="5-95% over runs")
        anchor = mean[-1] / ks[-1] ** theory_slope
        theory_line(ax, ks[ks >= ks[-1] / 10], anchor * ks[ks >= ks[-1] / 10] ** theory_slope, color=color,
                    label=label if i == 0 else "_" + label)
    del BAND_CI
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("episodes K")
    ax.set_ylabel("cumulative pseudo-regret")
    legend(ax, outside=True)
    return fig


def _tail_plot(result):
    return _curve_plot(result, theory_slope=0.5, label=r"slope 1/2 (theorem's upper rate)")


regret_tail_slope = register(Check(
    name="ucbvi.regret_tail_slope",
    paper=AOM17 + " (Theorems 1-2); docs/theory/exploration.md, section 'ucbvi.regret_tail_slope'",
    claim="UCBVI-BF at the theory bonus scale has cumulative regret below UCBVI's Theorem-1 bound at every K, "
          "growing no faster than sqrt(K) on the tail (fixed instances: RiverSwim, random stage-dependent MDP).",
    tag="U", family="exploration", cost=(6, 120),
    measure=_tail_measure, plot=_tail_plot,
))


def _greedy_measure(ctx) -> Outcome:
    K = ctx.pick(20_000, 200_000)
    grid = labkit.expand_grid(instance=["river_swim"], agent=["greedy"], n_episodes=[K], n_runs=[ctx.pick(8, 20)],
                              delta=[0.1])
    frame = ctx.sweep(_curve_run, grid, n_seeds=1)
    ks, Y, fit = _fits(frame)["river_swim"]
    return Outcome(
        measured=fit.estimate, ci=fit.ci, expected=1.0, relation=">=", tol=SLOPE_TOL, data=frame,
        details=f"tail slope (last decade, 90% bootstrap CI over runs) of the greedy control's cumulative "
                f"pseudo-regret on RiverSwim(3), H = 6, rewards estimated (0 before the first visit), "
                f"K = {K}: {fit.estimate:.3f} [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}]; mean final regret "
                f"{Y[:, -1].mean():.1f} of at most K V* = {K * float(mdps.backward_induction(instance('river_swim')).V[0, 0]):.1f}.",
        extras={"slope": [fit.estimate, *fit.ci]},
    )


def _greedy_plot(result):
    return _curve_plot(result, theory_slope=1.0, label="slope 1 (linear regret)")


greedy_linear = register(Check(
    name="ucbvi.greedy_linear",
    paper="Negative control for " + AOM17 + "; RiverSwim: Strehl & Littman 2008; docs/theory/exploration.md, "
          "section 'ucbvi.greedy_linear'",
    claim="Without a bonus (certainty-equivalence planning, rewards estimated) the agent is trapped at "
          "RiverSwim's left bank: its regret grows linearly in K.",
    tag="R", family="exploration", cost=(2, 20),
    measure=_greedy_measure, plot=_greedy_plot,
))


def optimistic_plans(mdp, states, policies, *, bonus_scale, log_term, stage_dependent) -> np.ndarray:
    r"""UCBVI-BF's optimistic values ``Vbar_k`` ``(K, H + 1, S)`` rebuilt from one run's trajectories.

    Azar, Osband, Munos 2017 (arXiv:1703.05449), Algorithm 4 with known rewards, as documented
    in :mod:`algorithms.exploration.engine`: before episode ``k`` the counts ``N_h(s, a, y)`` of
    episodes ``0..k-1`` (pooled over stages unless ``stage_dependent``) give ``P^`` (uniform where
    ``N = 0``), ``n = max(1, N)`` and, for ``h = H-1, ..., 0``,

    .. math:: \bar V_{k,h}(s) = \max_a \min\big(H - h,\; r_h(s,a) + \hat P \bar V_{k,h+1}(s,a) + b\big),

    :math:`b = c\,[\sqrt{8 L \mathrm{Var}_{\hat P}(\bar V_{k,h+1})/n} + 14 H L/(3n)
    + \sqrt{8 \sum_y \hat P(y) \min(84^2 H^3 S'^2 A L^2/\max(1, N'_{h+1}(y)), H^2)/n}]`
    (only :math:`14 H L / (3 n)` at ``h = H - 1``, where :math:`\bar V_H = 0`), ``N'_{h+1}(y)``
    the visits to ``y`` at stage ``h + 1`` (pooled: all visits), ``S' = S`` pooled, ``S H`` else.
    The episode's actions are ``policies[k, h, states[k, h]]``. An independent NumPy rebuild:
    the engine's compiled planner is not used.
    """
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    K = states.shape[0]
    Hs = H if stage_dependent else 1
    R = np.broadcast_to(mdp.R, (H, S, A))
    L, c = float(log_term), float(bonus_scale)
    s_eff = S * H if stage_dependent else S
    big = 84.0**2 * H**3 * s_eff**2 * A * L**2
    counts = np.zeros((Hs, S, A, S))
    out = np.zeros((K, H + 1, S))
    rows = np.arange(H)
    for k in range(K):
        V = out[k]
        for h in range(H - 1, -1, -1):
            hh = h if stage_dependent else 0
            Nsa = counts[hh].sum(axis=-1)
            n = np.maximum(Nsa, 1.0)
            Phat = np.where(Nsa[..., None] > 0, counts[hh] / n[..., None], 1.0 / S)
            pv = Phat @ V[h + 1]
            if h == H - 1:
                b = c * 14.0 * H * L / (3.0 * n)
            else:
                hn = h + 1 if stage_dependent else 0
                var = np.einsum("say,say->sa", Phat, (V[h + 1][None, None, :] - pv[..., None]) ** 2)
                corr = Phat @ np.minimum(big / np.maximum(counts[hn].sum(axis=(1, 2)), 1.0), float(H * H))
                b = c * (np.sqrt(8.0 * L * var / n) + 14.0 * H * L / (3.0 * n) + np.sqrt(8.0 * corr / n))
            V[h] = np.minimum(R[h] + pv + b, float(H - h)).max(axis=1)
        st = states[k].astype(np.int64)
        acts = policies[k, rows, st[:H]].astype(np.int64)
        np.add.at(counts, (rows if stage_dependent else np.zeros(H, dtype=np.int64), st[:H], acts, st[1:]), 1.0)
    return out


def _optimism_run(config, rng):
    mdp = instance(config["instance"])
    K = config["n_episodes"]
    batch = exploration.ucbvi(mdp, n_episodes=K, bonus="bernstein", bonus_scale=1.0, delta=config["delta"],
                              keep_policies=True, keep_trajectories=True, n_runs=config["n_runs"], rng=rng)
    st = batch.settings
    V_star = mdps.backward_induction(mdp).V  # (H + 1, S)
    H = mdp.horizon
    v_star = float(mdp.rho @ V_star[0])
    ks = labkit.checkpoints(K, 30, first=1)
    rows = []
    for i in range(batch.values.shape[0]):
        Vbar = optimistic_plans(mdp, batch.states[i], batch.policies[i], bonus_scale=st.bonus_scale,
                                log_term=st.log_term, stage_dependent=st.stage_dependent_estimates)
        rebuilt = Vbar[:, 0, :] @ mdp.rho
        reported = batch.optimistic_values[i]
        margin = (Vbar[:, :H, :] - V_star[None, :H, :]).min(axis=(1, 2))  # optimism margin per episode
        rows.append(pd.DataFrame({
            "run": i, "k": ks, "surplus": (reported - v_star)[ks - 1], "margin": margin[ks - 1],
            "run_min_margin": float(margin.min()), "report_gap": float(np.abs(rebuilt - reported).max()),
            "clip_excess": float((reported - H).max()), "v_star": v_star, "horizon": H}))
    return pd.concat(rows, ignore_index=True)


def _binomial_margin(n: int, delta: float, level: float = 0.999) -> float:
    """``q / n - delta``, ``q`` the ``level`` quantile of Binomial(n, delta) (a one-sided margin)."""
    from scipy.stats import binom

    return float(binom.ppf(level, n, delta)) / n - delta


def _optimism_measure(ctx) -> Outcome:
    delta = 0.1
    K = ctx.pick(300, 5_000)
    K_short = ctx.pick(3_000, 30_000)
    n_runs = ctx.pick(12, 100)
    grid = (labkit.expand_grid(instance=["river_swim", "random"], n_episodes=[K], n_runs=[n_runs], delta=[delta])
            + labkit.expand_grid(instance=["short"], n_episodes=[K_short], n_runs=[n_runs], delta=[delta]))
    frame = ctx.sweep(_optimism_run, grid, n_seeds=1)
    per_run = frame.groupby(["instance", "replicate", "run"]).first()
    n = len(per_run)
    failed = int((per_run["run_min_margin"] < -1e-9).sum())
    fraction = failed / n
    gap = float(per_run["report_gap"].max())
    clip = float(per_run["clip_excess"].max())
    tol = _binomial_margin(n, delta)
    measured = fraction
    if not (gap <= 1e-9 and clip <= 1e-12):  # the engine's plan is not Algorithm 4's, or exceeds the clip
        measured = float("inf")
    return Outcome(
        measured=measured, ci=(measured, measured), expected=delta, relation="<=", tol=tol, data=frame,
        interval="exact count over runs",
        details=f"UCBVI-BF (bonus_scale = 1, delta = {delta}), {n} runs over RiverSwim(3) H = 6 and a random "
                f"stage-dependent MDP (S = 3, A = 2, H = 4), K = {K}, and a random stationary MDP with H = 2 "
                f"(K = {K_short}, where the plan leaves the clip): optimism Vbar_(k,h)(s) >= V*_h(s) failed "
                f"somewhere in {failed} of {n} runs (at most delta = {delta} + binomial margin {tol:.3f} "
                f"allowed); smallest margin min_(k,h,s) Vbar - V* = {per_run['run_min_margin'].min():.3g}. "
                f"Plans rebuilt by the check from the visited trajectories; the engine's reported rho.Vbar_(k,0) "
                f"differ by at most {gap:.1e} (<= 1e-9 required) and exceed the clip H by at most {clip:.3g} "
                f"(<= 0 required).",
        extras={"failed_runs": failed, "n_runs": n, "report_gap": gap, "clip_excess": clip},
    )


_OPTIMISM_LABELS = {"river_swim": "RiverSwim(3), H = 6", "random": "random, H = 4", "short": "random, H = 2"}


def _optimism_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    for i, name in enumerate(["river_swim", "random", "short"]):
        g = result.data[result.data["instance"] == name]
        if g.empty:
            continue
        span = float(g["horizon"].iloc[0] - g["v_star"].iloc[0])  # H - V*: the clip, as a surplus
        Y = g.pivot_table(index=["replicate", "run"], columns="k", values="surplus") / span
        ks = Y.columns.to_numpy(dtype=float)
        color = PALETTE[i % len(PALETTE)]
        ax.plot(ks, Y.mean(axis=0).to_numpy(), color=color, marker=MARKERS[i], markevery=6,
                label=_OPTIMISM_LABELS[name] + " (mean)")
        ax.plot(ks, Y.min(axis=0).to_numpy(), color=color, linestyle=":",
                label="min over runs (dotted)" if i == 0 else "_min")
    reference_line(ax, 0.0, label="optimism: Vbar >= V* (theorem)")
    reference_line(ax, 1.0, label="clip: Vbar <= H", color="0.5")
    ax.set_xscale("log")
    ax.set_ylim(-0.08, 1.12)
    ax.set_xlabel("episode k")
    ax.set_ylabel(r"$(\bar V_{k,0}(\rho) - V^*) / (H - V^*)$")
    legend(ax, outside=True, ncols=2, bbox_to_anchor=(0.5, -0.25))
    return fig


optimism = register(Check(
    name="ucbvi.optimism",
    paper=AOM17 + " (optimism of UCBVI-BF's values on the good event, Algorithm 4); docs/theory/exploration.md, "
          "section 'ucbvi.optimism'",
    claim="UCBVI-BF's optimistic values dominate V* at every episode, stage and state in all but a delta "
          "fraction of runs, never exceed the clip H - h, and the values the engine reports are Algorithm 4's "
          "plan on the trajectories it played.",
    tag="U", family="exploration", cost=(5, 120),
    measure=_optimism_measure, plot=_optimism_plot,
))
