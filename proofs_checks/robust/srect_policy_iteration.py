r"""s-rectangular robust policy iteration: same optimum as s-rectangular robust VI, certified by its residual.

Kumar, Levy, Wang and Mannor, "Efficient policy iteration for robust Markov decision processes via
regularization", 2022, arXiv:2205.14327 (Alg. 1 with the closed forms of :func:`mdps.srect_bellman` on the relaxed
L1 / L-infinity balls); on the exact s-rectangular KL / chi-square balls the same loop with the kernels of
:mod:`mdps._srect_kernels`. Robust PI (:func:`mdps.robust_policy_iteration`, ``rectangularity="s"``): evaluate the
randomised policy (adversary's policy iteration with linear solves), improve by the s-rectangular greedy policy
where it gains more than :math:`\theta = (1 - L)\,\mathrm{tol}/2`, stop when no state improves; then
:math:`\|T_U V - V\|_\infty \le \tfrac34 (1 - L)\,\mathrm{tol}` and
:math:`\|V - V^*_U\|_\infty \le \tfrac34\,\mathrm{tol}` with ``L`` the operator's Lipschitz bound (``gamma``; :math:`\gamma(1 + r)` for relaxed L1, :math:`\gamma(1 + S r)`
for relaxed L-infinity).

* ``robust_pi.srect_agrees`` **[U]** (the monotone-improvement proof of Iyengar 2005 needs stochastic kernels and
  does not cover the relaxed balls, whose minimisers may be negative; the exact balls are [R]): on Garnets
  (``S`` in {5, 10}, ``A`` in {2, 4}, ``gamma`` in {0.5, 0.9} quick; ``S`` up to 20 and ``gamma`` 0.95 full), for
  the relaxed ``l1`` and ``linf`` balls (radii making ``L = gamma + (1 - gamma)/4``) and the exact ``kl`` and
  ``chi2`` balls (budget 0.1): PI at ``tol = 1e-9`` must report ``converged``, its value must equal robust VI's
  (run to ``1e-11``) within ``0.75 tol + 1e-11`` (both certificates), and its final robust Bellman residual,
  recomputed here with :func:`mdps.srect_bellman`, must be at most ``0.75 (1 - L) tol``. Measured: the larger of
  the two errors in units of its bound (expected ``<= 1``). Reported: PI's iteration counts against
  :math:`1/(1-\gamma)` (no bound is asserted).
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case

__all__ = ["srect_agrees"]

KLWM22 = ("N. Kumar, K. Y. Levy, K. Wang and S. Mannor 2022, Efficient policy iteration for robust Markov decision "
          "processes via regularization, arXiv:2205.14327")
TOL = 1e-9
VI_TOL = 1e-11
KINDS = ("l1", "linf", "kl", "chi2")
DIV_RADIUS = 0.1


def radius_for(kind, S, gamma):
    """Relaxed balls: the radius making the modulus bound ``L = gamma + (1 - gamma) / 4``; divergence balls: 0.1."""
    if kind in mdps.S_EXACT_KINDS:
        return DIV_RADIUS
    r = 0.25 * (1.0 - gamma) / gamma
    return r if kind == "l1" else r / S


def _run(config, rng):
    S, A, g = config["S"], config["A"], config["gamma"]
    mdp = mdps.garnet(S, A, 3, gamma=g, rng=rng)
    rows = []
    for kind in KINDS:
        r = radius_for(kind, S, g)
        rm = mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity="s")
        pi = mdps.solve(rm, method="pi", tol=TOL)
        vi = mdps.solve(rm, method="vi", tol=VI_TOL)
        L = g if kind in mdps.S_EXACT_KINDS else g * (1.0 + r * (1.0 if kind == "l1" else S))
        V = np.asarray(pi.V)
        residual = float(np.abs(mdps.srect_bellman(rm, V)[0] - V).max())
        rows.append({"kind": kind, "L": L, "n_iter": pi.n_iter, "horizon": 1.0 / (1.0 - g),
                     "vs_vi": float(np.abs(V - np.asarray(vi.V)).max()), "residual": residual,
                     "residual_bound": 0.75 * (1.0 - L) * TOL,
                     "converged": bool(pi.converged and vi.converged and L < 1.0)})
    return rows


def _measure(ctx) -> Outcome:
    grid = labkit.expand_grid(S=ctx.pick([5, 10], [5, 10, 20]), A=[2, 4], gamma=ctx.pick([0.5, 0.9], [0.5, 0.9, 0.95]))
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 8))
    ratio = np.maximum(frame.vs_vi / (0.75 * TOL + VI_TOL), frame.residual / frame.residual_bound).to_numpy()
    ratio = np.where(frame.converged.to_numpy(), ratio, np.nan)
    counts = frame.groupby(["kind", "gamma"]).n_iter.mean()
    return worst_case(
        ratio, "<=", 1.0, 0.0, frame,
        f"max over {len(frame)} (Garnet, ball) of max(|V_PI - V_VI| / (0.75 tol + 1e-11), recomputed ||T V_PI - V_PI|| "
        f"/ (0.75 (1 - L) tol)), tol = {TOL:g}; |V_PI - V_VI| up to {frame.vs_vi.max():.1e}, residual up to "
        f"{frame.residual.max():.1e}; not converged: {int((~frame.converged).sum())}. Mean PI iterations per "
        "(ball, gamma): " + ", ".join(f"{k}/{g:g}: {v:.1f}" for (k, g), v in counts.items())
        + f"; max iterations x (1 - gamma) = {(frame.n_iter / frame.horizon).max():.2f} (reported, [U]).",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots(1, 2)
    ax, bx = axes[0, 0], axes[0, 1]
    floor = 1e-6
    ys = []
    for i, kind in enumerate(KINDS):
        d = frame[frame.kind == kind]
        jitter = 1.0 + 0.05 * (i - 1.5)
        y = np.maximum(np.maximum(d.vs_vi / (0.75 * TOL + VI_TOL), d.residual / d.residual_bound), floor).to_numpy()
        ys.append(y)
        ax.scatter(d.horizon * jitter, y, s=10, marker=MARKERS[i], color=PALETTE[i], label=kind)
        bx.scatter(d.horizon * jitter, d.n_iter, s=10, marker=MARKERS[i], color=PALETTE[i], label=kind)
    reference_line(ax, 1.0, label="certified bound")
    ticks = sorted(set(frame.horizon.round(6)))
    for a in (ax, bx):
        a.set_xscale("log")
        a.set_xticks(ticks, [f"{t:g}" for t in ticks])
        a.minorticks_off()
        a.set_xlabel(r"$1/(1-\gamma)$")
    ax.set_yscale("log")
    ax.set_ylim(min(float(np.concatenate(ys).min()), 1.0) / 3.0, 3.0)
    ax.set_ylabel("error / its bound")
    bx.set_ylabel("PI iterations")
    legend(ax, outside=True, ncols=5)
    return fig


srect_agrees = register(Check(
    name="robust_pi.srect_agrees",
    paper=KLWM22,
    claim="s-rectangular robust policy iteration (relaxed L1 / L-infinity balls, exact KL / chi-square balls) stops "
          "with robust VI's value within both certificates and a recomputed robust Bellman residual within its "
          "stopping bound; iteration counts reported against 1/(1-gamma).",
    tag="U", family="robust", cost=(6, 60),
    measure=_measure, plot=_plot,
))
