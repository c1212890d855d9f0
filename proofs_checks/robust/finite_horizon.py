r"""Finite-horizon robust DP: the worst-case model and the greedy policy certify each other.

Iyengar (2005, Math. Oper. Res. 30(2), Thm 2.1) and Nilim & El Ghaoui (2005, Oper. Res. 53(5), Thm 2.1):
for (s,a,h)-rectangular sets robust backward induction
:math:`V_h(s) = \max_a R_h(s,a) + \min_{p \in U_{h,s,a}} \langle p, V_{h+1}\rangle`, :math:`V_H = 0`, gives the
robust optimum; the s-rectangular version (Kumar, Wang, Levy and Mannor, ICML 2024, on their relaxed L1 /
L-infinity ball; and the exact KL / chi-square balls :math:`\sum_a D(p_a\|\hat p_{s,a}) \le r_s`) maximises
over randomised :math:`\pi_h(\cdot|s)` (:func:`mdps.robust_backward_induction`).

* ``robust_fh.worst_case_consistency`` **[R]**: on random stage-dependent episodic MDPs
  (:func:`mdps.random_finite_horizon`), every (s,a)-rectangular ball and the four s-rectangular balls
  (relaxed L1 / L-infinity, exact KL / chi-square) over a radius grid, the check recomputes from what the
  solver returned: (i) the returned policy's plain finite-horizon value on the returned worst-case model
  (:func:`mdps.evaluate_finite_horizon` on a :class:`mdps.TabularMDP` built from ``P_worst``, which
  validates its rows; the written-out linear recursion for the s-rectangular models, whose relaxed rows
  may be negative) equals the robust value -- exact, derived in :mod:`mdps.robust_horizon`; (ii)
  ((s,a)-rectangular) nominal backward induction on ``P_worst`` gives the same value (the saddle point);
  (iii) ``P_worst`` lies in the ball at every stage (each row's divergence; for s-rectangular sets the
  stacked block's norm (relaxed L1 / L-infinity) or the sum of the rows' divergences (KL / chi-square),
  recomputed here); (iv) the robust value is at most the nominal optimum and non-increasing along the
  radius grid; and (v) on a small instance, robust backward induction written out here with every inner
  problem solved by cvxpy (Clarabel) -- (s,a)-rectangular: the convex program of each ball;
  s-rectangular: the relaxed max-min LP of :func:`mdps._robust_reference.srect_bellman_cvxpy`, or the
  epigraph program of :func:`mdps._robust_reference.srect_div_cvxpy` for KL / chi-square -- reproduces the
  robust value. Measured: the largest violation in units of its tolerance (``EXACT_TOL = 1e-12`` for (i),
  (ii), (iv), values being sums of at most ``H`` rewards in [0, 1]; ``BALL_TOL = 1e-9`` for (iii), relative
  to the divergence's round-off scale, see the constant; ``CVXPY_TOL = 1e-6`` for (v), cvxpy's accuracy
  with a margin), expected ``<= 1``.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from mdps import _robust_reference as ref
from proofs_checks.robust.inner import IYENGAR05, KINDS, cvxpy_value, divergence

__all__ = ["worst_case_consistency", "robust_dp_cvxpy"]

#: exact identities on values of size <= H <= 6: summation-order round-off, a few ulp per stage
EXACT_TOL = 1e-12
#: membership of the worst model in the ball, relative to the divergence's round-off scale: the chi-square
#: minimiser comes from a threshold alpha = mu + sqrt(s^2 / (m (1 + r) - 1)) (mdps.robust), whose cancellation
#: in m (1 + r) - 1 costs up to eps / (m (1 + r) - 1) relative; the KL minimiser from a root in lambda found to
#: a few ulp. Seen: up to 2e-12 (chi2, r = 1).
BALL_TOL = 1e-9
#: interior-point accuracy of cvxpy/Clarabel (gap tolerances 1e-10), with a margin
CVXPY_TOL = 1e-6
RADII = {"l1": (0.0, 0.1, 0.3, 1.0), "tv": (0.0, 0.05, 0.15, 0.5), "linf": (0.0, 0.03, 0.1, 0.3),
         "kl": (0.0, 0.03, 0.3, 1.0), "chi2": (0.0, 0.03, 0.3, 1.0)}
CASES = (tuple((k, "sa") for k in KINDS) + tuple((k, "s") for k in mdps.S_KINDS)
         + tuple((k, "s") for k in mdps.S_EXACT_KINDS))


def robust_dp_cvxpy(mdp, kind: str, radius: float, rectangularity: str = "sa") -> np.ndarray:
    """Robust backward induction written out with cvxpy inner problems (ground truth; small instances only).

    (s,a)-rectangular: ``Q_h(s, a) = R_h(s, a) + cvxpy min over the ball of <p, V_{h+1}>``; s-rectangular: the
    relaxed per-state max-min LP. Returns ``V`` (H, S)."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        P = mdp.P_stage(h)
        R = mdp.R_stage(h)
        if rectangularity == "sa":
            V[h] = [max(R[s, a] + cvxpy_value(P[s, a], V[h + 1], radius, kind) for a in range(A)) for s in range(S)]
        elif kind in mdps.S_EXACT_KINDS:
            V[h] = [ref.srect_div_cvxpy(P[s], R[s], V[h + 1], 1.0, radius, kind)[0] for s in range(S)]
        else:
            V[h] = [ref.srect_bellman_cvxpy(P[s], R[s], V[h + 1], 1.0, radius, kind)[0] for s in range(S)]
    return V[:H]


def _linear_eval(P, R_stage, pol):
    """``V_h = sum_a pi_h(a|s) (R_h + P_h V_{h+1})``, written out (rows of ``P`` may be negative)."""
    H, S = P.shape[0], P.shape[1]
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        V[h] = np.einsum("sa,sa->s", pol[h], R_stage(h) + P[h] @ V[h + 1])
    return V[:H]


def _condition(kind, p, p0) -> float:
    """Round-off scale of ``divergence(kind, p, p0)`` when each ``p_i`` carries a relative error of a few ulp:
    ``sum_i |dD/dp_i| p_i`` -- ``2 |p_i - p0_i| p_i / p0_i`` (chi2) or ``p_i |1 + log(p_i / p0_i)|`` (KL), at least 1.
    Small nominal entries amplify it (the chi-square weights 1 / p0_i)."""
    if kind not in ("kl", "chi2"):
        return 1.0
    s = (p0 > 0) & (p > 0)
    if kind == "chi2":
        return max(1.0, float(np.sum(2.0 * np.abs(p[s] - p0[s]) * p[s] / p0[s])))
    return max(1.0, float(np.sum(p[s] * np.abs(1.0 + np.log(p[s] / p0[s])))))


def _outside(kind, rect, Pw, Pn, r):
    """How far ``Pw`` lies outside the ball of radius ``r`` around ``Pn`` (<= 0 inside), all stages, relative to
    the divergence's round-off scale (:func:`_condition`)."""
    if rect == "sa":
        return max((divergence(kind, Pw[idx], Pn[idx]) - r) / _condition(kind, Pw[idx], Pn[idx])
                   for idx in np.ndindex(Pw.shape[:3]))
    if kind in mdps.S_EXACT_KINDS:  # the exact s-rectangular ball: sum_a D(p_a || p0_a) <= r per (h, s)
        return max((sum(divergence(kind, Pw[h, s, a], Pn[h, s, a]) for a in range(Pw.shape[2])) - r)
                   / sum(_condition(kind, Pw[h, s, a], Pn[h, s, a]) for a in range(Pw.shape[2]))
                   for h, s in np.ndindex(Pw.shape[:2]))
    D = Pw - Pn  # (H, S, A, S): per (h, s) the stacked block's entrywise norm, rows summing to 0
    norm = np.abs(D).sum(axis=(2, 3)) if kind == "l1" else np.abs(D).max(axis=(2, 3))
    return max(float((norm - r).max()), float(np.abs(D.sum(axis=3)).max()))


def _run(config, rng):
    S, A, H = config["S"], config["A"], config["H"]
    mdp = mdps.random_finite_horizon(S, A, H, rng=rng)
    nominal = mdps.backward_induction(mdp).V
    Pn = np.asarray(mdp.P)
    rows = []
    for kind, rect in CASES:
        prev = None
        for r in RADII[kind]:
            sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity=rect))
            V, Pw, pol = np.asarray(sol.V), np.asarray(sol.P_worst), np.asarray(sol.policy)
            if rect == "sa":
                W = mdps.TabularMDP(Pw, mdp.R, horizon=H)
                on_worst = mdps.evaluate_finite_horizon(W, pol)
                saddle = float(np.abs(mdps.backward_induction(W).V - V).max())
            else:
                on_worst = _linear_eval(Pw, mdp.R_stage, pol)
                saddle = -np.inf
            row = {"kind": kind, "rect": rect, "radius": r, "value": float(mdp.rho @ V[0]),
                   "nominal": float(mdp.rho @ nominal[0]),
                   "on_worst": float(np.abs(on_worst - V).max()), "saddle": saddle,
                   "outside_ball": float(_outside(kind, rect, Pw, Pn, r)),
                   "above_nominal": float((V - nominal).max()),
                   "increase": float((V - prev).max()) if prev is not None else -np.inf, "cvxpy": -np.inf}
            if config["with_cvxpy"] and r > 0:
                row["cvxpy"] = float(np.abs(robust_dp_cvxpy(mdp, kind, r, rect) - V).max())
            rows.append(row)
            prev = V
    return rows


EXACT = ("on_worst", "saddle", "above_nominal", "increase")


def _measure(ctx) -> Outcome:
    grid = (labkit.expand_grid(S=[3], A=[2], H=[3], with_cvxpy=[True])
            + labkit.expand_grid(S=ctx.pick([8], [6, 12, 30]), A=[3], H=[6], with_cvxpy=[False]))
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 10))
    units = np.maximum.reduce([frame[list(EXACT)].max(axis=1).to_numpy() / EXACT_TOL,
                               frame.outside_ball.to_numpy() / BALL_TOL, frame.cvxpy.to_numpy() / CVXPY_TOL])
    top = frame[list(EXACT) + ["outside_ball", "cvxpy"]].max()
    return worst_case(
        units, "<=", 1.0, 0.0, frame,
        f"max over {len(frame)} (instance, ball, radius) runs (random stage-dependent episodic MDPs, S in {{3, 8}} (quick) or {{3, 6, 12, 30}} (full), "
        f"H in {{3, 6}}; 5 (s,a)-rectangular and 4 s-rectangular balls) of the largest violation in units of its "
        f"tolerance: |V^pi on P_worst - V_U| ({top.on_worst:.1e}), |V*_(P_worst) - V_U| ({top.saddle:.1e}), "
        f"V_U - V_nominal ({top.above_nominal:.1e}), the increase of V_U with the radius ({top.increase:.1e}) -- "
        f"tolerance {EXACT_TOL:g} --, P_worst beyond the ball relative to the divergence's round-off scale "
        f"({top.outside_ball:.1e}; tolerance {BALL_TOL:g}) and "
        f"|V_U - robust DP with cvxpy inner problems| on S = 3 ({top.cvxpy:.1e}; tolerance {CVXPY_TOL:g}).",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, figure_legend, reference_line, subplots

    frame = result.data[result.data.radius > 0]
    fig, axes = subplots(1, 2)
    ax, bx = axes[0, 0], axes[0, 1]
    for i, (kind, rect) in enumerate(CASES):
        g = frame[(frame.kind == kind) & (frame.rect == rect)]
        name = kind if rect == "sa" else f"{kind} (s-rect.)"
        c, m = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        x = np.arange(g.shape[0]) / max(g.shape[0] - 1, 1) * 0.6 + i - 0.3
        ax.scatter(x, np.maximum(g.on_worst.to_numpy(), 1e-17), s=6, color=c, marker=m, label=name)
        stats = (g.assign(ratio=g.value / g.nominal).groupby("radius").ratio.agg(["min", "max"]))
        r = stats.index.to_numpy() / stats.index.max()
        bx.plot(r, stats["min"], color=c, marker=m, markersize=3, label=name)
    reference_line(ax, EXACT_TOL, label="tolerance of an exact identity")
    reference_line(bx, 1.0, label="nominal value (theorem: robust value below it)", color="0.45")
    ax.set_yscale("log")
    ax.set_xticks(range(len(CASES)), [k if r == "sa" else f"{k}/s" for k, r in CASES], rotation=45)
    ax.set_xlabel("ball (/s: s-rectangular)")
    ax.set_ylabel(r"$\max_{h,s} |V^{\pi}_{P^w,h} - V_{U,h}|$" "\n(exact 0 drawn at $10^{-17}$)")
    bx.set_xlabel("radius / largest radius of the ball's grid")
    bx.set_ylabel(r"$\rho^\top V_{U,0} / \rho^\top V^*_0$ (worst instance)")
    figure_legend(fig, axes, ncols=4)
    return fig


worst_case_consistency = register(Check(
    name="robust_fh.worst_case_consistency",
    paper=IYENGAR05 + " (Thm 2.1 of each: finite-horizon robust DP)",
    claim="Finite-horizon robust backward induction: the greedy policy's value on the returned per-stage worst-case "
          "model equals the robust value (and, (s,a)-rectangular, so does that model's optimum), the model lies in "
          "the ball, the value is below the nominal one, non-increasing in the radius, and equals robust DP with "
          "cvxpy inner problems.",
    tag="R", family="robust", cost=(5, 40),
    measure=_measure, plot=_plot,
))
