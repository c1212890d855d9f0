r"""s-rectangular KL and chi-square balls: the exact robust Bellman operator, its saddle point, against cvxpy.

The set at state ``s`` couples the actions through one budget,
:math:`U_s = \{(p_a)_a \in \Delta_S^A : \sum_a D(p_a \| \hat P_{s,a}) \le r_s\}` with ``D`` the KL or the
chi-square divergence (zeros of the nominal rows stay zeros) -- s-rectangularity in the sense of Wiesemann, Kuhn
and Rustem (2013, Math. Oper. Res. 38(1)); divergence balls of this form are used e.g. by Ho, Petrik and Wiesemann
("Robust phi-divergence MDPs", NeurIPS 2022, arXiv:2205.14202). The robust Bellman operator
:math:`\max_{\pi \in \Delta_A} \min_{P \in U_s} \sum_a \pi_a (R_{s,a} + \gamma \langle p_a, V\rangle)` equals, by
Sion's minimax theorem (bilinear objective, convex compact sets), :math:`\min_{P \in U_s} \max_a R_{s,a} + \gamma
\langle p_a, V\rangle` **[R]**. :mod:`mdps._srect_kernels` computes it through the actions' projection costs and
returns the saddle policy :math:`\pi_a \propto -c_a'(t^*)` and the worst-case rows (derivations there).

* ``robust_srect.kl_chisq_cvxpy`` **[R]** (the minimax identity and KKT; the kernel's accuracy guarantee is
  stated in its docstring): on Garnets (``S`` in {3, 5}, ``A`` in {2, 4}, branching 2 or 3, so nominal rows have
  zeros; ``gamma = 0.9``; radii 0.01 to 5, random values ``V`` of scale 1 to 100), for every state, the check
  recomputes from what :func:`mdps.srect_saddle` returned: (i) ``|T V - cvxpy's min_P max_a|`` (epigraph form,
  exponential cone for KL, :func:`mdps._robust_reference.srect_div_cvxpy`) within ``1e-6 max(1, |T V|)``;
  (ii) the saddle property of the returned policy, ``|sum_a pi_a R_a + gamma min_P sum_a pi_a <p_a, V> - T V|``
  with the inner minimum by cvxpy (:func:`mdps._robust_reference.srect_div_inner_cvxpy`), within the same
  tolerance (the policy guarantees the value); (iii) attainment, ``|max_a R_a + gamma <P_a, V> - T V|`` from the
  returned rows, within ``1e-12 max(1, max|R| + gamma max|V|)``; (iv) feasibility, the rows' divergence summed
  here (:func:`mdps._robust_reference.srect_divergence`) at most ``r (1 + 1e-9) + 1e-12``, the rows on the simplex
  with the nominal zeros kept. Measured: the largest of the four errors, each divided by its tolerance (expected
  ``<= 1``). Reported: how often the saddle policy is randomised, and the s-rectangular value's place between the
  (s,a)-rectangular values at radius ``r`` (below) and ``r / A`` (above) -- exact set inclusions.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from mdps import _robust_reference as ref

__all__ = ["kl_chisq_cvxpy"]

WKR13 = ("W. Wiesemann, D. Kuhn and B. Rustem 2013, Robust Markov decision processes, Math. Oper. Res. 38(1) "
         "(s-rectangularity); C. P. Ho, M. Petrik and W. Wiesemann 2022, Robust phi-divergence MDPs, arXiv:2205.14202")
#: interior-point accuracy of cvxpy/Clarabel (gap tolerances 1e-10), with a margin
CVXPY_RTOL = 1e-6
#: the kernel's stated guarantee (mdps._srect_kernels): attainment and feasibility
ATTAIN_RTOL = 1e-12
FEAS_RTOL, FEAS_ATOL = 1e-9, 1e-12
RADII = (0.01, 0.1, 1.0, 5.0)
COLUMNS = ("vs_cvxpy", "saddle", "attained", "feasibility")


def _run(config, rng):
    S, A, g = config["S"], config["A"], config["gamma"]
    mdp = mdps.garnet(S, A, min(S, int(rng.integers(2, 4))), gamma=g, rng=rng)
    rows = []
    for kind in mdps.S_EXACT_KINDS:
        r = float(rng.choice(RADII))
        rm = mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity="s")
        V = rng.normal(size=S) * 10.0 ** rng.uniform(0, 2)
        TV, pol, P = (np.asarray(x) for x in mdps.srect_saddle(rm, V))
        sa_r = mdps.robust_q_values(mdps.RobustMDP(mdp, kind=kind, radius=r), V).max(axis=1)
        sa_rA = mdps.robust_q_values(mdps.RobustMDP(mdp, kind=kind, radius=r / A), V).max(axis=1)
        for s in range(S):
            scale = max(1.0, abs(TV[s]))
            cv, _ = ref.srect_div_cvxpy(mdp.P[s], mdp.R[s], V, g, r, kind)
            inner = float(pol[s] @ mdp.R[s]) + g * ref.srect_div_inner_cvxpy(mdp.P[s], V, pol[s], r, kind)
            q = mdp.R[s] + g * P[s] @ V
            vscale = max(1.0, float(np.abs(mdp.R[s]).max()) + g * float(np.abs(V).max()))
            D = ref.srect_divergence(P[s], mdp.P[s], kind)
            simplex_ok = bool((P[s] >= 0).all() and np.abs(P[s].sum(axis=1) - 1).max() <= 1e-12
                              and not ((mdp.P[s] == 0) & (P[s] > 0)).any()
                              and (pol[s] >= 0).all() and abs(pol[s].sum() - 1) <= 1e-12)
            rows.append({
                "kind": kind, "radius": r,
                "vs_cvxpy": abs(TV[s] - cv) / scale / CVXPY_RTOL,
                "saddle": abs(inner - TV[s]) / scale / CVXPY_RTOL,
                "attained": abs(float(q.max()) - TV[s]) / vscale / ATTAIN_RTOL,
                "feasibility": (max(D - r, 0.0) / (FEAS_RTOL * r + FEAS_ATOL)) if simplex_ok else np.inf,
                "randomised": bool((pol[s] > 1e-12).sum() > 1),
                "below_sa_rA": bool(TV[s] <= sa_rA[s] + 1e-9 * scale),
                "above_sa_r": bool(TV[s] >= sa_r[s] - 1e-9 * scale)})
    return rows


def _measure(ctx) -> Outcome:
    grid = labkit.expand_grid(S=[3, 5], A=[2, 4], gamma=[0.9])
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 12))
    ratio = frame[list(COLUMNS)].max(axis=1).to_numpy()
    top = frame[list(COLUMNS)].max()
    return worst_case(
        ratio, "<=", 1.0, 0.0, frame,
        f"max over {len(frame)} (instance, ball, state) of each error divided by its tolerance: |T V - cvxpy "
        f"min_P max_a| / 1e-6 ({top.vs_cvxpy:.2g}), |value the returned policy guarantees (cvxpy inner min) - T V| "
        f"/ 1e-6 ({top.saddle:.2g}), |max_a q_a(returned P) - T V| / 1e-12 ({top.attained:.2g}), divergence excess / "
        f"(1e-9 r + 1e-12) ({top.feasibility:.2g}); all relative to max(1, |T V|) or the values' scale. Randomised "
        f"saddle policies: {frame.randomised.mean():.0%} of states. Between the (s,a)-rectangular values at radius r "
        f"and r/A (exact inclusions): {(frame.below_sa_rA & frame.above_sa_r).mean():.0%} of states.",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    labels = {"vs_cvxpy": "value vs cvxpy", "saddle": "policy's guarantee", "attained": "attainment"}
    names = {"kl": "KL", "chi2": r"$\chi^2$"}
    floor = 1e-7
    for i, col in enumerate(labels):
        for j, kind in enumerate(mdps.S_EXACT_KINDS):
            g = frame[frame.kind == kind]
            x = g.radius.to_numpy() * (1.0 + 0.07 * (3 * j + i - 2.5))
            y = np.maximum(g[col].to_numpy(), floor)
            ax.scatter(x, y, s=8, marker=MARKERS[j], color=PALETTE[i], alpha=0.7,
                       label=f"{names[kind]}: {labels[col]}")
    reference_line(ax, 1.0, label="tolerance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, 10.0)
    ax.set_xlabel("budget $r_s$")
    ax.set_ylabel("error / its tolerance")
    legend(ax, outside=True, ncols=2)
    return fig


kl_chisq_cvxpy = register(Check(
    name="robust_srect.kl_chisq_cvxpy",
    paper=WKR13,
    claim="On the s-rectangular KL and chi-square balls sum_a D(p_a || p0_a) <= r_s, the robust Bellman operator "
          "max_pi min_P equals cvxpy's min_P max_a (minimax), the returned randomised policy and worst-case rows "
          "form a saddle point, and the rows are feasible and attain the value.",
    tag="R", family="robust", cost=(8, 90),
    measure=_measure, plot=_plot,
))
