r"""APO (accelerated preference optimization): momentum multiplies iterative DPO's rate by 1/(1 - alpha).

Paper: J. He, H. Yuan, Q. Gu (2024), *Accelerated Preference Optimization for Large Language
Model Alignment*, arXiv 2410.06293; the paper's rates (iterative DPO ``O(1/t)`` versus APO
``O((1-alpha)/t)``, linear under a sub-optimality gap) are [U]. What this check tests is the
exact population dynamics [R] (derived in :mod:`algorithms.preference_learning.apo` and
docs/theory/preference_learning.md, section 'apo.acceleration'): from ``pi_0 = mu``,
``pi_t = softmax(log mu + c_t r / beta)`` with
``c_t = (t - alpha (1 - alpha^t)/(1 - alpha)) / (1 - alpha)``, so with a unique optimum of gap
``Delta`` the log sub-optimality ``log(r_1 - E_{pi_t} r)`` has asymptotic slope
``-Delta / (beta (1 - alpha))``.

Instance: ``K = 6``, ``r = (1, .8, .5, .3, .1, 0)`` (``Delta = 0.2``), ``mu`` uniform,
``beta`` in {0.5, 1}, ``alpha`` in {0, .3, .6, .9} (full scale adds ``beta = 2`` and
``alpha = 0.8``; larger ``alpha`` or smaller ``beta`` leave no asymptotic window above the
float64 floor). The check recomputes ``sum_y pi_t(y) (r_max - r(y))`` from the returned
policies, (i) compares every iterate with the closed form, and (ii) fits the slope of the log
sub-optimality with :func:`labkit.rates.fit_linear_rate` on the asymptotic window
``t >= t_0`` where the two transients (``alpha^t`` and the next response's relative weight)
are below ``1e-6`` (so the local slope is within about ``1e-6`` relative of the asymptote), up to
where the sub-optimality reaches ``1e-290`` (above the float64 subnormal range). The verdict is the
largest, over configurations, of the two errors each divided by its tolerance (``<= 1``).

The finite-sample version (each DPO step fitted on fresh pairs) is drawn in the figure as an
observation only: no speed-up is claimed for it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import labkit
from algorithms import preference_learning as pl
from labkit.check import Check, Outcome, register, worst_case
from labkit.rates import fit_linear_rate
from mdps import LogLinearPreferenceTask

__all__ = ["apo_acceleration"]

REWARD = np.array([1.0, 0.8, 0.5, 0.3, 0.1, 0.0])
GAP = float(REWARD[0] - REWARD[1])
#: transients allowed in the fit window (relative deviation of the local slope)
TRANSIENT = 1e-6
#: the fit stops where the sub-optimality reaches this (float64 underflow is ~1e-308)
FLOOR = 1e-290
#: tolerances: closed form vs iteration (round-off of logits of size <= ~600 over <= 3000 steps);
#: fitted slope vs theorem (the window's transient bound 1e-6 plus round-off, with margin)
TOL_CLOSED_FORM = 1e-9
TOL_SLOPE = 1e-5


def _window(alpha: float, beta: float) -> tuple[int, int]:
    """``(t_0, T)``: the first iteration where both transients are below TRANSIENT and the last
    one before the theorem's sub-optimality reaches FLOOR (both from the closed form)."""
    r = REWARD
    extra = float(r[1] - r[2])  # the next response's relative weight decays like e^{-c_t extra / beta}
    t0 = 1
    while (alpha ** t0 > TRANSIENT
           or (r.sum() / GAP) * math.exp(-pl.apo_logit_coefficient(alpha, t0) * extra / beta) > TRANSIENT):
        t0 += 1
    T = t0
    while pl.apo_suboptimality(REWARD, alpha, beta, T + 1) > FLOOR:
        T += 1
    return t0, T


def _exact_run(config, rng):
    alpha, beta = config["alpha"], config["beta"]
    t0, T = _window(alpha, beta)
    res = pl.apo(REWARD, alpha=alpha, beta=beta, n_iter=T)
    sub = np.sum(res.policies * (REWARD.max() - REWARD), axis=-1)  # measured from the iterates
    t = np.arange(T + 1)
    closed = pl.apo_suboptimality(REWARD, alpha, beta, t)
    return pd.DataFrame({"kind": "exact", "t": t, "sub": sub, "closed_form": closed, "in_window": t >= t0})


def _sampled_run(config, rng):
    """Finite-sample APO on the one-hot task with the same reward (theta* = r / beta)."""
    alpha, beta = config["alpha"], config["beta"]
    K = REWARD.size
    task = LogLinearPreferenceTask(np.eye(K)[None], np.full(K, 1.0 / K), REWARD / beta, beta)
    res = pl.apo_sampled(task, alpha=alpha, n_iter=config["n_iter"], n_pairs=config["n_pairs"], rng=rng)
    sub = np.sum(res.policies[:, 0] * (REWARD.max() - REWARD), axis=-1)
    t = np.arange(sub.size)
    return pd.DataFrame({"kind": "sampled", "t": t, "sub": sub,
                         "closed_form": pl.apo_suboptimality(REWARD, alpha, beta, t), "in_window": False})


def _measure(ctx) -> Outcome:
    # (alpha = 0.95 or beta = 0.25 with alpha = 0.9 would leave no asymptotic window above the
    # float64 floor: the transient alpha^t outlives 700 nats of decay)
    grid = labkit.expand_grid(alpha=ctx.pick([0.0, 0.3, 0.6, 0.9], [0.0, 0.3, 0.6, 0.8, 0.9]),
                              beta=ctx.pick([0.5, 1.0], [0.5, 1.0, 2.0]))
    exact = ctx.sweep(_exact_run, grid, n_seeds=1)
    sgrid = labkit.expand_grid(alpha=[0.0, 0.6, 0.9], beta=[1.0], n_iter=[ctx.pick(15, 40)],
                               n_pairs=[ctx.pick(300, 3000)])
    sampled = ctx.sweep(_sampled_run, sgrid, n_seeds=ctx.pick(3, 20), experiment="apo.acceleration.sampled")
    scores, parts, fits = [], [], {}
    for (alpha, beta), g in exact.groupby(["alpha", "beta"]):
        g = g.sort_values("t")
        cf_err = float(np.max(np.abs(g["sub"] / g["closed_form"] - 1.0)))
        win = g[g["in_window"] & (g["sub"] >= FLOOR)]["sub"].to_numpy()
        fit = fit_linear_rate(win, window=(FLOOR, 1.0), relative=False)
        slope = math.log(fit.estimate)
        expected = pl.apo_asymptotic_slope(GAP, alpha, beta)
        slope_err = abs(slope / expected - 1.0)
        scores.append(max(cf_err / TOL_CLOSED_FORM, slope_err / TOL_SLOPE))
        fits[f"{alpha:g},{beta:g}"] = slope
        parts.append(f"alpha={alpha:g}, beta={beta:g}: slope {slope:.7f} vs {expected:.7f} "
                     f"(rel. err {slope_err:.1e}), closed-form err {cf_err:.1e}")
    last = sampled.groupby(["alpha", "replicate"]).apply(lambda g: g.sort_values("t")["sub"].iloc[-1],
                                                          include_groups=False)
    obs = "; ".join(f"alpha={a:g}: median final sub-optimality {v.median():.2e} (exact {e:.2e})"
                    for a, v, e in ((a, last.xs(a, level=0), pl.apo_suboptimality(
                        REWARD, a, 1.0, int(sampled["t"].max()))) for a in sorted(sampled["alpha"].unique())))
    frame = pd.concat([exact.assign(**{"n_pairs": 0}), sampled], ignore_index=True)
    return worst_case(
        scores, "<=", 1.0, 0.0, frame,
        "max over (alpha, beta) of max(|sub_t / closed form - 1| / 1e-9, |fitted slope / "
        "(-Delta/(beta(1-alpha))) - 1| / 1e-5), sub-optimality r_1 - E_{pi_t} r recomputed from APO's "
        "iterates on r = (1,.8,.5,.3,.1,0), uniform mu; " + "; ".join(parts)
        + f". Observation (finite-sample steps, {int(sampled['n_pairs'].iloc[0])} fresh on-policy pairs "
          f"per step, ridge 1e-3, not asserted): " + obs + ".",
        slopes=fits,
    )


def _plot(result):
    from labkit.figures import PALETTE, legend, subplots, theory_line

    data = result.data
    exact = data[data["kind"] == "exact"]
    betas = sorted(exact["beta"].unique())
    fig, axes = subplots(1, len(betas) + 1)
    t_show = 120
    for j, beta in enumerate(betas):
        ax = axes[0, j]
        for i, (alpha, g) in enumerate(exact[exact["beta"] == beta].groupby("alpha")):
            g = g[g["t"] <= t_show].sort_values("t")
            color = PALETTE[i % len(PALETTE)]
            ax.plot(g["t"], np.log(g["sub"]), color=color, linewidth=2.2, alpha=0.55, label=rf"$\alpha={alpha:g}$")
            theory_line(ax, g["t"], np.log(g["closed_form"]), color="0.15", linewidth=0.8,
                        label="theory: exact closed form")
        ax.set_title(rf"exact steps, $\beta={beta:g}$")
        ax.set_xlabel("iteration t")
        legend(ax, outside=True, fontsize=5, ncols=2, bbox_to_anchor=(0.5, -0.5))
    axes[0, 0].set_ylabel(r"$\log(r_1 - E_{\pi_t} r)$")
    ax = axes[0, -1]
    sampled = data[data["kind"] == "sampled"]
    for i, (alpha, g) in enumerate(sampled.groupby("alpha")):
        med = g.groupby("t")["sub"].median()
        color = PALETTE[i % len(PALETTE)]
        ax.plot(med.index, np.log(med.to_numpy()), color=color, marker="o", markersize=2, label=rf"$\alpha={alpha:g}$")
        cf = g.groupby("t")["closed_form"].first()
        theory_line(ax, cf.index, np.log(cf.to_numpy()), color=color, linewidth=0.8, label="_exact")
    ax.set_title(r"sampled steps, $\beta=1$ (median; dashed: exact)")
    ax.set_xlabel("iteration t")
    legend(ax, outside=True, fontsize=5, ncols=2, bbox_to_anchor=(0.5, -0.5))
    return fig


apo_acceleration = register(Check(
    name="apo.acceleration",
    paper="J. He, H. Yuan, Q. Gu 2024, arXiv:2410.06293 (rates [U]); exact dynamics derived in "
          "docs/theory/preference_learning.md, section 'apo.acceleration'",
    claim="Exact APO from a uniform start has pi_t = softmax(c_t r/beta) with c_t = (t - alpha(1-alpha^t)/"
          "(1-alpha))/(1-alpha), so log(r_1 - E_{pi_t} r) falls with asymptotic slope -Delta/(beta(1-alpha)): "
          "momentum multiplies iterative DPO's rate by 1/(1-alpha).",
    tag="R", family="preference_learning", cost=(3, 30), url="https://arxiv.org/abs/2410.06293",
    measure=_measure, plot=_plot,
))
