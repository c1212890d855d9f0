r"""Policy iteration: strongly polynomial termination, Howard's dominance of value iteration, and
agreement with the linear program.

* ``policy_iteration.iteration_bound`` [U]: Howard PI stops after at most
  ``2 S (A-1) (1 + ceil(log(1/(1-gamma)) / (1-gamma)))`` policy-changing iterations (after
  Ye 2011, Hansen-Miltersen-Zwick 2013 and Scherrer 2016; the constant is recalled, with a
  safety factor 2: :func:`mdps.pi_iteration_bound`). The check counts the solver's
  improvement steps, requires that it stopped on a stable policy, and gives it an iteration
  cap that does not depend on the bound.
* ``policy_iteration.dominates_value_iteration`` [R]: ``V^{pi_k} >= T^k V^{pi_0}`` for every
  ``k`` (Puterman 1994, Thm 6.4.6 and its proof: ``V^{pi_{k+1}} >= T V^{pi_k}``, and ``T`` is
  monotone). Near-correct variants such as simple policy iteration (one state switched per
  step) are monotone too, but slower than value iteration, and fail this.
* ``policy_iteration.matches_lp`` [R]: PI's value and the exact value of its policy equal the
  LP's optimum (Puterman 1994, Thm 6.4.2 and Sec. 6.9).

Every value is computed here: the policies ``pi_k`` are what ``policy_iteration`` returns when
capped at ``k`` improvement steps, their values come from a linear solve in this module, and
``T^k V^{pi_0}`` from the Bellman operator written out with NumPy.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.planning._instances import PUTERMAN, bellman, garnet, policy_value

__all__ = ["pi_iteration_bound", "pi_dominates_vi", "pi_matches_lp"]

#: The iteration cap handed to the solver: far above the iterations PI takes on these instances
#: (at most about 10) and independent of the bound, so a PI that never stops is seen as such.
PI_CAP = 500


def _pi_run(config, rng):
    mdp = garnet(config, rng)
    sigma0 = np.asarray(mdp.R).argmax(axis=1)  # the myopic start, given explicitly
    sol = mdps.policy_iteration(mdp, max_iter=PI_CAP, pi0=sigma0)
    lp = mdps.linear_programming(mdp)
    scale = max(float(np.abs(lp.V).max()), 1.0)
    # the policies pi_0, ..., pi_n: pi_k is what the solver returns when capped at k steps
    worst_dominance, changes = (0.0, 0) if sol.converged else (float("nan"), sol.n_iter)
    previous, TkV = sigma0, None
    for k in range(sol.n_iter + 1 if sol.converged else 0):
        sigma = sigma0 if k == 0 else np.asarray(mdps.policy_iteration(mdp, max_iter=k, pi0=sigma0).policy)
        changes += int(np.any(sigma != previous))
        previous = sigma
        v_k = policy_value(mdp, sigma)
        TkV = v_k if k == 0 else bellman(mdp, TkV)
        worst_dominance = max(worst_dominance, float((TkV - v_k).max()) / scale)
    return {
        "n_iter": sol.n_iter, "converged": bool(sol.converged), "policy_changes": changes,
        "bound": mdps.pi_iteration_bound(mdp.n_states, mdp.n_actions, mdp.gamma),
        "dominance_violation": worst_dominance,
        "lp_gap": float(np.abs(sol.V - lp.V).max() / scale),
        "policy_value_gap": float(np.abs(policy_value(mdp, sol.policy) - lp.V).max() / scale),
    }


def _pi_frame(ctx):
    grid = labkit.expand_grid(n_states=ctx.pick([20, 50], [20, 50, 100]), n_actions=[2, 5], branching=[3],
                              gamma=ctx.pick([0.9, 0.99, 0.999], [0.9, 0.99, 0.999, 0.9999]))
    return ctx.sweep(_pi_run, grid, n_seeds=ctx.pick(5, 20), experiment="policy_iteration.garnets")


def _bound_measure(ctx) -> Outcome:
    frame = _pi_frame(ctx)
    # a run that did not stop on a stable policy within the cap fails outright
    ratio = np.where(frame["converged"], frame["policy_changes"] / frame["bound"], np.inf)
    return worst_case(
        ratio, "<=", 1.0, 0.0, frame,
        f"policy-changing iterations / bound over {len(frame)} Garnets (S in "
        f"{sorted(frame.n_states.unique().tolist())}, A in {sorted(frame.n_actions.unique().tolist())}, gamma up to "
        f"{frame.gamma.max()}), counted from the returned policies; every run must stop on a stable policy "
        f"within {PI_CAP} steps ({int((~frame.converged).sum())} did not). Most changes seen: "
        f"{frame.policy_changes.max()}, smallest bound {frame.bound.min()}: the recalled bound is far from tight.",
    )


def _bound_plot(result):
    from labkit.figures import MARKERS, legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    data = result.data
    groups = list(data.groupby(["n_states", "n_actions"]))
    for i, ((S, A), g) in enumerate(groups):
        dodge = 1.0 + 0.06 * (i - (len(groups) - 1) / 2)  # side by side, none hidden under another
        ax.scatter(dodge / (1 - g["gamma"]), g["policy_changes"] / g["bound"], s=9, marker=MARKERS[i % len(MARKERS)],
                   label=f"S={S}, A={A}")
    reference_line(ax, 1.0, label="theorem: the bound (ratio 1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"effective horizon $1/(1-\gamma)$")
    ax.set_ylabel("policy changes / bound")
    legend(ax, outside=True)
    return fig


pi_iteration_bound = register(Check(
    name="policy_iteration.iteration_bound",
    paper="B. Scherrer 2016 (arXiv:1306.0386); Ye 2011; Hansen, Miltersen & Zwick 2013",
    claim="Howard policy iteration stops on a stable policy within 2 S (A-1) (1 + ceil(log(1/(1-gamma))/(1-gamma))) "
          "policy-changing iterations (strongly polynomial bound; constant recalled).",
    tag="U", family="planning", cost=(4, 30),
    measure=_bound_measure, plot=_bound_plot,
))


#: Values come from linear solves with I - gamma P (condition number <= (1 + gamma)/(1 - gamma)):
#: round-off of a few 1e-12 relative at gamma = 0.999.
DOMINANCE_TOL = 1e-9


def _dominance_measure(ctx) -> Outcome:
    frame = _pi_frame(ctx)
    return worst_case(
        frame["dominance_violation"].to_numpy(), "<=", 0.0, DOMINANCE_TOL, frame,
        f"max over k and s of (T^k V^(pi_0) - V^(pi_k))(s) / max(1, ||V*||) over {len(frame)} Garnets: Howard's "
        "policy iteration dominates value iteration started at V^(pi_0) at every step.",
    )


pi_dominates_vi = register(Check(
    name="policy_iteration.dominates_value_iteration",
    paper=PUTERMAN + ", Thm 6.4.6 (proof); Howard 1960",
    claim="Every policy of Howard's policy iteration is at least as good as value iteration after as many "
          "sweeps from V^(pi_0): V^(pi_k) >= T^k V^(pi_0).",
    tag="R", family="planning", cost=(4, 30),
    measure=_dominance_measure,
))


#: LP (HiGHS, feasibility tolerance ~1e-7) against exact linear solves: relative sup-norm gap.
LP_TOL = 1e-7


def _lp_measure(ctx) -> Outcome:
    frame = _pi_frame(ctx)
    gaps = np.maximum(frame["lp_gap"], frame["policy_value_gap"])
    return worst_case(
        gaps, "<=", 0.0, LP_TOL, frame,
        "relative sup-norm gap between policy iteration's value (and the exact value of its "
        f"policy) and the LP's optimal value, over {len(frame)} Garnets.",
    )


def _lp_plot(result):
    from labkit.figures import legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    gaps = np.maximum(result.data["lp_gap"], result.data["policy_value_gap"]).clip(lower=1e-17)
    ax.scatter(1 / (1 - result.data["gamma"]), gaps, s=9, label="Garnet instances")
    reference_line(ax, LP_TOL, label="tolerance (theorem: gap 0)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"effective horizon $1/(1-\gamma)$")
    ax.set_ylabel(r"$\|V_{PI} - V_{LP}\|_\infty / \|V_{LP}\|_\infty$")
    legend(ax)
    return fig


pi_matches_lp = register(Check(
    name="policy_iteration.matches_lp",
    paper=PUTERMAN + ", Thm 6.4.2 and Sec. 6.9",
    claim="Policy iteration's value, and the exact value of its policy, equal the LP's optimal "
          "value (both are V*).",
    tag="R", family="planning", cost=(4, 30),
    measure=_lp_measure, plot=_lp_plot,
))
