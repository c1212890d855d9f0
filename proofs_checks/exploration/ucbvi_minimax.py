r"""UCBVI's :math:`\sqrt K` regret on the lower-bound family rebuilt for each K, with a level test that
a non-learning agent fails.

References: M. G. Azar, I. Osband, R. Munos, *Minimax Regret Bounds for RL*, ICML 2017, arXiv
1703.05449 (UCBVI-CH, Theorem 1); O. D. Domingues, P. Menard, E. Kaufmann, M. Valko, *Episodic RL in
Finite MDPs: Minimax Lower Bounds Revisited*, ALT 2021, arXiv 2010.03531 (the lower-bound family: one
arm better by :math:`\epsilon \approx \sqrt{SAH/K}`); P. Auer, N. Cesa-Bianchi, Y. Freund, R. Schapire,
*The nonstochastic multiarmed bandit problem*, SIAM J. Comput. 2002 (the bandit form of the same
construction). Derivations: docs/theory/exploration.md.

``ucbvi.minimax_sqrt_k`` **[U]** (the instance is the bandit form of the lower-bound construction,
the level bound a lab derivation with a factor-2 margin). On the rebuilt family every agent's regret
lies between the minimax lower bound and :math:`K\Delta_K`, both :math:`\propto\sqrt K`, so a slope
test alone cannot fail; the check has two clauses.

(i) Two-sided slope. For each ``K`` the instance is :func:`instance` with ``A`` arms, the last one
    better by :math:`\Delta_K = c\sqrt{A/K}` (``c =`` :data:`C_GAP`). UCBVI-CH with the practical bonus
    :math:`B_0/\sqrt n` (``bonus_scale = B0/(7 H L(K))``, so no :math:`\log K` enters the bonus) plays
    each worse arm about :math:`B_0^2/\Delta_K^2` times, regret :math:`\approx (A-1) B_0^2/\Delta_K
    \propto \sqrt K`. The fitted log-log slope of the mean final regret in ``K`` (90% bootstrap CI over
    runs) must overlap :math:`[1/2 - 0.1, 1/2 + 0.1]` (the lab's tail-fit tolerance). An instance that
    is not rebuilt (a fixed gap) gives a bounded regret, slope near 0.
(ii) Level. Uniform play has regret exactly :math:`K\Delta_K(A-1)/A`; the learner's ratio to it is
    about :math:`(A-1)B_0^2/\Delta_K \,/\, (K\Delta_K(A-1)/A) = A B_0^2/(K\Delta_K^2) = B_0^2/c^2 = 1/4`
    (``B0 = 2``, ``c = 4``: the instance is identifiable within ``K``). The upper end of the 90%
    bootstrap CI of the ratio at every ``K`` must be at most :data:`LEVEL` ``= 1/2`` (a factor 2 for the
    constant of the "about"). An agent that does not learn (uniform play, a bonus that does not decay,
    a planner that picks the worst action) has ratio near or above 1.

Regret: exact pseudo-regret recomputed from the played policies (:func:`ucbvi.audited_regret`),
never the engine's own values. Seeds: 16 runs per ``K`` quick (one sweep replicate), 64 full.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import exploration
from algorithms.exploration.engine import log_term
from labkit.check import Check, Outcome, register
from mdps import validation as V

from proofs_checks.exploration.bpi_rates import exact_reg_values, instance as graded_instance
from proofs_checks.exploration.ucbvi import AOM17, audited_regret

__all__ = ["minimax_sqrt_k", "instance", "gap", "uniform_regret"]

N_ARMS = 4
P_BASE = 0.5
C_GAP = 4.0
B0 = 2.0
DELTA = 0.1
LEVEL = 0.5
SLOPE_TOL = 0.1
D21 = "O. D. Domingues, P. Menard, E. Kaufmann, M. Valko 2021, Minimax Lower Bounds Revisited, arXiv:2010.03531"


def gap(n_episodes, n_arms=N_ARMS, c=C_GAP) -> float:
    r""":math:`\Delta_K = c\sqrt{A/K}`, the best arm's advantage in the instance rebuilt for ``K``."""
    K = V.check_int(n_episodes, "n_episodes", low=1)
    A = V.check_int(n_arms, "n_arms", low=2)
    c = V.check_real(c, "c", low=0.0, low_open=True)
    d = c * np.sqrt(A / K)
    if d > 1.0 - P_BASE:
        raise ValueError(f"n_episodes = {K} is too small for c = {c}: the gap c sqrt(A/K) = {d:.3g} exceeds "
                         f"1 - {P_BASE}")
    return float(d)


def instance(n_episodes, n_arms=N_ARMS, c=C_GAP):
    """The lower-bound family's member for ``K`` episodes: the graded-gap MDP (``H = 2``, ``S = 3``)
    with ``n_arms`` arms reaching the rewarding state w.p. 1/2, except the last (optimal) one,
    w.p. ``1/2 + gap(K)``."""
    d = gap(n_episodes, n_arms, c)
    return graded_instance(np.full(n_arms - 1, d), P_BASE + d)


def uniform_regret(mdp, n_episodes) -> float:
    """Exact regret of uniform play over ``K`` episodes: ``K (V* - V^unif)`` by exact evaluation."""
    K = V.check_int(n_episodes, "n_episodes", low=1)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    return K * (v_star - float(exact_reg_values(mdp, np.full((H, S, A), 1.0 / A), np.full((H, S, A), 1.0 / A), 0.0)))


def _run(config, rng):
    K = int(config["K"])
    mdp = instance(K)
    L = log_term(mdp.n_states, mdp.n_actions, mdp.horizon, K, DELTA, stage_dependent=bool(mdp.stage_dependent))
    batch = exploration.ucbvi(mdp, n_episodes=K, bonus="hoeffding", bonus_scale=B0 / (7.0 * mdp.horizon * L),
                              delta=DELTA, keep_policies=True, n_runs=config["n_runs"], rng=rng)
    regret, self_gap = audited_regret(mdp, batch)
    final = regret.sum(axis=1)
    return pd.DataFrame({"run": np.arange(final.size), "regret": final, "uniform": uniform_regret(mdp, K),
                         "gap": gap(K), "self_report_gap": self_gap})


def _frame(ctx) -> pd.DataFrame:
    ks = [2000, 4000, 8000, 16000, 32000] if ctx.pick(True, False) else [2000, 4000, 8000, 16000, 32000, 64000, 128000]
    grid = labkit.expand_grid(K=ks, n_runs=[ctx.pick(16, 64)])
    return ctx.sweep(_run, grid, n_seeds=1)


def _stats(frame, seed):
    Y = frame.pivot_table(index=["replicate", "run"], columns="K", values="regret")
    ks = Y.columns.to_numpy(dtype=float)
    R = Y.to_numpy(dtype=float)
    fit = labkit.fit_power_law(ks, np.maximum(R, 1e-12), tail_decades=np.log10(ks[-1] / ks[0]) + 1e-9, rng=seed)
    unif = frame.groupby("K").uniform.first().reindex(Y.columns).to_numpy(dtype=float)
    gen = np.random.default_rng(seed)
    boot = R[gen.integers(0, R.shape[0], size=(2000, R.shape[0]))].mean(axis=1) / unif
    ratio_hi = np.quantile(boot, 0.95, axis=0)
    return ks, R, unif, fit, R.mean(axis=0) / unif, ratio_hi


def _measure(ctx) -> Outcome:
    frame = _frame(ctx)
    ks, R, unif, fit, ratio, ratio_hi = _stats(frame, ctx.seed)
    level_ok = bool(np.all(ratio_hi <= LEVEL))
    measured, ci = fit.estimate, fit.ci
    if not level_ok:  # the agent does not learn at some K: the check fails whatever the slope
        measured, ci = float("inf"), (float("inf"), float("inf"))
    return Outcome(
        measured=measured, ci=ci, expected=0.5, relation="==", tol=SLOPE_TOL, data=frame,
        details=f"(i) log-log slope of UCBVI-CH's mean final pseudo-regret in K over K = {[int(k) for k in ks]} on "
                f"the instance rebuilt for each K (gap {C_GAP:g} sqrt({N_ARMS}/K), {N_ARMS} arms): "
                f"{fit.estimate:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}] (90% bootstrap CI over {R.shape[0]} runs), "
                f"must overlap [0.4, 0.6]; (ii) ratio of its mean regret to uniform play's exact regret "
                + ", ".join(f"{int(k)}: {r:.3f} (hi {h:.3f})" for k, r, h in zip(ks, ratio, ratio_hi))
                + f", every upper 95% end must be <= {LEVEL} ({'holds' if level_ok else 'VIOLATED'}; the learner's "
                f"expected ratio is B0^2/c^2 = {B0 ** 2 / C_GAP ** 2:.2f}). Mean final regret "
                + ", ".join(f"{m:.1f}" for m in R.mean(axis=0))
                + f"; the engine's own values differ from the exact ones by at most {frame.self_report_gap.max():.1e}.",
        extras={"slope": [fit.estimate, *fit.ci], "ratio": ratio.tolist(), "ratio_hi": ratio_hi.tolist()},
    )


def _plot(result):
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from labkit.figures import BAND_CI, MARKERS, PALETTE, figure_legend, subplots, theory_line

    frame = result.data
    Y = frame.pivot_table(index=["replicate", "run"], columns="K", values="regret")
    ks = Y.columns.to_numpy(dtype=float)
    R = Y.to_numpy(dtype=float)
    unif = frame.groupby("K").uniform.first().reindex(Y.columns).to_numpy(dtype=float)
    gen = np.random.default_rng(0)
    boot = R[gen.integers(0, R.shape[0], size=(2000, R.shape[0]))].mean(axis=1)
    lo, hi = np.quantile(boot, [0.05, 0.95], axis=0)
    mean = R.mean(axis=0)
    fig, axes = subplots(1, 2)
    ax = axes[0, 0]
    ax.fill_between(ks, lo, hi, color=PALETTE[0], alpha=0.25, linewidth=0, label=BAND_CI)
    ax.plot(ks, mean, marker=MARKERS[0], color=PALETTE[0], markersize=3, label="UCBVI-CH (mean final regret)")
    ax.plot(ks, unif, marker=MARKERS[1], color=PALETTE[1], markersize=3, label="uniform play (exact)")
    theory_line(ax, ks, mean[0] * (ks / ks[0]) ** 0.5, label=r"slope $1/2$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("episodes K (instance rebuilt for each K)")
    ax.set_ylabel("pseudo-regret")
    ax = axes[0, 1]
    ax.fill_between(ks, lo / unif, hi / unif, color=PALETTE[0], alpha=0.25, linewidth=0, label="_band")
    ax.plot(ks, mean / unif, marker=MARKERS[0], color=PALETTE[0], markersize=3, label="_ratio")
    theory_line(ax, ks, np.full_like(ks, LEVEL), label=f"level bound {LEVEL:g}", linestyle="-.")
    theory_line(ax, ks, np.full_like(ks, B0 ** 2 / C_GAP ** 2), label=r"$B_0^2/c^2$ (learner, approx.)",
                linestyle=":")
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("episodes K")
    for ax in axes[0]:  # the K grid as ticks ("2k", ...): default minor labels collide on a short log axis
        ax.xaxis.set_major_locator(FixedLocator(ks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("regret / uniform play's regret")
    figure_legend(fig, axes)
    return fig


minimax_sqrt_k = register(Check(
    name="ucbvi.minimax_sqrt_k",
    paper=AOM17 + " (Theorem 1); lower-bound family: " + D21,
    claim="On the lower-bound family rebuilt for each K (one arm better by c sqrt(A/K)), UCBVI-CH's final regret "
          "grows like sqrt(K) (slope CI overlaps [0.4, 0.6]) and stays below half of uniform play's exact regret "
          "at every K (a learner's ratio is about B0^2/c^2 = 1/4; a non-learner's about 1).",
    tag="U", family="exploration", cost=(4, 120),
    measure=_measure, plot=_plot,
))
