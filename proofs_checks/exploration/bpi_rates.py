r"""Best-policy identification against the target accuracy: episodes until the recommended policy is
:math:`\epsilon`-optimal, as a function of :math:`\epsilon`, for unregularised BPI (the control) and
for KL-regularised BPI at a fixed :math:`\lambda`.

Papers: D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov, P. Perrault,
M. Valko, P. Menard, *Demonstration-Regularized RL*, ICLR 2024, arXiv 2310.17303 (Theorem 5: the
regularised BPI costs :math:`\tilde O(\mathrm{Poly}/(\lambda\epsilon))` episodes, the fast rate; the
unregularised BPI cost :math:`\tilde O(H^3SA/\epsilon^2)` they compare with); M. G. Azar, I. Osband,
R. Munos, *Minimax Regret Bounds for RL*, ICML 2017, arXiv 1703.05449 (the UCBVI-CH bonus the agents
use). Algorithms: :func:`algorithms.exploration.unregularized_bpi` and
:func:`algorithms.exploration.demo_regularized_bpi` (lab reconstructions, provenance [U]); derivations
and the instance: docs/theory/exploration.md.

``bpi.epsilon_rate`` **[A]** (the two rates were read at abstract / theorem-statement level). The
oracle measurement: each run keeps the policies it played at ~300 log-spaced episodes; the check
evaluates every kept policy itself, exactly, in the true MDP (:func:`exact_reg_values`, backward
evaluation; the algorithm's own stopping statistic and its self-reported values are never read) and
records :math:`T_\epsilon`, the first kept episode from which every later kept policy is
:math:`\epsilon`-optimal (:func:`proofs_checks.exploration.demo_bpi.episodes_to_eps`). The curve fitted
is the **median** of :math:`T_\epsilon` over runs: the bounds are high-probability statements
(:math:`T_\epsilon \le B(\epsilon)` with probability :math:`\ge 1 - \delta`, so the median is below
:math:`B(\epsilon)` for :math:`\delta \le 1/2`), and at the practical bonus scale a few runs fall in the
failure event (the optimal arm underestimated early, a near-optimal one played for thousands of
episodes), a heavy upper tail that makes the mean's slope a lottery.

(a) Unregularised BPI, gap :math:`V^* - V^{\pi^k}`: the upper bound :math:`\tilde O(H^3SA/\epsilon^2)`
    means the log-log slope of the median :math:`T_\epsilon` in :math:`\epsilon` is not steeper than
    :math:`-2`: the lower end of its 90% bootstrap CI (over runs) must be :math:`\ge -2 - \mathrm{tol}`.
    The tolerance is for the logarithmic factors the :math:`\tilde O` hides: one factor
    :math:`\ln(1/\epsilon)` steepens the local slope by :math:`1/\ln(1/\epsilon)`; ``tol`` is that
    factor's own fitted slope over grid (a) (:func:`log_factor_slope`: 0.41 on the quick grid
    :math:`[0.026, 0.21]`, 0.37 on the full one), computed from the grid, not from a run.
(b) Regularised BPI at fixed :math:`\lambda`, reference the clone of :data:`N_E` demonstrations, gap to
    the exact regularised optimum :math:`J_\lambda(\pi^*_\lambda) - J_\lambda(\pi^k)`
    (:func:`algorithms.exploration.kl_regularized_optimum`): the same assertion (the paper's
    Theorem 5 rate :math:`1/\epsilon` is at most as steep); whether the slope is near the paper's
    :math:`-1` is **reported, not asserted** (B.3's check 5 allows anything between -1 and -2 for
    the lab's reconstruction, whose stopping statistic is not the paper's).
(c) At every :math:`\epsilon` at most a quarter of the runs may be censored (never
    :math:`\epsilon`-optimal to the end of the budget ``K``, recorded at the lower bound ``K + 1``): the
    median is then exact, and a bootstrap resample's median is censored with probability below 3%
    (16 runs); more censoring fails the check (the slope of a censored curve is flattened).

The instance (:func:`instance`) has graded gaps so that the oracle time is a continuous function of
:math:`\epsilon` over the grid: :math:`H = 2`, :math:`S = 3`, from the start state action ``a``
reaches the rewarding state with probability :math:`p_a`, :math:`p_j = 0.6 - 0.3 \cdot 2^{-j}` for
:math:`j < 5` and :math:`p_5 = 0.6` (the optimal arm last: ties go to the worst arm); stage 1 pays 1
in the rewarding state whatever the action.
So :math:`V^{\pi} = \sum_a \pi_0(a|s_0) p_a` and the gaps are :math:`0.3 \cdot 2^{-j}` (exact). The
grid of (a) sits at :math:`0.7\times` the gaps: between two gaps :math:`T_\epsilon` is the time after
which no arm with a larger gap is played, of order :math:`\sum_{\Delta > \epsilon} b_0^2 / \Delta^2
\propto \epsilon^{-2}` for a bonus :math:`b_0/\sqrt n`. The agents' bonus is UCBVI-CH's
:math:`c \cdot 7 H L/\sqrt n` with ``bonus_scale`` :math:`c = B_0 / (7 H L)`, i.e. the practical
bonus :math:`B_0/\sqrt n`, :math:`B_0 = 2` (about four Bernoulli standard deviations: with
:math:`B_0 = 1` a fifth of the runs fell in the failure event and the 10%-90% spread of
:math:`T_\epsilon` was a factor 15, with :math:`B_0 = 2` a factor 4).

Seeds: each curve runs ``n_runs`` agents per sweep replicate (batched runs are bit-identical to
single runs), 2 replicates quick (32 runs for (a), 16 for (b)), 4 x 16 full (64 runs per curve).
Check seeds 0-9 at quick scale: see docs/theory/exploration.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import exploration
from algorithms.exploration.engine import log_term
from labkit.check import Check, Outcome, register, worst_case
from mdps import validation as V

from proofs_checks.exploration.demo_bpi import episodes_to_eps
from proofs_checks.exploration.demonstrations import TIAPKIN24

__all__ = ["epsilon_rate", "instance", "exact_reg_values", "oracle_times", "GAPS"]

#: the arms' gaps (exact): the optimal arm reaches the rewarding state w.p. P_BEST
GAPS = 0.3 * 2.0 ** -np.arange(5)
P_BEST = 0.6
#: practical bonus B0 / sqrt(n): bonus_scale = B0 / (7 H L); B0 = 2 is about four Bernoulli standard
#: deviations, so that the failure event (an underestimated optimal arm) is rare
B0 = 2.0
DELTA = 0.1
#: regularised curve: strength, the clone of N_E expert demonstrations (soft expert, temperature TAU_E)
LAM = 0.1
N_E = 30
TAU_E = 0.1
KAPPA = 1.0
#: largest fraction of censored runs at any eps (clause (c))
MAX_CENSORED = 0.25
#: the bound on both slopes (T_eps = O~(1/eps^2) for (a); Theorem 5's 1/(lam eps) is flatter)
BOUND_SLOPE = -2.0
PAPER_SLOPE = -1.0


def instance(gaps=GAPS, p_best: float = P_BEST) -> mdps.TabularMDP:
    r"""The graded-gap instance (module docstring): ``H = 2``, ``S = 3``, ``A = len(gaps) + 1``.

    State 0 (the start) at stage 0: action ``a`` moves to state 1 w.p. :math:`p_a` and to state 2
    otherwise, :math:`p_a =` ``p_best - gaps[a]`` for ``a < A - 1`` and :math:`p_{A-1} =` ``p_best`` (the
    optimal arm is the last, so the planners' ties to the lowest action favour the worst arm, never
    the optimal one); every other ``(h, s)`` stays put; the reward is 1 in state 1 at stage 1 (every
    action), else 0. Hence :math:`V^\pi(\rho) = \sum_a \pi_0(a|0) p_a` and :math:`V^* =` ``p_best``.
    """
    g = V.as_float_array(gaps, "gaps", ndim=1)
    p_best = V.check_real(p_best, "p_best", low=0.0, high=1.0)
    if g.size == 0 or g.min() <= 0.0 or g.max() > p_best:
        raise ValueError(f"gaps must be non-empty and lie in (0, p_best] = (0, {p_best}], got {g.tolist()}")
    H, S, A = 2, 3, g.size + 1
    p = np.concatenate([p_best - g, [p_best]])
    P = np.zeros((H, S, A, S))
    for h in range(H):
        for s in range(S):
            P[h, s, :, s] = 1.0
    P[0, 0, :, 0] = 0.0
    P[0, 0, :, 1] = p
    P[0, 0, :, 2] = 1.0 - p
    R = np.zeros((H, S, A))
    R[1, 1, :] = 1.0
    return mdps.TabularMDP(P, R, horizon=H, rho=np.array([1.0, 0.0, 0.0]))


def exact_reg_values(mdp, policies, ref, lam) -> np.ndarray:
    r"""Exact regularised values :math:`J_\lambda(\pi) = V^\pi(\rho) - \lambda \mathrm{KL}_{traj}(\pi \|
    \tilde\pi)` of a stack of Markov policies ``(..., H, S, A)`` on the true model, by backward
    evaluation: :math:`J_H = 0`, :math:`J_h(s) = \sum_a \pi_h(a|s)(R_h(s,a) + P_h J_{h+1}(s,a)) -
    \lambda \mathrm{KL}(\pi_h(\cdot|s) \| \tilde\pi_h(\cdot|s))` (``0 log 0 = 0``). ``lam = 0`` gives
    :math:`V^\pi(\rho)`. Shape ``(...)``.
    """
    V.check_mdp(mdp, criterion="finite_horizon")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    lam = V.check_real(lam, "lam", low=0.0)
    pol = V.as_float_array(policies, "policies")
    if pol.ndim < 3 or pol.shape[-3:] != (H, S, A):
        raise ValueError(f"policies must have shape (..., {H}, {S}, {A}), got {pol.shape}")
    ref = np.broadcast_to(V.as_float_array(ref, "ref"), (H, S, A))
    P = np.broadcast_to(mdp.to_dense().P, (H, S, A, S))
    R = np.broadcast_to(mdp.R, (H, S, A))
    J = np.zeros(pol.shape[:-3] + (S,))
    for h in range(H - 1, -1, -1):
        Q = R[h] + np.einsum("sat,...t->...sa", P[h], J)
        ph = pol[..., h, :, :]
        kl = 0.0
        if lam > 0.0:
            with np.errstate(divide="ignore", invalid="ignore"):
                kl = np.where(ph > 0.0, ph * (np.log(ph) - np.log(ref[h])), 0.0).sum(axis=-1)
        J = (ph * Q).sum(axis=-1) - lam * kl
    return J @ mdp.rho


def oracle_times(gaps, ckpt, eps_grid, n_episodes) -> np.ndarray:
    """:math:`T_\\epsilon` for every ``eps`` of ``eps_grid`` from one run's exact gaps at the kept
    episodes ``ckpt`` (``K + 1`` where censored)."""
    K = V.check_int(n_episodes, "n_episodes", low=1)
    eps = V.as_float_array(eps_grid, "eps_grid", ndim=1)
    if eps.size == 0 or not np.all(eps > 0.0):
        raise ValueError(f"eps_grid must hold positive accuracies, got {eps.tolist()}")
    return np.array([episodes_to_eps(gaps, ckpt, e, K) for e in eps], dtype=np.int64)


def reference() -> np.ndarray:
    """The clone of ``N_E`` soft-expert demonstrations on :func:`instance` (fixed seed)."""
    mdp = instance()
    expert = exploration.soft_expert(mdp, TAU_E)
    tr = mdps.rollout(mdp, expert, N_E, rng=20240101)
    return exploration.behaviour_cloning(tr, mdp.n_states, mdp.n_actions, mdp.horizon, smoothing=KAPPA)


def bonus_scale(mdp, K) -> float:
    """``c = B0 / (7 H L)``: the UCBVI-CH bonus ``c 7 H L / sqrt(n)`` becomes ``B0 / sqrt(n)``."""
    L = log_term(mdp.n_states, mdp.n_actions, mdp.horizon, K, DELTA, stage_dependent=bool(mdp.stage_dependent))
    return B0 / (7.0 * mdp.horizon * L)


def eps_grid(curve: str, full: bool) -> np.ndarray:
    """The accuracies of each curve, increasing: (a) ``0.7`` times the gaps (between two gaps), (b)
    log-spaced where the regularised gap is second order (``sqrt(eps lam) << lam``)."""
    if curve == "unregularized":
        return np.sort(0.7 * GAPS[: 5 if full else 4])
    return np.geomspace(3e-4 if full else 2e-3, 2e-2, 7 if full else 5)


def log_factor_slope(eps) -> float:
    r"""The log-log slope, over the grid ``eps``, of one factor :math:`\ln(1/\epsilon)` (least squares of
    :math:`\log\ln(1/\epsilon)` on :math:`\log\epsilon`, negated): how much steeper than
    :math:`\epsilon^{-2}` a bound :math:`\epsilon^{-2}\ln(1/\epsilon)` looks on this grid. The check's
    tolerance (the logarithmic factors that :math:`	ilde O` hides)."""
    e = V.as_float_array(eps, "eps", ndim=1)
    if e.size < 2 or not np.all((e > 0.0) & (e < 1.0)):
        raise ValueError(f"eps must hold at least two accuracies in (0, 1), got {e.tolist()}")
    x, y = np.log(e), np.log(np.log(1.0 / e))
    return float(-np.polyfit(x, y, 1)[0])


#: quick / full budgets per curve (the median of T_eps at the smallest eps is about K / 2) and runs per
#: sweep replicate (2 replicates quick, 4 full): (a) needs 32 runs at quick scale, its slope sits at the
#: bound -2 and the CI must clear -2 - tol
BUDGET = {"unregularized": (30_000, 300_000), "regularized": (20_000, 200_000)}
RUNS = {"unregularized": (16, 16), "regularized": (8, 16)}


def _run(config, rng):
    mdp = instance()
    full = bool(config["full"])
    K = BUDGET[config["curve"]][int(full)]
    ck = np.unique(np.rint(np.geomspace(1, K, 300)).astype(np.int64) - 1)
    eps = eps_grid(config["curve"], full)
    c = bonus_scale(mdp, K)
    # epsilon of the stopping rule is irrelevant here (the oracle measurement); a tiny one keeps the
    # recommended policy the last one, which is kept
    if config["curve"] == "unregularized":
        ref, lam = np.full((mdp.horizon, mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions), 0.0
        batch = exploration.unregularized_bpi(mdp, epsilon=1e-12, n_episodes=K, bonus_scale=c, delta=DELTA,
                                              checkpoints=ck, n_runs=config["n_runs"], rng=rng)
        target = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    else:
        ref, lam = reference(), LAM
        batch = exploration.demo_regularized_bpi(mdp, ref, lam, epsilon=1e-12, n_episodes=K, bonus_scale=c,
                                                 delta=DELTA, checkpoints=ck, n_runs=config["n_runs"], rng=rng)
        target = exploration.kl_regularized_optimum(mdp, ref, lam).value
    gaps = target - exact_reg_values(mdp, batch.policies, ref, lam)
    rows = []
    for i in range(gaps.shape[0]):
        T = oracle_times(gaps[i], ck, eps, K)
        rows.append(pd.DataFrame({"run": i, "eps": eps, "T": T, "K": K, "censored": T > K,
                                  "min_gap": gaps[i].min()}))
    return pd.concat(rows, ignore_index=True)


def _frame(ctx) -> pd.DataFrame:
    full = ctx.pick(False, True)
    grid = [{"curve": c, "n_runs": RUNS[c][int(full)], "full": int(full)} for c in ("unregularized", "regularized")]
    return ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 4))


def _fit(frame, curve, seed):
    g = frame[frame.curve == curve]
    Y = g.pivot_table(index=["replicate", "run"], columns="eps", values="T")
    eps = Y.columns.to_numpy(dtype=float)
    fit = labkit.fit_power_law(eps, Y.to_numpy(dtype=float), tail_decades=np.log10(eps[-1] / eps[0]) + 1e-9, rng=seed,
                               center="median")
    return eps, Y.to_numpy(dtype=float), fit


def _measure(ctx) -> Outcome:
    frame = _frame(ctx)
    fits = {c: _fit(frame, c, ctx.seed) for c in ("unregularized", "regularized")}
    censored = {c: float(frame[frame.curve == c].groupby("eps").censored.mean().max()) for c in fits}
    lows = [fits[c][2].ci_low for c in fits]
    # (c) a median of mostly censored T_eps is a lower bound: no measurement, the check fails
    values = lows + ([float("nan")] if max(censored.values()) > MAX_CENSORED else [])
    fa, fb = fits["unregularized"][2], fits["regularized"][2]
    tol = log_factor_slope(fits["unregularized"][0])
    near = fb.ci_low <= PAPER_SLOPE + 0.1 and fb.ci_high >= PAPER_SLOPE - 0.1
    K = {c: int(frame[frame.curve == c].K.iloc[0]) for c in fits}
    n_runs = fits["unregularized"][1].shape[0]
    return worst_case(
        values, ">=", BOUND_SLOPE, tol, frame,
        f"smallest lower 90% bootstrap CI end (over {n_runs} runs) of the log-log slope of median T_eps in eps: "
        f"(a) unregularised BPI, gap V* - V^(pi_k): slope {fa.estimate:.2f} [{fa.ci_low:.2f}, {fa.ci_high:.2f}] "
        f"over eps in [{fits['unregularized'][0][0]:.3g}, {fits['unregularized'][0][-1]:.3g}], median T "
        + ", ".join(f"{t:.0f}" for t in np.median(fits["unregularized"][1], axis=0))
        + f"; (b) regularised BPI (lam = {LAM}, clone of {N_E} demonstrations), gap to the exact regularised "
        f"optimum: slope {fb.estimate:.2f} [{fb.ci_low:.2f}, {fb.ci_high:.2f}] over eps in "
        f"[{fits['regularized'][0][0]:.3g}, {fits['regularized'][0][-1]:.3g}], median T "
        + ", ".join(f"{t:.0f}" for t in np.median(fits["regularized"][1], axis=0))
        + f" (the paper's -1 is reported, not asserted: CI {'overlaps' if near else 'does NOT overlap'} "
        f"[-1.1, -0.9]). Both CI ends must be >= -2 - {tol:.2f} (tol: the log-log slope of one factor ln(1/eps) "
        f"over grid (a)); largest fraction of censored runs at one eps (never eps-optimal within K = "
        f"{K['unregularized']} / {K['regularized']}; above {MAX_CENSORED} fails the check): "
        f"(a) {censored['unregularized']:.2f}, (b) {censored['regularized']:.2f}. "
        f"Exact evaluation of ~300 kept policies per run here; bonus B0/sqrt(n), B0 = {B0}.",
        slopes={c: [f.estimate, f.ci_low, f.ci_high] for c, (_, _, f) in fits.items()}, near_paper=bool(near),
    )


def _plot(result):
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from labkit.figures import MARKERS, PALETTE, figure_legend, subplots, theory_line

    frame = result.data
    fig, axes = subplots(1, 2)
    gen = np.random.default_rng(0)
    panels = (("unregularized", r"$V^* - V^{\pi_k} \leq \epsilon$", ((-2.0, r"slope $-2$ (upper bound)"),)),
              ("regularized", rf"$J^*_\lambda - J_\lambda(\pi_k) \leq \epsilon$, $\lambda = {LAM:g}$",
               ((-2.0, r"slope $-2$ (upper bound)"), (-1.0, r"slope $-1$ (paper, Thm. 5)"))))
    for j, (curve, title, slopes) in enumerate(panels):
        ax = axes[0, j]
        g = frame[frame.curve == curve]
        M = g.pivot_table(index=["replicate", "run"], columns="eps", values="T")
        eps = M.columns.to_numpy(dtype=float)
        M = M.to_numpy(dtype=float)
        boot = np.median(M[gen.integers(0, M.shape[0], size=(2000, M.shape[0]))], axis=1)
        lo, hi = np.quantile(boot, [0.05, 0.95], axis=0)
        mean = np.median(M, axis=0)
        ax.fill_between(eps, lo, hi, color=PALETTE[j], alpha=0.25, linewidth=0,
                        label="90% bootstrap CI of the median")
        ax.plot(eps, mean, marker=MARKERS[j], color=PALETTE[j], markersize=3, linewidth=1.0,
                label="unregularised BPI (median)" if curve == "unregularized" else "regularised BPI (median)")
        for k, (slope, lab) in enumerate(slopes):
            # anchored at the largest eps, where both curves start
            theory_line(ax, eps, mean[-1] * (eps / eps[-1]) ** slope, label=lab,
                        linestyle="--" if slope == -2.0 else ":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        # plain decimal ticks inside the grid (the default minor labels collide on a short log axis)
        ticks = [t for t in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2) if eps[0] <= t <= eps[-1] * 1.001]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(r"target accuracy $\epsilon$")
        ax.set_title(title, fontsize="small")
    axes[0, 0].set_ylabel(r"episodes to $\epsilon$-optimal (oracle)")
    figure_legend(fig, axes)
    return fig


epsilon_rate = register(Check(
    name="bpi.epsilon_rate",
    paper=TIAPKIN24 + " (Theorem 5, fast regularised rate; the unregularised O~(H^3 SA/eps^2) control)",
    claim="Episodes until the recommended policy is eps-optimal (oracle measurement, exact evaluation) grow no "
          "faster than 1/eps^2 for unregularised BPI and for lam-regularised BPI (gap to the exact regularised "
          "optimum): log-log slope in eps >= -2 - 0.3; whether the regularised slope is near the paper's -1 is "
          "reported, not asserted.",
    tag="A", family="exploration", cost=(8, 300),
    measure=_measure, plot=_plot,
))
