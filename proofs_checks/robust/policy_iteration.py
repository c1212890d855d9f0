r"""Robust policy iteration on (s,a)-rectangular L-infinity balls: same optimum as robust VI, monotone, iteration counts.

Iyengar (2005, Math. Oper. Res. 30(2), Sec. 4): robust policy iteration -- exact robust evaluation of
the current deterministic policy, then greedy improvement against the robust ``Q`` -- improves
monotonically, :math:`V^{\pi_{k+1}}_U \ge V^{\pi_k}_U` (exact: :math:`T^{\pi_{k+1}}_U V^{\pi_k}_U = T_U V^{\pi_k}_U
\ge V^{\pi_k}_U` and :math:`T^{\pi_{k+1}}_U` is a monotone contraction), and stops at the robust optimum.

* ``robust_pi.iteration_count`` **[R]** (exact parts) **[U]** (the count bound): on Garnets with
  L-infinity balls of radius 0.1 (``S`` in {5, 20} and ``A`` in {2, 4} at quick scale; ``S`` from 5 to
  80 and ``A`` in {2, 4, 8} at full scale; ``gamma`` in {0.5, 0.9, 0.99}), started from
  action 0 everywhere: (i) :func:`mdps.solve` ``(method="pi")`` and ``(method="vi")`` give the same
  robust value within their certified tolerances (``1e-10`` each), (ii) the robust values of the
  evaluated policies, recomputed here by :func:`mdps.robust_evaluate` (iterating
  :math:`T^\pi_U`, independent of PI's own evaluation) to ``1e-11``, never decrease from one iteration to
  the next. Measured: the larger violation, expected ``<= 0`` within ``3e-10``. Reported, not
  asserted: the iteration counts against ``S``, ``A`` and :math:`1/(1-\gamma)`, and their ratio to a bound
  of the recalled form :math:`B = S A/(1-\gamma)\,\log(S/(1-\gamma))` (the Ye/Scherrer bound for nominal
  policy iteration; Asadi et al., COLT 2026, prove robust PI strongly polynomial for fixed
  :math:`\gamma` -- their bound could not be read here, the form is recalled [U]).
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.robust.inner import IYENGAR05

__all__ = ["iteration_count"]

TOL = 1e-10
EVAL_TOL = 1e-11
#: |V_PI - V_VI| <= TOL + TOL; each recomputed robust value is within EVAL_TOL: slack for round-off
VALUE_TOL = 3e-10
RADIUS = 0.1


def recalled_bound(S, A, gamma):
    """The recalled form [U] ``S A / (1 - gamma) * log(S / (1 - gamma))``."""
    return S * A / (1.0 - gamma) * np.log(S / (1.0 - gamma))


def _run(config, rng):
    S, A, g = config["S"], config["A"], config["gamma"]
    mdp = mdps.garnet(S, A, 3, gamma=g, rng=rng)
    rm = mdps.RobustMDP(mdp, kind="linf", radius=RADIUS)
    pi_sol = mdps.solve(rm, method="pi", tol=TOL, pi0=np.zeros(S, dtype=np.int64))
    vi_sol = mdps.solve(rm, method="vi", tol=TOL)
    values = [np.asarray(mdps.robust_evaluate(rm, pi, tol=EVAL_TOL).V) for pi in np.asarray(pi_sol.policy_history)]
    drops = [float((values[k] - values[k + 1]).max()) for k in range(len(values) - 1)]
    return [{"n_iter": pi_sol.n_iter, "bound": recalled_bound(S, A, g),
             "pi_vs_vi": float(np.abs(np.asarray(pi_sol.V) - np.asarray(vi_sol.V)).max()),
             "last_vs_vi": float(np.abs(values[-1] - np.asarray(vi_sol.V)).max()),
             "decrease": max(drops) if drops else -np.inf,
             "converged": bool(pi_sol.converged and vi_sol.converged)}]


def _measure(ctx) -> Outcome:
    grid = labkit.expand_grid(S=ctx.pick([5, 20], [5, 10, 20, 40, 80]), A=ctx.pick([2, 4], [2, 4, 8]), gamma=[0.5, 0.9, 0.99])
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 10))
    worst = np.maximum(frame[["pi_vs_vi", "last_vs_vi"]].max(axis=1).to_numpy() - 2 * TOL, frame.decrease.to_numpy())
    worst = np.where(frame.converged.to_numpy(), worst, np.nan)
    counts = frame.groupby(["gamma"]).n_iter.max()
    by_s = frame.groupby("S").n_iter.mean()
    return worst_case(
        worst, "<=", 0.0, VALUE_TOL, frame,
        f"max over {len(frame)} Garnets (L-inf ball r = {RADIUS}) of max(|V_PI - V_VI| - 2e-10, the largest decrease "
        f"of the recomputed robust value between PI iterations); |V_PI - V_VI| up to {frame.pi_vs_vi.max():.1e}, "
        f"largest decrease {frame.decrease.max():.1e}. Iterations: max per gamma "
        + ", ".join(f"{k:g}: {v}" for k, v in counts.items()) + "; mean per S "
        + ", ".join(f"{k}: {v:.1f}" for k, v in by_s.items())
        + f"; max count / (S A/(1-gamma) log(S/(1-gamma))) = {(frame.n_iter / frame.bound).max():.1e} (recalled form, [U]).",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (g, d) in enumerate(frame.groupby("gamma")):
        x = d.S.to_numpy() * d.A.to_numpy() * (1.0 + 0.04 * (i - 1))
        ax.scatter(x, d.n_iter / d.bound, s=10, marker=MARKERS[i], color=PALETTE[i], label=rf"$\gamma = {g:g}$")
    reference_line(ax, 1.0, label=r"recalled bound $SA/(1-\gamma)\,\log(S/(1-\gamma))$ [U]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$S \cdot A$")
    ax.set_ylabel("robust PI iterations / recalled bound")
    legend(ax, outside=True, ncols=2)
    return fig


iteration_count = register(Check(
    name="robust_pi.iteration_count",
    paper=IYENGAR05 + "; counts compared with the form of the strongly polynomial bound recalled from Asadi et al., "
                      "COLT 2026 [U]",
    claim="Robust policy iteration reaches robust VI's optimum and improves the robust value monotonically; its "
          "iteration count is reported against S, A and 1/(1-gamma).",
    tag="R", family="robust", cost=(3, 60),
    measure=_measure, plot=_plot,
))
