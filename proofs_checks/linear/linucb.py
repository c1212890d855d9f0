r"""OFUL / LinUCB on stochastic linear bandits: the regret bound and the :math:`d\sqrt T` rate.

Abbasi-Yadkori, Pál & Szepesvári (2011), *Improved Algorithms for Linear Stochastic Bandits*,
NeurIPS (Theorems 2 and 3); Lattimore & Szepesvári (2020), *Bandit Algorithms*, ch. 19-20 and
24; Rusmevichientong & Tsitsiklis (2010), *Linearly Parameterized Bandits*, Math. Oper. Res. 35.
Regret is measured here, not read from the agent: each run returns the vectors it played, and the
check recomputes :math:`r_t = \max_x\langle\theta, x\rangle - \langle\theta, x_t\rangle` with the
best value it computes itself (:math:`\|\theta\|` on the unit ball, :math:`\max_j\langle\theta,
a_j\rangle` on a finite set).

* ``linucb.regret_bound`` **[U]** (constant recalled) / **[A]** (rate): on the unit ball and on a
  finite set of 20 random unit actions (``d = 4``, ``||theta|| = 1``, ``sigma = 0.1``,
  ``lambda = 1``, ``delta = 0.05``, theory radius), the cumulative regret stays below Theorem 3's
  bound at every checkpoint, on all but a Binomial(n, delta) 99%-quantile of runs, and the tail
  slope of the mean cumulative regret is at most 1/2 plus ``SLOPE_TOL``. (On the finite set, which
  has a gap, the regret is eventually logarithmic: only ``<=`` is asserted.)
* ``linucb.ball_rate`` **[A]**: on the unit ball, which has no gap, the :math:`\sqrt T` growth is
  tight for a fixed parameter: the tail exponent in ``T`` of the mean cumulative regret, for every
  ``d`` in the grid, lies within ``SLOPE_TOL`` of 1/2 (two-sided; the reported figure is the
  exponent furthest from 1/2), and the exponent in ``d`` of the regret at the final ``T`` is at
  most 3/2 plus ``SLOPE_TOL`` (Theorem 3's :math:`d \log T` factor times :math:`\sqrt T`; the lower
  bound :math:`\Omega(d\sqrt T)` makes 1 the tight value up to logarithms; the fit is reported).
* ``linucb.changing_actions`` **[U]** (constant recalled) / **[A]** (rate): Theorem 3 holds for
  arbitrary decision sets :math:`D_t`; here round ``t`` offers its own set :math:`\mathcal X_t`
  (``d = 4``, ``||theta|| = 1``): (i) i.i.d. sets of 10 uniform unit directions drawn per run
  (:class:`mdps.IIDActionSets`), (ii) a fixed sequence of 7 sets of 6 random unit actions offered
  cyclically. The check recomputes each round's best value :math:`\max_{x\in\mathcal X_t}
  \langle\theta, x\rangle` from the sets the run was offered and the regret from the played
  vectors; the cumulative regret must stay below Theorem 3's bound at every checkpoint on all but
  a Binomial(n, delta) 99%-quantile of runs, and the tail slope must be at most 1/2 plus
  ``SLOPE_TOL``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import linear
from labkit.check import Check, Outcome, register
from labkit.rates import fit_power_law

__all__ = ["instance", "changing_instance", "regret_bound", "ball_rate", "changing_actions"]

AYPS11 = ("Y. Abbasi-Yadkori, D. Pal, Cs. Szepesvari, Improved Algorithms for Linear Stochastic Bandits, "
          "NeurIPS 2011 (Theorems 2-3)")
LS20 = "T. Lattimore, Cs. Szepesvari, Bandit Algorithms, Cambridge University Press 2020 (ch. 19-20, 24)"
#: tolerance on fitted exponents (the lab's slope tolerance)
SLOPE_TOL = 0.1
DELTA = 0.05
NOISE = 0.1
LAM = 1.0


def instance(kind: str, d: int = 4) -> mdps.LinearBandit:
    """The check's instances: ``theta = (0.6, 0.8, 0, ...)`` (norm 1) with the unit ball, or with 20
    random unit actions (seed 0) plus the two actions ``(1, 0, ...)`` and ``(0, 1, 0, ...)``."""
    theta = np.zeros(d)
    theta[0], theta[1] = 0.6, 0.8
    if kind == "unit_ball":
        return mdps.LinearBandit("unit_ball", theta, noise=NOISE)
    gen = np.random.default_rng(0)
    A = gen.normal(size=(20, d))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    A = np.vstack([A, np.eye(d)[:2]])
    return mdps.LinearBandit(A, theta, noise=NOISE)


def _measured_regret(bandit, run):
    """Per-round regret recomputed from the played vectors, and the gap to the run's own record."""
    theta = np.asarray(bandit.theta)
    best = float(np.linalg.norm(theta)) if not bandit.finite else float((np.asarray(bandit.actions) @ theta).max())
    per_round = best - run.played @ theta
    return per_round, float(np.abs(per_round - run.regret).max())


def _run(config, rng):
    bandit = instance(config["instance"], config["d"])
    T = config["n_rounds"]
    run = linear.linucb(bandit, n_rounds=T, lam=LAM, delta=DELTA, theta_norm_bound=1.0, keep_actions=True,
                        rng=int(rng.integers(2**63)))
    per_round, gap = _measured_regret(bandit, run)
    cum = per_round.cumsum()
    ts = labkit.checkpoints(T, 40, first=100)
    bound = linear.oful_regret_bound(ts, bandit.d, lam=LAM, theta_norm_bound=1.0, noise_bound=NOISE,
                                     action_norm_bound=bandit.action_norm_bound, delta=DELTA)
    return pd.DataFrame({"t": ts, "regret": np.maximum(cum[ts - 1], 0.0), "bound": bound,
                         "self_report_gap": gap})


def _fit(g):
    Y = g.pivot_table(index="replicate", columns="t", values="regret").to_numpy()
    ts = np.sort(g["t"].unique())
    return ts, Y, fit_power_law(ts, np.maximum(Y, 1e-9), tail_decades=1.0)


def _allowed_violations(n_runs: int) -> int:
    """The 99% quantile of Binomial(n_runs, DELTA): how many runs may leave the bound."""
    from scipy.stats import binom

    return int(binom.ppf(0.99, n_runs, DELTA))


def _bound_summary(frame, n_seeds: int):
    """What both bound checks report: the per-instance tail fits, the worst one, the runs leaving Theorem 3's
    bound (with the Binomial allowance) and the largest Reg/bound."""
    fits = {name: _fit(g) for name, g in frame.groupby("instance")}
    worst = max(fits, key=lambda k: fits[k][2].ci[1])
    over = frame.assign(out=frame.regret > frame.bound).groupby(["instance", "replicate"]).out.any()
    allowed = _allowed_violations(n_seeds)
    violations = {k: int(v.sum()) for k, v in over.groupby(level=0)}
    ratio = float((frame.regret / frame.bound).max())
    slopes = ", ".join(f"{k}: {v[2].estimate:.3f} [{v[2].ci[0]:.3f}, {v[2].ci[1]:.3f}]" for k, v in fits.items())
    extras = {"slopes": {k: [v[2].estimate, *v[2].ci] for k, v in fits.items()}, "bound_ratio": ratio,
              "violations": violations}
    return fits[worst][2], worst, violations, allowed, ratio, slopes, extras


def _bound_measure(ctx) -> Outcome:
    T = ctx.pick(20_000, 300_000)
    n_seeds = ctx.pick(6, 20)
    grid = labkit.expand_grid(instance=["unit_ball", "finite"], d=[4], n_rounds=[T])
    frame = ctx.sweep(_run, grid, n_seeds=n_seeds)
    fit, worst, violations, allowed, ratio, slopes, extras = _bound_summary(frame, n_seeds)
    measured, ci = fit.estimate, fit.ci
    if max(violations.values()) > allowed:
        measured, ci = float("inf"), (float("inf"), float("inf"))
    return Outcome(
        measured=measured, ci=ci, expected=0.5, relation="<=", tol=SLOPE_TOL, data=frame,
        details=f"tail slope (last decade, 90% bootstrap CI over {n_seeds} runs) of OFUL's mean cumulative regret, "
                f"T = {T}, worst instance {worst}; all: {slopes}. Runs leaving Theorem 3's bound at some checkpoint: "
                f"{violations} (at most {allowed} allowed per instance, the 99% quantile of Binomial({n_seeds}, "
                f"{DELTA})); largest Reg(T)/bound {ratio:.3f}. Regret recomputed from the played actions; the run's "
                f"own record differs by {frame.self_report_gap.max():.1e}.",
        extras=extras,
    )


def _regret_bound_plot(result, labels):
    """Mean cumulative regret per instance with its 5-95% band and Theorem 3's bound, log-log (means floored
    at 0.1 so a log axis keeps a run with no regret yet)."""
    from labkit.figures import MARKERS, PALETTE, legend, subplots, theory_line

    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (name, g) in enumerate(result.data.groupby("instance")):
        Y = g.pivot_table(index="replicate", columns="t", values="regret")
        ts = Y.columns.to_numpy(dtype=float)
        lo, hi = np.quantile(Y.to_numpy(), [0.05, 0.95], axis=0)
        color = PALETTE[i % len(PALETTE)]
        ax.plot(ts, np.maximum(Y.mean(axis=0).to_numpy(), 0.1), color=color, marker=MARKERS[i], markevery=6,
                label=f"{labels[name]} (mean)")
        ax.fill_between(ts, np.maximum(lo, 0.1), np.maximum(hi, 0.1), color=color, alpha=0.2, linewidth=0,
                        label="5-95% over runs" if i == 0 else "_band")
        if i == 0:
            theory_line(ax, ts, g.groupby("t").bound.first().to_numpy(), color="black",
                        label="Theorem 3 bound ($d = 4$)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rounds T")
    ax.set_ylabel("cumulative regret")
    legend(ax, outside=True, ncols=2)
    return fig


def _bound_plot(result):
    return _regret_bound_plot(result, {"unit_ball": "unit ball", "finite": "22 unit actions"})


def _rate_measure(ctx) -> Outcome:
    T = ctx.pick(20_000, 300_000)
    ds = ctx.pick([2, 4, 8], [2, 4, 8, 16])
    n_seeds = ctx.pick(6, 12)
    grid = labkit.expand_grid(instance=["unit_ball"], d=ds, n_rounds=[T])
    frame = ctx.sweep(_run, grid, n_seeds=n_seeds)
    fits = {d: _fit(g) for d, g in frame.groupby("d")}
    far = max(fits, key=lambda d: max(abs(fits[d][2].ci[0] - 0.5), abs(fits[d][2].ci[1] - 0.5)))
    fit = fits[far][2]
    final = frame[frame.t == T].pivot_table(index="replicate", columns="d", values="regret")
    d_fit = fit_power_law(final.columns.to_numpy(dtype=float), final.to_numpy(), tail_decades=10.0)
    measured, ci = fit.estimate, fit.ci
    if d_fit.ci[1] > 1.5 + SLOPE_TOL:
        measured, ci = float("inf"), (float("inf"), float("inf"))
    slopes = ", ".join(f"d={d}: {v[2].estimate:.3f} [{v[2].ci[0]:.3f}, {v[2].ci[1]:.3f}]" for d, v in fits.items())
    return Outcome(
        measured=measured, ci=ci, expected=0.5, relation="==", tol=SLOPE_TOL, data=frame,
        details=f"unit ball, theta of norm 1, T = {T}: tail exponent in T of the mean cumulative regret (last decade, "
                f"90% bootstrap CI over {n_seeds} runs) for each d: {slopes}; reported: d = {far}, the furthest from "
                f"1/2. Exponent in d of Reg(T) over d = {ds}: {d_fit.estimate:.3f} [{d_fit.ci[0]:.3f}, "
                f"{d_fit.ci[1]:.3f}] (at most 3/2 + {SLOPE_TOL} required; 1 is tight up to logarithms).",
        extras={"t_slopes": {str(d): [v[2].estimate, *v[2].ci] for d, v in fits.items()},
                "d_slope": [d_fit.estimate, *d_fit.ci]},
    )


def _rate_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots, theory_line

    frame = result.data
    fig, axes = subplots(1, 2)
    ax = axes[0, 0]
    for i, (d, g) in enumerate(frame.groupby("d")):
        Y = g.pivot_table(index="replicate", columns="t", values="regret")
        ts = Y.columns.to_numpy(dtype=float)
        mean = Y.mean(axis=0).to_numpy()
        ax.plot(ts, mean, color=PALETTE[i % len(PALETTE)], marker=MARKERS[i % len(MARKERS)], markevery=6,
                label=f"$d = {d}$")
        if i == len(frame.d.unique()) - 1:
            theory_line(ax, ts, mean[-1] * np.sqrt(ts / ts[-1]), label=r"slope 1/2")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rounds T")
    ax.set_ylabel("cumulative regret")
    legend(ax, outside=True, ncols=3)
    ax = axes[0, 1]
    T = frame.t.max()
    final = frame[frame.t == T].pivot_table(index="replicate", columns="d", values="regret")
    ds = final.columns.to_numpy(dtype=float)
    ax.errorbar(ds, final.mean(axis=0), yerr=final.std(axis=0) / np.sqrt(len(final)), color=PALETTE[0],
                marker=MARKERS[0], capsize=2, label=f"Reg(T), T = {T}")
    m0 = float(final.mean(axis=0).iloc[0])
    theory_line(ax, ds, m0 * ds / ds[0], label=r"slope 1 ($d\sqrt{T}$)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("dimension d")
    ax.set_ylabel("cumulative regret at T")
    legend(ax, outside=True, ncols=1)
    return fig


regret_bound = register(Check(
    name="linucb.regret_bound",
    paper=AYPS11 + "; docs/theory/linear.md, section 'linucb.regret_bound'",
    claim="OFUL at the theory radius keeps its regret below Theorem 3's bound at every T (all but a "
          "Binomial(n, delta) quantile of runs), growing no faster than sqrt(T) on the tail.",
    tag="U", family="linear", cost=(8, 180),
    measure=_bound_measure, plot=_bound_plot,
))

ball_rate = register(Check(
    name="linucb.ball_rate",
    paper=AYPS11 + "; " + LS20 + "; docs/theory/linear.md, section 'linucb.ball_rate'",
    claim="On the unit ball (no gap) OFUL's regret grows like sqrt(T) for a fixed parameter, with an exponent in "
          "d of at most 3/2 (d sqrt(T) up to logarithms).",
    tag="A", family="linear", cost=(9, 300),
    measure=_rate_measure, plot=_rate_plot,
))


def changing_instance(kind: str, d: int = 4) -> mdps.LinearBandit:
    """The changing-set instances of ``linucb.changing_actions``: ``theta = (0.6, 0.8, 0, ...)`` with
    i.i.d. sets of 10 unit directions (``"iid"``) or a cycle of 7 fixed sets of 6 random unit
    actions (``"cycle"``, seed 1)."""
    theta = np.zeros(d)
    theta[0], theta[1] = 0.6, 0.8
    if kind == "iid":
        return mdps.LinearBandit(mdps.IIDActionSets(10, d), theta, noise=NOISE)
    gen = np.random.default_rng(1)
    A = gen.normal(size=(7, 6, d))
    A /= np.linalg.norm(A, axis=2, keepdims=True)
    return mdps.LinearBandit(A, theta, noise=NOISE)


def _changing_run(config, rng):
    bandit = changing_instance(config["instance"], config["d"])
    T = config["n_rounds"]
    run = linear.linucb(bandit, n_rounds=T, lam=LAM, delta=DELTA, theta_norm_bound=1.0, keep_actions=True,
                        rng=int(rng.integers(2**63)))
    # ground truth recomputed here from the offered sets: the best value of each round's own set
    theta = np.asarray(bandit.theta)
    sets = np.asarray(run.sets)
    means = sets @ theta
    means[np.arange(sets.shape[1])[None, :] >= np.asarray(run.set_sizes)[:, None]] = -np.inf
    best = means.max(axis=1)[np.arange(T) % sets.shape[0]]
    per_round = best - run.played @ theta
    cum = per_round.cumsum()
    ts = labkit.checkpoints(T, 40, first=100)
    L = float(np.linalg.norm(sets, axis=2).max())
    bound = linear.oful_regret_bound(ts, bandit.d, lam=LAM, theta_norm_bound=1.0, noise_bound=NOISE,
                                     action_norm_bound=L, delta=DELTA)
    return pd.DataFrame({"t": ts, "regret": np.maximum(cum[ts - 1], 0.0), "bound": bound,
                         "self_report_gap": float(np.abs(per_round - run.regret).max()),
                         "min_round_regret": float(per_round.min())})


def _changing_measure(ctx) -> Outcome:
    T = ctx.pick(20_000, 200_000)
    n_seeds = ctx.pick(6, 20)
    grid = labkit.expand_grid(instance=["iid", "cycle"], d=[4], n_rounds=[T])
    frame = ctx.sweep(_changing_run, grid, n_seeds=n_seeds)
    fit, worst, violations, allowed, ratio, slopes, extras = _bound_summary(frame, n_seeds)
    negative = float(frame.min_round_regret.min())
    measured, ci = fit.estimate, fit.ci
    if max(violations.values()) > allowed or negative < -1e-12:
        measured, ci = float("inf"), (float("inf"), float("inf"))
    return Outcome(
        measured=measured, ci=ci, expected=0.5, relation="<=", tol=SLOPE_TOL, data=frame,
        details=f"changing action sets: tail slope (last decade, 90% bootstrap CI over {n_seeds} runs) of OFUL's mean "
                f"cumulative regret against each round's best action, T = {T}, worst instance {worst}; all: {slopes}. "
                f"Runs leaving Theorem 3's bound at some checkpoint: {violations} (at most {allowed} allowed per "
                f"instance); largest Reg(T)/bound {ratio:.3g}; smallest per-round regret {negative:.1e} (>= 0 "
                f"required). Best values recomputed from the offered sets; the run's own record differs by "
                f"{frame.self_report_gap.max():.1e}.",
        extras=extras,
    )


def _changing_plot(result):
    return _regret_bound_plot(result, {"iid": "i.i.d. sets, 10 actions", "cycle": "cycle of 7 sets, 6 actions"})


changing_actions = register(Check(
    name="linucb.changing_actions",
    paper=AYPS11 + "; docs/theory/linear.md, section 'linucb.changing_actions'",
    claim="With a changing action set X_t in every round (i.i.d. random sets; a cycle of fixed sets), OFUL at the "
          "theory radius keeps its regret against each round's best action below Theorem 3's bound at every T (all "
          "but a Binomial(n, delta) quantile of runs), growing no faster than sqrt(T) on the tail.",
    tag="U", family="linear", cost=(8, 200),
    measure=_changing_measure, plot=_changing_plot,
))
