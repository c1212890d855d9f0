r"""IWOCS's estimates bracket the robust optimum and its certificate bounds the robust gap.

A. Zouitine, M. Geist, E. Rachelson, "Solving robust MDPs as a sequence of static RL problems",
preprint 2024, arXiv:2410.06212 (Algorithm 1, Properties 1-2); the tabular instance with exact
inner solves is :func:`algorithms.robust.iwocs`. Ground truth here: robust value iteration
(:func:`mdps.robust_value_iteration`, certified sup error ``1e-10``) for :math:`V^*_U` and robust
policy evaluation (:func:`mdps.robust_evaluate`, ``1e-10``) for each returned policy, both run by
the check. Objective :math:`\rho^\top V` (the Garnet's uniform start distribution).

* ``iwocs.monotone_estimates`` **[R]**: on every iteration ``i`` of every run, the reported
  ``lower_i <= rho . V*_U <= upper_i``, ``lower`` non-decreasing and ``upper`` non-increasing.
  Derivation (Property 1 and 2 of the paper, and robust evaluation's certified error): each model
  found lies in ``U``, so :math:`Q_i = \min_j Q^*_{T_j} \ge Q^*_U` and
  :math:`\max_a Q_i \ge V^*_U`; ``Q_i`` is a running minimum; ``lower`` is a running maximum of
  certified robust values of policies, each at most :math:`\rho^\top V^*_U`. Measured: the largest
  violation over the four inequalities, expected ``<= 0`` within ``TOL`` = 1e-9 (robust VI's
  certified 1e-10 error on each side, and round-off).
* ``iwocs.certificate_bounds_gap`` **[R]**: on every iteration, the certificate
  ``upper_i - lower_i`` is at least the true robust suboptimality of the policy returned at that
  iteration (the incumbent), :math:`\rho^\top (V^*_U - V^{\pi}_U)`, both terms computed by the
  check. Measured: the largest ``gap - certificate``, expected ``<= 0`` within ``TOL``. Valid for
  (s,a)-rectangular sets with an exact worst-case search (all of this check's instances); not
  claimed for s-rectangular sets.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.robust.inner import KINDS

__all__ = ["monotone_estimates", "certificate_bounds_gap"]

ZGR24 = ("A. Zouitine, M. Geist, E. Rachelson, 'Solving robust MDPs as a sequence of static RL problems', "
         "preprint 2024, arXiv:2410.06212")
#: robust VI and robust evaluation are run to a certified 1e-10 each; IWOCS's own evaluations to 1e-11
VI_TOL = 1e-10
TOL = 1e-9
#: radii: large enough that the worst case moves far from the nominal model
RADII = {"l1": (0.2, 0.8), "tv": (0.1, 0.4), "linf": (0.05, 0.2), "kl": (0.1, 1.0), "chi2": (0.1, 1.0)}


def _run(config, rng):
    from algorithms.robust.iwocs import iwocs

    mdp = mdps.garnet(config["S"], config["A"], config["branching"], gamma=config["gamma"], rng=rng)
    rows = []
    for kind in KINDS:
        for r in RADII[kind]:
            rm = mdps.RobustMDP(mdp, kind=kind, radius=r)
            v_star = float(mdp.rho @ np.asarray(mdps.robust_value_iteration(rm, tol=VI_TOL).V))
            res = iwocs(rm, max_iter=config["max_iter"])
            cache = {}
            for i in range(res.n_iter):
                key = tuple(res.incumbents[i])
                if key not in cache:
                    cache[key] = float(mdp.rho @ np.asarray(mdps.robust_evaluate(rm, res.incumbents[i], tol=VI_TOL).V))
                rows.append({
                    "kind": kind, "radius": r, "iteration": i, "v_star": v_star, "upper": float(res.upper[i]),
                    "lower": float(res.lower[i]), "certificate": float(res.certificate[i]),
                    "gap": v_star - cache[key],
                    "lower_decrease": float(res.lower[i - 1] - res.lower[i]) if i else -np.inf,
                    "upper_increase": float(res.upper[i] - res.upper[i - 1]) if i else -np.inf,
                    "status": res.status, "n_iter": res.n_iter})
    return rows


def _frame(ctx):
    grid = labkit.expand_grid(S=[6, 20], A=[3], branching=[4], gamma=[0.9], max_iter=[50])
    return ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 10))


def _monotone_measure(ctx) -> Outcome:
    frame = _frame(ctx)
    parts = {"lower - V*_U": frame.lower - frame.v_star, "V*_U - upper": frame.v_star - frame.upper,
             "decrease of lower": frame.lower_decrease, "increase of upper": frame.upper_increase}
    worst = np.max(np.column_stack([p.to_numpy() for p in parts.values()]), axis=1)
    runs = frame[frame.iteration == 0]
    return worst_case(
        worst, "<=", 0.0, TOL, frame,
        f"max over {len(frame)} iterations of {len(runs)} IWOCS runs (Garnets S in {{6, 20}}, A = 3, gamma = 0.9, "
        "every ball at two radii) of the largest of: " + "; ".join(f"{k} ({v.max():.1e})" for k, v in parts.items())
        + f"; V*_U by robust VI to a certified 1e-10. Iterations per run: {runs.n_iter.min()} to "
        f"{runs.n_iter.max()}; statuses: {({k: int(v) for k, v in runs.status.value_counts().items()})}.",
    )


def _certificate_measure(ctx) -> Outcome:
    frame = _frame(ctx)
    excess = (frame.gap - frame.certificate).to_numpy()
    runs = frame[frame.iteration == 0]
    return worst_case(
        excess, "<=", 0.0, TOL, frame,
        f"max over {len(frame)} iterations of {len(runs)} IWOCS runs (Garnets S in {{6, 20}}, A = 3, gamma = 0.9, "
        "every ball at two radii) of rho.(V*_U - V^pi_U) - certificate, pi the policy returned at that iteration, "
        f"both values recomputed by robust VI / robust evaluation to 1e-10; largest true gap {frame.gap.max():.2e}, "
        f"largest certificate {frame.certificate.max():.2e}, final certificates <= {frame.groupby(['replicate', 'S', 'kind', 'radius']).certificate.last().max():.1e}.",
    )


def _estimates_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    first = frame[(frame.S == frame.S.max()) & (frame.replicate == frame.replicate.min())]
    for i, kind in enumerate(KINDS):
        run = first[(first.kind == kind) & (first.radius == RADII[kind][-1])].sort_values("iteration")
        x = run.iteration.to_numpy()
        c = PALETTE[i % len(PALETTE)]
        ax.plot(x, run.upper / run.v_star, marker=MARKERS[0], markersize=4, color=c, label=f"{kind}: upper")
        ax.plot(x, run.lower / run.v_star, marker=MARKERS[1], markersize=4, color=c, linestyle=":",
                label=f"{kind}: lower")
    reference_line(ax, 1.0, label=r"$\rho^\top V^*_U$ (robust VI)")
    ax.set_xlabel("IWOCS iteration $i$")
    ax.set_ylabel(r"estimate / $\rho^\top V^*_U$")
    ax.xaxis.get_major_locator().set_params(integer=True)
    legend(ax, outside=True, ncols=3)
    return fig


def _certificate_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    pos = frame[frame.certificate > 1e-8]
    for i, kind in enumerate(KINDS):
        g = pos[pos.kind == kind]
        jitter = np.linspace(-0.2, 0.2, len(g)) if len(g) else np.zeros(0)
        ax.scatter(g.iteration + jitter, g.gap / g.certificate, s=8, marker=MARKERS[i % len(MARKERS)],
                   color=PALETTE[i % len(PALETTE)], alpha=0.6, label=kind)
    reference_line(ax, 1.0, label="theorem: true gap / certificate $\\leq 1$")
    ax.set_ylim(-0.05, 1.15)
    ax.set_xlabel("IWOCS iteration $i$ (iterations with certificate > 1e-8)")
    ax.set_ylabel(r"$\rho^\top(V^*_U - V^{\pi_i}_U)$ / certificate$_i$")
    ax.xaxis.get_major_locator().set_params(integer=True)
    legend(ax, outside=True, ncols=3)
    return fig


monotone_estimates = register(Check(
    name="iwocs.monotone_estimates",
    paper=ZGR24 + " (Properties 1-2)",
    claim="IWOCS's upper estimates (from the models found) are non-increasing, its certified lower estimates "
          "non-decreasing, and lower <= rho.V*_U <= upper at every iteration, on (s,a)-rectangular balls.",
    tag="R", family="robust", cost=(5, 90),
    measure=_monotone_measure, plot=_estimates_plot,
))

certificate_bounds_gap = register(Check(
    name="iwocs.certificate_bounds_gap",
    paper=ZGR24,
    claim="At every iteration, IWOCS's certificate upper - lower is at least the true robust suboptimality "
          "rho.(V*_U - V^pi_U) of the policy it returns, on (s,a)-rectangular balls with exact worst-case search.",
    tag="R", family="robust", cost=(5, 90),
    measure=_certificate_measure, plot=_certificate_plot,
))
