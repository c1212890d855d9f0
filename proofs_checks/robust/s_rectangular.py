r"""s-rectangular L1 and L-infinity balls: the closed forms of Kumar et al. on their relaxed set, against cvxpy.

N. Kumar, K. Wang, K. Y. Levy and S. Mannor, "Efficient value iteration for s-rectangular robust
Markov decision processes", ICML 2024. The set at state ``s`` is
:math:`U_s = \{\hat P_s + D : D 1 = 0,\ \|D\|_p \le r_s\}` over the stacked ``(A, S)`` block, **without**
``P >= 0`` (the relaxed set the closed forms hold on). Derivation in :func:`mdps.srect_bellman`:
:math:`(T_U V)(s) = \max_{\pi \in \Delta_A} \langle \pi, \hat Q_s\rangle - \gamma r_s \kappa_q(V) \|\pi\|_q`; for
L1 (q = inf) the best ``pi`` is uniform on the top ``k`` actions (randomised), for L-infinity (q = 1) greedy.

* ``robust_srect.closed_form_cvxpy`` **[R]**: on small random instances (``S <= 5``, ``A <= 4``, both
  balls, radii 0.05 to 2, random values ``V``), for every state: (i) the closed-form value equals
  cvxpy's solution of the relaxed max-min (outer ``pi`` jointly with the Lagrange dual of the inner
  LP, :func:`mdps._robust_reference.srect_bellman_cvxpy`) within ``1e-6 * max(1, |T V|)``, (ii) the
  returned randomised policy attains it: cvxpy's primal inner minimum at that policy
  (:func:`mdps._robust_reference.srect_inner_cvxpy`) gives the same value, (iii) the policy rows lie on
  the simplex, and (iv) the relaxed value is at most the simplex-constrained one (the relaxed set is
  larger; exact). Reported: how often ``p >= 0`` binds (the simplex-constrained value, by cvxpy,
  exceeds the relaxed one by more than 1e-6): there the closed forms do *not* give the robust value of
  the true s-rectangular ball.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from mdps import _robust_reference as ref

__all__ = ["closed_form_cvxpy"]

KUMAR24 = ("N. Kumar, K. Wang, K. Y. Levy and S. Mannor 2024, Efficient value iteration for s-rectangular robust "
           "Markov decision processes, ICML 2024")
#: interior-point accuracy of cvxpy/Clarabel (gap tolerances 1e-10), with a margin
CVXPY_RTOL = 1e-6
RADII = (0.05, 0.3, 1.0, 2.0)


def _run(config, rng):
    S, A, g = config["S"], config["A"], config["gamma"]
    mdp = mdps.garnet(S, A, min(S, 3), gamma=g, rng=rng)
    rows = []
    for kind in mdps.S_KINDS:
        r = float(rng.choice(RADII))
        rm = mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity="s")
        V = rng.normal(size=S) * 10.0 ** rng.uniform(0, 2)
        TV, pol = mdps.srect_bellman(rm, V)
        for s in range(S):
            scale = max(1.0, abs(TV[s]))
            relaxed, _ = ref.srect_bellman_cvxpy(mdp.P[s], mdp.R[s], V, g, r, kind, relaxed=True)
            attained = float(mdp.R[s] @ pol[s]) + g * ref.srect_inner_cvxpy(mdp.P[s], V, pol[s], r, kind)
            exact, _ = ref.srect_bellman_cvxpy(mdp.P[s], mdp.R[s], V, g, r, kind, relaxed=False)
            rows.append({
                "kind": kind, "radius": r,
                "vs_relaxed": abs(TV[s] - relaxed) / scale, "attained": abs(TV[s] - attained) / scale,
                "simplex": max(float(-pol[s].min()), abs(float(pol[s].sum()) - 1.0)),
                "above_exact": (TV[s] - exact) / scale, "binding": bool(exact - TV[s] > CVXPY_RTOL * scale),
                "gap_to_exact": (exact - TV[s]) / scale, "randomised": bool((pol[s] > 0).sum() > 1)})
    return rows


COLUMNS = ("vs_relaxed", "attained", "simplex", "above_exact")


def _measure(ctx) -> Outcome:
    grid = labkit.expand_grid(S=[3, 5], A=[2, 4], gamma=[0.9])
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 10))
    worst = frame[list(COLUMNS)].max(axis=1).to_numpy()
    top = frame[list(COLUMNS)].max()
    bind = frame.groupby("radius").binding.mean()
    return worst_case(
        worst, "<=", 0.0, CVXPY_RTOL, frame,
        f"max over {len(frame)} (instance, ball, state) of the largest of: |closed form - cvxpy relaxed max-min| "
        f"({top.vs_relaxed:.1e}), |closed form - cvxpy inner minimum at the returned policy| ({top.attained:.1e}), "
        f"the policy's distance to the simplex ({top.simplex:.1e}), and relaxed minus simplex-constrained value "
        f"({top.above_exact:.1e}); all relative to max(1, |T V|). Randomised greedy policies: "
        f"{frame.randomised.mean():.0%} of states. p >= 0 binds (simplex-constrained value above the relaxed one by "
        "> 1e-6) at a fraction of states per radius: " + "; ".join(f"r={k:g}: {v:.0%}" for k, v in bind.items())
        + " -- there the closed forms are the relaxed set's value, not the true s-rectangular ball's.",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, kind in enumerate(mdps.S_KINDS):
        g = frame[frame.kind == kind]
        x = g.radius.to_numpy() * (1.0 + 0.06 * (i - 0.5))
        err = np.maximum(g[["vs_relaxed", "attained"]].max(axis=1).to_numpy(), 1e-16)
        ax.scatter(x, err, s=8, marker=MARKERS[i], color=PALETTE[i], label=f"{kind}: |closed form - cvxpy (relaxed)|")
        gap = g.gap_to_exact.to_numpy()
        keep = gap > 1e-16
        ax.scatter(x[keep], gap[keep], s=8, marker=MARKERS[i + 2], color=PALETTE[i + 2], alpha=0.6,
                   label=f"{kind}: simplex-constrained minus relaxed value")
    reference_line(ax, CVXPY_RTOL, label="tolerance of the identity (cvxpy accuracy)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("radius $r_s$")
    ax.set_ylabel("relative difference")
    legend(ax, outside=True, ncols=2)
    return fig


closed_form_cvxpy = register(Check(
    name="robust_srect.closed_form_cvxpy",
    paper=KUMAR24,
    claim="On the relaxed s-rectangular L1 and L-infinity balls (no p >= 0), the closed-form robust Bellman operator "
          "equals cvxpy's max-min, its randomised greedy policy attains it, and it lies below the "
          "simplex-constrained value.",
    tag="R", family="robust", cost=(6, 60),
    measure=_measure, plot=_plot,
))
