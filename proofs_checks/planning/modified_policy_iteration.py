r"""Modified policy iteration and value iteration: the certified stopping rule, and the monotone
bounds of Puterman & Shin.

* ``modified_policy_iteration.same_optimum`` [R]: value iteration and modified PI (m = 5, 20),
  with the sup-norm rule and with the span (MacQueen) rule, stop within their target error
  ``tol`` of the same optimum: ``||V_returned - V*|| <= tol`` (Puterman 1994, Thm 6.3.1 and
  6.6.3). ``V*`` is the exact value of an optimal policy, computed by a linear solve in this
  module, and the error is measured here from the value the solver returned.
* ``modified_policy_iteration.monotone_bounds`` [R]: from ``v_0`` with ``T v_0 >= v_0`` (the
  solver's default ``v_0 = min R / (1 - gamma)``), the iterates increase monotonically to
  ``V*`` and ``T^k v_0 <= v_k <= V*`` (Puterman & Shin 1978; Puterman 1994, Thm 6.5.5); and the
  first step is exactly ``(T^{G(v_0)})^m v_0``, the definition of the method (a wrong number
  of evaluation sweeps or a wrong policy in them breaks this identity, not the bounds).
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.planning._instances import PUTERMAN, bellman, dense, garnet, policy_value

__all__ = ["mpi_same_optimum", "mpi_monotone_bounds"]

PS78 = "M. L. Puterman and M. C. Shin 1978"
#: The stopping rules' target error.
TARGET = 1e-8
#: Round-off allowance on top of the target: a few ulps of ||V*|| from the final sweep.
ROUNDOFF_RTOL = 1e-12
SOLVERS = (("vi", 1, "sup"), ("vi", 1, "span"), ("mpi", 5, "sup"), ("mpi", 20, "sup"), ("mpi", 20, "span"))


def _v_star(mdp) -> np.ndarray:
    """The exact optimal value: an optimal policy (from PI) evaluated by this module's own solve."""
    return policy_value(mdp, np.asarray(mdps.policy_iteration(mdp).policy))


def _solve(mdp, method, m, stopping, **kw):
    if method == "vi":
        return mdps.value_iteration(mdp, tol=TARGET, stopping=stopping, **kw)
    return mdps.modified_policy_iteration(mdp, m=m, tol=TARGET, stopping=stopping, **kw)


def _optimum_run(config, rng):
    mdp = garnet(config, rng)
    v_star = _v_star(mdp)
    scale = max(float(np.abs(v_star).max()), 1.0)
    rows = []
    for method, m, stopping in SOLVERS:
        sol = _solve(mdp, method, m, stopping)
        err = float(np.abs(np.asarray(sol.V) - v_star).max())
        greedy = float(np.abs(policy_value(mdp, np.asarray(sol.policy)) - v_star).max())
        rows.append({"solver": f"{method}(m={m}, {stopping})", "n_iter": sol.n_iter, "converged": bool(sol.converged),
                     "error": err, "excess": (err - TARGET) / scale if sol.converged else np.inf,
                     "greedy_gap": greedy})
    return rows


def _optimum_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(n_states=[50], n_actions=[5], branching=[5], gamma=ctx.pick([0.9, 0.99], [0.9, 0.99, 0.999]))
    frame = ctx.sweep(_optimum_run, grid, n_seeds=ctx.pick(5, 20))
    by_solver = frame.groupby("solver")["error"].max()
    return worst_case(
        frame["excess"].to_numpy(), "<=", 0.0, ROUNDOFF_RTOL, frame,
        f"(||V_returned - V*|| - {TARGET:g}) / max(1, ||V*||), with V* an optimal policy's exact value; every "
        "run must also report convergence. Worst error by solver: "
        + ", ".join(f"{k} {v:.2e}" for k, v in by_solver.items())
        + f"; worst exact loss of the greedy policies: {frame['greedy_gap'].max():.2e}.",
    )


def _optimum_plot(result):
    from labkit.figures import MARKERS, legend, reference_line, subplots

    data = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (solver, g) in enumerate(data.groupby("solver")):
        ax.scatter(g["n_iter"], g["error"].clip(lower=1e-18), s=9, label=solver, marker=MARKERS[i % len(MARKERS)])
    reference_line(ax, TARGET, label="theorem: target tol")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("improvement steps (VI: sweeps)")
    ax.set_ylabel(r"$\|V - V^*\|_\infty$ at stop")
    legend(ax, outside=True)
    return fig


mpi_same_optimum = register(Check(
    name="modified_policy_iteration.same_optimum",
    paper=PS78 + "; " + PUTERMAN + ", Thm 6.3.1, 6.5.5 and 6.6.3",
    claim="Value iteration and modified policy iteration (m = 5, 20), with the sup-norm and the span "
          "(MacQueen) stopping rules, return a value within their target error of the exact V*.",
    tag="R", family="planning", cost=(2, 10),
    measure=_optimum_measure, plot=_optimum_plot,
))


#: Comparisons of iterates are exact up to round-off of O(||V*||) sums.
MONOTONE_RTOL = 1e-12


def _monotone_run(config, rng):
    mdp = garnet(config, rng)
    m = config["m"]
    v_star = _v_star(mdp)
    scale = max(float(np.abs(v_star).max()), 1.0)
    sol = mdps.modified_policy_iteration(mdp, m=m, tol=TARGET, keep_iterates=True)
    it = np.asarray(sol.trace["iterates"])
    v0 = it[0]
    S = mdp.n_states
    # first step by definition: sigma = G(v0), then m sweeps of T^sigma
    P, R = dense(mdp)
    sigma = (R + mdp.gamma * P @ v0).argmax(axis=1)
    v1 = v0.copy()
    for _ in range(m if sol.n_iter > 1 else 1):
        v1 = R[np.arange(S), sigma] + mdp.gamma * P[np.arange(S), sigma] @ v1
    identity = float(np.abs(it[1] - v1).max()) / scale
    lower, worst_low, worst_high = v0, 0.0, 0.0
    for k in range(it.shape[0]):
        if k:
            lower = bellman(mdp, lower)
        worst_low = max(worst_low, float((lower - it[k]).max()) / scale)  # T^k v0 <= v_k
        worst_high = max(worst_high, float((it[k] - v_star).max()) / scale)  # v_k <= V*
    return {"identity": identity, "lower_violation": worst_low, "upper_violation": worst_high,
            "n_iter": sol.n_iter}


def _monotone_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(n_states=[30], n_actions=[4], branching=[3], gamma=[0.9, 0.99], m=[1, 3, 10])
    frame = ctx.sweep(_monotone_run, grid, n_seeds=ctx.pick(4, 20))
    worst = np.maximum.reduce([frame[c].to_numpy() for c in ("identity", "lower_violation", "upper_violation")])
    return worst_case(
        worst, "<=", 0.0, MONOTONE_RTOL, frame,
        f"over {len(frame)} Garnet runs (m in {{1, 3, 10}}), relative to max(1, ||V*||): largest violation of "
        f"T^k v_0 <= v_k {frame.lower_violation.max():.1e}, of v_k <= V* {frame.upper_violation.max():.1e}, and "
        f"largest gap of the first step to (T^G(v_0))^m v_0 {frame.identity.max():.1e}.",
    )


mpi_monotone_bounds = register(Check(
    name="modified_policy_iteration.monotone_bounds",
    paper=PS78 + "; " + PUTERMAN + ", Thm 6.5.5",
    claim="From v_0 with T v_0 >= v_0, modified policy iteration's iterates satisfy T^k v_0 <= v_k <= V*, "
          "and its first step is exactly (T^{G(v_0)})^m v_0.",
    tag="R", family="planning", cost=(2, 10),
    measure=_monotone_measure,
))
