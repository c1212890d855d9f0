r"""The inner worst-case problem of robust MDPs, solved exactly: fast kernels against exact constructions.

Problem: :math:`\sigma(v) = \min\{\langle p, v\rangle : p \in \Delta_S,\ D(p, \hat p) \le r\}` for the L1, TV,
L-infinity, KL and chi-square balls (Iyengar 2005, Mathematics of Operations Research 30(2); Nilim &
El Ghaoui 2005, Operations Research 53(5)). Derivations of the fast algorithms (sorted constructions,
the one-dimensional KL dual, the chi-square scan) are in :mod:`mdps.robust` and docs/theory/robust.md.

* ``robust.inner_exact`` **[R]**: on random instances (nominal rows with zeros, values of scale 1
  to 100, radii from 1e-3 to 5) the value returned by :func:`mdps.robust_inner` equals the value of
  an independent exact primal construction (:mod:`mdps._robust_reference`: NumPy sorted
  constructions for L1/TV/L-infinity, the tilted and clipped families with the multiplier found
  by Brent's method for KL and chi-square) within ``1e-12 * max(1, ||v||_inf)``, and the
  minimiser returned by :func:`mdps.robust_argmin` is a distribution in the ball (to round-off)
  attaining that value. Measured: the largest of the three scaled discrepancies.
* ``robust.inner_cvxpy`` **[R]**: on a few dozen small instances the fast value equals cvxpy's
  (Clarabel) solution of the same convex program within ``1e-6`` relative to ``max(1, ||v||_inf)``
  (the interior-point solver's own accuracy is about 1e-8 to 1e-7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from mdps import _robust_reference

__all__ = ["inner_exact", "inner_cvxpy", "divergence"]

KINDS = ("l1", "tv", "linf", "kl", "chi2")
IYENGAR05 = ("G. N. Iyengar 2005, Robust dynamic programming, Math. Oper. Res. 30(2); A. Nilim and L. El Ghaoui "
             "2005, Robust control of MDPs with uncertain transition matrices, Oper. Res. 53(5)")
#: exact constructions agree to round-off of O(S) flops on values of size ||v||_inf
EXACT_TOL = 1e-12
#: interior-point accuracy of cvxpy/Clarabel (gap tolerance 1e-8), with a margin
CVXPY_RTOL = 1e-6
RADII = (1e-3, 0.05, 0.3, 1.0, 5.0)


def divergence(kind: str, p, p0) -> float:
    """``D(p, p0)`` of the ball ``kind``; ``inf`` if ``p`` puts mass outside ``p0``'s support (KL, chi2)."""
    p, p0 = np.asarray(p, float), np.asarray(p0, float)
    if kind == "l1":
        return float(np.abs(p - p0).sum())
    if kind == "tv":
        return float(0.5 * np.abs(p - p0).sum())
    if kind == "linf":
        return float(np.abs(p - p0).max())
    s = p0 > 0
    if np.any(p[~s] > 0):
        return float("inf")
    if kind == "kl":
        t = s & (p > 0)
        return float(np.sum(p[t] * np.log(p[t] / p0[t])))
    return float(np.sum((p[s] - p0[s]) ** 2 / p0[s]))


def random_instance(rng, n):
    """A nominal row with about a third of its entries zero, values of a random scale in [1, 100]."""
    p0 = rng.dirichlet(np.full(n, 0.7))
    p0[rng.random(n) < 0.3] = 0.0
    if p0.sum() == 0.0:
        p0[rng.integers(n)] = 1.0
    p0 /= p0.sum()
    v = rng.normal(size=n) * 10.0 ** rng.uniform(0, 2)
    return p0, v


def _exact_run(config, rng):
    rows = []
    for kind in KINDS:
        for r in RADII:
            for _ in range(config["per_cell"]):
                p0, v = random_instance(rng, int(rng.integers(2, config["max_n"] + 1)))
                scale = max(1.0, float(np.abs(v).max()))
                fast = mdps.robust_inner(p0, v, r, kind=kind)
                p = mdps.robust_argmin(p0, v, r, kind=kind)
                q = _robust_reference.ARGMIN[kind](p0, v, r)
                infeas = max(divergence(kind, p, p0) - r, -p.min(), abs(p.sum() - 1.0)) / max(1.0, r)
                rows.append({"kind": kind, "radius": r, "n": v.size, "exact_gap": abs(fast - q @ v) / scale,
                             "argmin_gap": abs(fast - p @ v) / scale, "infeasibility": max(infeas, 0.0)})
    return rows


def _exact_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(per_cell=[ctx.pick(20, 200)], max_n=[ctx.pick(12, 60)])
    frame = ctx.sweep(_exact_run, grid, n_seeds=ctx.pick(1, 4))
    worst = frame[["exact_gap", "argmin_gap", "infeasibility"]].max(axis=1).to_numpy()
    by_kind = frame.groupby("kind")[["exact_gap", "argmin_gap", "infeasibility"]].max()
    return worst_case(
        worst, "<=", 0.0, EXACT_TOL, frame,
        f"max over {len(frame)} random instances (5 balls x radii {list(RADII)}, nominal rows with zeros, "
        "S up to " f"{frame.n.max()}) of the largest of |fast - exact primal| / max(1, ||v||_inf), |fast - <p_fast, v>| "
        "/ max(1, ||v||_inf) and the fast minimiser's infeasibility (divergence - r, negative mass, "
        "|sum - 1|); per ball: " + "; ".join(
            f"{k}: {row.exact_gap:.1e} / {row.argmin_gap:.1e} / {row.infeasibility:.1e}" for k, row in by_kind.iterrows()),
    )


def cvxpy_value(p0, v, r, kind) -> float:
    """cvxpy's (Clarabel) value of the same convex program (only for checks: slow)."""
    import cvxpy as cp

    n = p0.size
    p = cp.Variable(n, nonneg=True)
    cons = [cp.sum(p) == 1]
    s = p0 > 0
    if kind in ("kl", "chi2") and not s.all():
        cons.append(p[np.flatnonzero(~s)] == 0)
    ps, q = p[np.flatnonzero(s)], p0[s]
    if kind == "l1":
        cons.append(cp.norm1(p - p0) <= r)
    elif kind == "tv":
        cons.append(0.5 * cp.norm1(p - p0) <= r)
    elif kind == "linf":
        cons.append(cp.norm_inf(p - p0) <= r)
    elif kind == "kl":
        cons.append(cp.sum(cp.kl_div(ps, q)) <= r)  # kl_div(x, y) = x log(x/y) - x + y: KL on the simplex
    else:
        cons.append(cp.sum(cp.multiply(1.0 / q, cp.square(ps - q))) <= r)
    prob = cp.Problem(cp.Minimize(v @ p), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return float(prob.value)


def _cvxpy_run(config, rng):
    rows = []
    for kind in KINDS:
        for _ in range(config["per_kind"]):
            p0, v = random_instance(rng, int(rng.integers(2, 9)))
            r = float(rng.choice(RADII))
            scale = max(1.0, float(np.abs(v).max()))
            fast = mdps.robust_inner(p0, v, r, kind=kind)
            rows.append({"kind": kind, "radius": r, "rel_gap": abs(fast - cvxpy_value(p0, v, r, kind)) / scale})
    return rows


def _cvxpy_measure(ctx) -> Outcome:
    frame = ctx.sweep(_cvxpy_run, labkit.expand_grid(per_kind=[ctx.pick(6, 40)]), n_seeds=1)
    by_kind = frame.groupby("kind").rel_gap.max()
    return worst_case(
        frame.rel_gap.to_numpy(), "<=", 0.0, CVXPY_RTOL, frame,
        f"max over {len(frame)} small random instances (S <= 8, nominal rows with zeros) of |fast - cvxpy| / "
        "max(1, ||v||_inf), cvxpy with Clarabel at gap tolerance 1e-10; per ball: "
        + "; ".join(f"{k}: {g:.1e}" for k, g in by_kind.items()),
    )


def _plot(column, tol, label):
    def plot(result):
        from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

        frame = result.data
        fig, axes = subplots()
        ax = axes[0, 0]
        vals = frame[column].to_numpy()
        floor = vals[vals > 0].min() / 2 if (vals > 0).any() else tol * 1e-6  # exact zeros drawn at the floor
        for i, kind in enumerate(KINDS):
            g = frame[frame.kind == kind]
            x = g.radius.to_numpy() * np.exp(0.12 * (i - 2))
            ax.scatter(x, np.maximum(g[column].to_numpy(), floor), s=6, marker=MARKERS[i % len(MARKERS)],
                       color=PALETTE[i % len(PALETTE)], alpha=0.6, label=kind)
        reference_line(ax, tol, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(floor / 1.5, tol * 3)
        ax.set_xlabel("radius r")
        ax.set_ylabel("discrepancy / max(1, ||v||)")
        legend(ax, outside=True, ncols=3)
        return fig
    return plot


inner_exact = register(Check(
    name="robust.inner_exact",
    paper=IYENGAR05 + "; fast algorithms derived in docs/theory/robust.md",
    claim="The fast inner solutions (sorting for L1/TV/L-inf, the one-dimensional KL dual, the chi-square "
          "scan) equal independent exact primal constructions within 1e-12 and return a feasible minimiser.",
    tag="R", family="robust", cost=(2, 30),
    measure=_exact_measure, plot=_plot("exact_gap", EXACT_TOL, "tolerance 1e-12 (round-off)"),
))

inner_cvxpy = register(Check(
    name="robust.inner_cvxpy",
    paper=IYENGAR05 + "; cvxpy (Diamond and Boyd 2016, arXiv 1603.00943) as referee",
    claim="The fast inner solutions equal cvxpy's solution of the same convex program within 1e-6 relative.",
    tag="R", family="robust", cost=(3, 30),
    measure=_cvxpy_measure, plot=_plot("rel_gap", CVXPY_RTOL, "tolerance 1e-6 (cvxpy's accuracy)"),
))
