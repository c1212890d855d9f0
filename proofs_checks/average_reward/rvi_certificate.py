r"""Relative value iteration's Odoni certificate: the gain bracket contains the exact optimal gain, shrinks at the
span-contraction rate, and the greedy policy's exact gain is certified by it.

Odoni (1969, Oper. Res. 17(5)) and Puterman (1994, Sec. 8.5.3, Thm 8.5.5; Sec. 8.5.5): for any ``u`` in a finite
MDP, :math:`L(u) = \min_s (Tu - u)(s) \le g^*(s) \le \max_s (Tu - u)(s) = U(u)` and the greedy policy
:math:`\pi_u` has :math:`g^{\pi_u}(s) \ge L(u)`. RVI (:func:`mdps.relative_value_iteration`, aperiodicity
transform :math:`\tilde P = (1-\tau) I + \tau P`) stops when :math:`U - L < \mathrm{tol}` and returns the bracket
at its final ``u``, the greedy policy's exact per-state gain and ``holds`` in ``Solution.certificate``. With the
Dobrushin coefficient :math:`\delta` of :math:`\tilde P`,
:math:`\mathrm{sp}(\tilde T u_{k+1} - u_{k+1}) \le \delta\,\mathrm{sp}(\tilde T u_k - u_k)` (Puterman Sec. 6.6.1,
8.5.2), so the width obeys :math:`U_k - L_k \le \delta^k (U_0 - L_0)` and RVI stops after at most
:math:`1 + \lceil \log(\mathrm{tol}\,\tau / r_0) / \log \delta \rceil` sweeps (:math:`r_0` the first transformed span).

* ``rvi.odoni_certificate`` **[R]**: on full-support Garnets (``tau`` 0.5 and 1), sparse Garnets, RiverSwim,
  Jaksch et al.'s two-state instance, a periodic 2-cycle and RiverSwim with a state transient under every policy,
  the check recomputes from what RVI returned -- its iterates and final bias -- (i) ``L_k <= g* <= U_k`` at every
  sweep, with ``Tu`` written out here and ``g*`` the gain LP's (:func:`mdps.average_reward_lp`; cross-checked
  against the multichain LP, :func:`mdps.multichain_gain`, which must be constant); (ii) the returned
  certificate's bracket equals the recomputed one at the returned bias, its width is ``< tol`` and ``holds`` is
  ``True``; (iii) the greedy policy's gain at every state, by the multichain LP on the one-action model
  ``(P_pi, r_pi)`` (independent of :func:`mdps.policy_gain`'s linear algebra), equals the certificate's
  ``policy_gain`` and lies in ``[L, g*]``; (iv) the sweep count is at most the contraction-rate bound above
  (where :math:`\delta < 1`). Negative control: on a model with one set closed under every policy (so RVI's
  multichain refusal lets it through) but state-dependent :math:`g^*(s)`, run for ``TRAP_SWEEPS`` sweeps, every
  :math:`g^*(s)` (multichain LP) stays inside every bracket and the certificate fails *with* a
  :class:`mdps.GainCertificateWarning` (never a silently wrong gain). Measured: the largest violation in units of
  its tolerance, expected ``<= 1``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case

__all__ = ["odoni_certificate"]

ODONI = ("A. R. Odoni 1969, On finding the maximal gain for Markov decision processes, Oper. Res. 17(5); "
         "M. L. Puterman 1994, Markov Decision Processes, Wiley, Sec. 8.5 (Thm 8.5.5)")
TOL = 1e-9  # RVI's gain accuracy
#: round-off of Tu - u on iterates of size ||u|| <= sp(u*) ~ 10: a few ulp of 10
BRACKET_TOL = 1e-12
#: HiGHS's LP tolerances (primal/dual feasibility 1e-7) on rewards in [0, 1]
LP_TOL = 1e-7
#: sweeps given to RVI on the instance with no single optimal gain (its bracket never shrinks)
TRAP_SWEEPS = 300
INSTANCES = ("garnet_full", "garnet_full_tau1", "garnet_sparse", "river_swim", "jao", "two_cycle", "transient")


def _instance(name, config, rng):
    S = config["S"]
    if name.startswith("garnet_full"):
        return mdps.garnet(S, 3, S, rng=rng).with_criterion()
    if name == "garnet_sparse":  # every state reaches every other through the branching support: communicating
        return mdps.garnet(S, 3, 3, rng=rng).with_criterion()
    if name == "river_swim":
        return mdps.river_swim(S)
    if name == "jao":
        return mdps.jao(0.1, 0.05, 2)
    if name == "two_cycle":
        return mdps.TabularMDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), np.array([[1.0], [0.0]]))
    # RiverSwim plus a state that every action leaves for state 0 (transient under every policy): weakly communicating
    base = mdps.river_swim(S)
    P = np.zeros((S + 1, 2, S + 1))
    P[:S, :, :S] = base.P
    P[S, :, 0] = 1.0
    R = np.vstack([base.R, [[0.5, 0.5]]])
    return mdps.TabularMDP(P, R)


def _dobrushin(P, tau):
    S = P.shape[0]
    rows = ((1 - tau) * np.eye(S)[:, None, :] + tau * P).reshape(-1, S)
    return float(1.0 - np.minimum(rows[:, None, :], rows[None, :, :]).sum(axis=-1).min())


def _trap():
    """Not weakly communicating, yet only one set ({S-1}) is closed under every policy, so RVI's multichain
    refusal lets it through: state ``s < S-1`` can stay (reward 1 - s / S) or move right (reward 0); the last
    state is absorbing with reward 0. ``g*(s) = 1 - s / S`` for ``s < S-1`` and ``g*(S-1) = 0``."""
    S = 4
    P = np.zeros((S, 2, S))
    R = np.zeros((S, 2))
    for s in range(S - 1):
        P[s, 0, s] = 1.0
        P[s, 1, s + 1] = 1.0
        R[s, 0] = 1.0 - s / S
    P[S - 1, :, S - 1] = 1.0
    return mdps.TabularMDP(P, R)


def _trap_run():
    """The negative control: the certificate must fail, and say so (GainCertificateWarning)."""
    mdp = _trap()
    g_all = mdps.multichain_gain(mdp)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = mdps.relative_value_iteration(mdp, tol=TOL, max_iter=TRAP_SWEEPS, keep_iterates=True)
    warned = any(issubclass(w.category, mdps.GainCertificateWarning) for w in caught)
    U = np.asarray(sol.trace["iterates"])
    diffs = (mdp.R[None] + np.einsum("sat,kt->ksa", mdp.P, U)).max(axis=2) - U
    lo, hi = diffs.min(axis=1), diffs.max(axis=1)
    run = {c: -np.inf for c in COLUMNS}
    run.update({"tau": 0.5, "delta": _dobrushin(mdp.P, 0.5), "g_star": float("nan"), "n_iter": int(sol.n_iter),
                "sweep_bound": -1,
                # every g*(s) lies in every bracket (Odoni holds in any finite MDP) ...
                "bracket_misses_gstar": float(max((lo - g_all.min()).max(), (g_all.max() - hi).max())) / BRACKET_TOL,
                # ... but no single gain is right: the certificate must fail, with a GainCertificateWarning
                "silent_wrong_gain": 0.0 if (warned and not sol.certificate["holds"]) else np.inf})
    return [dict(run, k=k, lower=float("nan"), upper=float("nan"), width=float(hi[k] - lo[k])) for k in range(len(lo))]


def _run(config, rng):
    name = config["instance"]
    if name == "trap":
        return _trap_run()
    tau = 1.0 if name.endswith("tau1") else 0.5
    mdp = _instance(name, config, rng)
    P, R = np.asarray(mdp.P), mdp.R
    S = mdp.n_states
    if not mdps.is_communicating(mdp) and name not in ("transient",):
        return []  # a sparse Garnet that happens not to be communicating: not in the theorem's scope here
    g_star = float(mdps.average_reward_lp(mdp).gain)
    g_multi = mdps.multichain_gain(mdp)
    sol = mdps.relative_value_iteration(mdp, tol=TOL, tau=tau, keep_iterates=True)
    U = np.asarray(sol.trace["iterates"])
    diffs = (R[None] + np.einsum("sat,kt->ksa", P, U)).max(axis=2) - U  # (n_iter, S): T u_k - u_k
    lo, hi = diffs.min(axis=1), diffs.max(axis=1)
    u = np.asarray(sol.bias)
    d = (R + P @ u).max(axis=1) - u
    cert = sol.certificate
    pi = np.asarray(sol.policy)
    P_pi, r_pi = P[np.arange(S), pi], R[np.arange(S), pi]
    g_pi = mdps.multichain_gain(mdps.TabularMDP(P_pi[:, None, :], r_pi[:, None]))
    delta = _dobrushin(P, tau)
    r0 = float(sol.residuals[0])
    bound = (1 + math.ceil(math.log(TOL * tau / r0) / math.log(delta))) if (0 < delta < 1 and r0 > TOL * tau) else None
    if delta == 0.0:
        bound = 2
    run = {
        "tau": tau, "delta": delta, "g_star": g_star, "n_iter": int(sol.n_iter),
        "sweep_bound": -1 if bound is None else bound,
        "bracket_misses_gstar": float(max((lo - g_star).max(), (g_star - hi).max())) / BRACKET_TOL,
        "multichain_not_constant": float(np.abs(g_multi - g_star).max()) / LP_TOL,
        "certificate_mismatch": max(abs(cert["gain_lower"] - d.min()), abs(cert["gain_upper"] - d.max())) / BRACKET_TOL,
        "width_over_tol": float(cert["width"]) / TOL,
        "not_holding": 0.0 if cert["holds"] else np.inf,
        "policy_gain_mismatch": float(np.abs(np.asarray(cert["policy_gain"]) - g_pi).max()) / LP_TOL,
        "policy_gain_outside": float(max((cert["gain_lower"] - g_pi).max(), (g_pi - g_star).max())) / LP_TOL,
        "sweeps_over_bound": (sol.n_iter / bound) if bound is not None else -np.inf,
        "silent_wrong_gain": -np.inf,
    }
    return [dict(run, k=k, lower=float(lo[k] - g_star), upper=float(hi[k] - g_star), width=float(hi[k] - lo[k]))
            for k in range(len(lo))]


COLUMNS = ("bracket_misses_gstar", "multichain_not_constant", "certificate_mismatch", "width_over_tol",
           "not_holding", "policy_gain_mismatch", "policy_gain_outside", "sweeps_over_bound", "silent_wrong_gain")


def _measure(ctx) -> Outcome:
    grid = [{"instance": i, "S": s} for i in INSTANCES for s in ctx.pick([6, 12], [6, 12, 30, 60])
            if not (i in ("jao", "two_cycle") and s != 6)] + [{"instance": "trap", "S": 4}]
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 10))
    last = frame.groupby("run_key").tail(1)
    units = last[list(COLUMNS)].max(axis=1).to_numpy()
    top = last[list(COLUMNS)].max()
    return worst_case(
        units, "<=", 1.0, 0.0, frame,
        f"max over {len(last)} RVI runs ({', '.join(INSTANCES)}; tol = {TOL:g}) of the largest violation in units of "
        f"its tolerance: the bracket [L_k, U_k] (Tu - u recomputed at every iterate) missing the LP's g* "
        f"({top.bracket_misses_gstar:.2g}, unit {BRACKET_TOL:g}), the multichain LP's g*(s) not constant "
        f"({top.multichain_not_constant:.2g}, unit {LP_TOL:g}), the certificate's bracket vs the one recomputed at "
        f"the returned bias ({top.certificate_mismatch:.2g}), its width / tol ({top.width_over_tol:.2g}), holds "
        f"False (inf if so), the certificate's policy_gain vs the multichain LP on (P_pi, r_pi) "
        f"({top.policy_gain_mismatch:.2g}), that gain outside [L, g*] ({top.policy_gain_outside:.2g}), and sweeps / "
        f"the contraction-rate bound 1 + ceil(log(tol tau / r_0) / log delta) ({top.sweeps_over_bound:.2g}; "
        f"delta in [{last.delta.min():.3f}, {last.delta.max():.3f}], the bound only where delta < 1); negative "
        f"control (a model with one closed set but g*(s) = 1 - s/4 or 0, {TRAP_SWEEPS} sweeps): every g*(s) stays in "
        f"the bracket and the certificate fails with a GainCertificateWarning "
        f"({'yes' if (last[last.instance == 'trap'].silent_wrong_gain <= 0).all() else 'NO: silent'}).",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots, theory_line

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    # instances with 0 < delta < 1 (delta = 0, the 2-cycle, has width 0 after one sweep; delta = 1 gives no rate)
    shown = [i for i in INSTANCES if i in set(frame.instance) and 0.0 < frame[frame.instance == i].delta.max() < 1.0]
    for i, name in enumerate(shown):
        g = frame[(frame.instance == name) & (frame.replicate == 0)]
        g = g[g.S == g.S.min()].sort_values("k")
        w = g.width.to_numpy()
        k = g.k.to_numpy()
        label = name.replace("_tau1", r" ($\tau = 1$)").replace("_", " ")
        ax.plot(k, w / w[0], marker=MARKERS[i % len(MARKERS)], markersize=2.5,
                color=PALETTE[i % len(PALETTE)], label=label)
        delta = float(g.delta.iloc[0])
        if delta > 0:
            theory_line(ax, k, delta ** k, label=r"theorem: $\delta^k$ (one per instance)",
                        color=PALETTE[i % len(PALETTE)], linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("sweep k")
    ax.set_ylabel(r"bracket width $(U_k - L_k) / (U_0 - L_0)$")
    legend(ax, outside=True, ncols=2)
    return fig


odoni_certificate = register(Check(
    name="rvi.odoni_certificate",
    paper=ODONI,
    claim="RVI's Odoni bracket min(Tu - u) <= g* <= max(Tu - u) contains the exact optimal gain at every sweep, shrinks "
          "at the span-contraction rate, and its returned certificate (bracket at the final bias, the greedy "
          "policy's exact gain in it) holds, and fails with a GainCertificateWarning where no single optimal gain "
          "exists (Odoni 1969; Puterman Thm 8.5.5).",
    tag="R", family="average_reward", cost=(4, 40),
    measure=_measure, plot=_plot,
))
