r"""Value iteration contracts at rate gamma: exactly on the one-state instance, at most on Garnets.

Puterman (1994), Thm 6.2.3: the Bellman optimality operator is a gamma-contraction in the sup
norm, so ``||V_k - V*|| <= gamma^k ||V_0 - V*||``. On the one-state instance ``R = 1``,
``V_0 = 0`` the error is exactly ``gamma^k / (1 - gamma)``, so the rate is exactly gamma.

Errors are measured against ground truth computed independently of value iteration (the
closed form, or the exact value of an optimal policy by a linear solve), and a fitted factor
``c`` is compared with gamma relative to the rate ``1 - gamma``.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.planning._instances import PUTERMAN, RATE_RTOL, RATE_WINDOW, errors_by_run, garnet

__all__ = ["vi_tight_rate", "vi_garnet_contraction"]


def _tight_run(config, rng):
    gamma = config["gamma"]
    mdp = mdps.tight_vi_instance(gamma)
    v_star = np.array([1.0 / (1.0 - gamma)])  # closed form: V* = sum_t gamma^t
    sol = mdps.value_iteration(mdp, v0=np.zeros(1), v_star=v_star, tol=1e-13 * v_star[0])
    return [{"k": k, "error": float(e)} for k, e in enumerate(sol.errors)]


def _tight_measure(ctx) -> Outcome:
    gammas = ctx.pick(quick=[0.5, 0.9, 0.99, 0.999], full=[0.5, 0.9, 0.95, 0.99, 0.999])
    frame = ctx.sweep(_tight_run, labkit.expand_grid(gamma=gammas), n_seeds=1)
    devs, parts = [], []
    for (gamma, _), errs in errors_by_run(frame):
        fit = labkit.fit_linear_rate(errs, window=RATE_WINDOW)
        devs.append(abs(fit.estimate - gamma) / (1 - gamma))
        parts.append(f"gamma={gamma}: fitted {fit.estimate:.9f}")
    return worst_case(
        devs, "<=", 0.0, RATE_RTOL, frame,
        "max over gamma of |fitted factor - gamma| / (1 - gamma) on the one-state instance "
        "(deterministic: the interval is the range over gammas); " + "; ".join(parts),
    )


def _tight_plot(result):
    from labkit.figures import convergence_plot

    curves, refs = {}, {}
    for (gamma, _), errs in errors_by_run(result.data):
        label = rf"$\gamma={gamma:g}$"
        curves[label] = errs / errs[0]
        refs[label] = gamma ** np.arange(errs.size)
    # the data equal the theory here: markers for the data, the dashed line stays visible
    return convergence_plot(curves, theory=refs, markers=True, floor=1e-12, xlabel="sweep k",
                            ylabel=r"$\|V_k - V^*\|_\infty / \|V_0 - V^*\|_\infty$", theory_label=r"$\gamma^k$")


vi_tight_rate = register(Check(
    name="value_iteration.tight_rate",
    paper=PUTERMAN + ", Thm 6.2.3",
    claim="Value iteration's sup-norm error contracts at rate exactly gamma on the one-state "
          "instance R=1, V_0=0 (error gamma^k/(1-gamma)).",
    tag="R", family="planning", cost=(1, 2),
    measure=_tight_measure, plot=_tight_plot,
))


def _garnet_run(config, rng):
    mdp = garnet(config, rng)
    v_star = mdps.policy_iteration(mdp).V
    scale = max(float(np.abs(v_star).max()), 1.0)
    sol = mdps.value_iteration(mdp, v_star=v_star, tol=1e-13 * scale)
    return [{"k": k, "error": float(e)} for k, e in enumerate(sol.errors)]


def _garnet_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(n_states=[50], n_actions=[5], branching=[5], gamma=[0.9, 0.99])
    frame = ctx.sweep(_garnet_run, grid, n_seeds=ctx.pick(10, 50))
    excess, parts = [], []
    for gamma, g in frame.groupby("gamma"):
        curves = [e for _, e in errors_by_run(g)]
        fit = labkit.fit_linear_rate(curves, window=RATE_WINDOW)
        excess.extend((np.asarray(fit.per_seed) - gamma) / (1 - gamma))
        parts.append(f"gamma={gamma}: factors {min(fit.per_seed):.4f}..{max(fit.per_seed):.4f} "
                     f"(mean {fit.estimate:.4f}, 90% CI [{fit.ci_low:.4f}, {fit.ci_high:.4f}])")
    return worst_case(
        excess, "<=", 0.0, RATE_RTOL, frame,
        "(fitted factor - gamma) / (1 - gamma) on each Garnet(50, 5, 5) instance; the bound must hold on "
        "every instance, so measured is the worst and the interval the range; " + "; ".join(parts),
    )


def _garnet_plot(result):
    from labkit.figures import convergence_plot

    curves, refs = {}, {}
    for gamma, g in result.data.groupby("gamma"):
        runs = [e / e[0] for _, e in errors_by_run(g)]
        n = min(len(r) for r in runs)
        curves[rf"$\gamma={gamma:g}$"] = np.array([r[:n] for r in runs])
        refs[rf"$\gamma={gamma:g}$"] = gamma ** np.arange(n)
    return convergence_plot(curves, theory=refs, floor=1e-12, xlabel="sweep k", theory_label=r"$\gamma^k$",
                            ylabel=r"$\|V_k - V^*\|_\infty / \|V_0 - V^*\|_\infty$")


vi_garnet_contraction = register(Check(
    name="value_iteration.garnet_contraction",
    paper=PUTERMAN + ", Thm 6.2.3",
    claim="Value iteration's true sup-norm error contracts at a linear rate of at most gamma on "
          "Garnet(50, 5, 5) instances.",
    tag="R", family="planning", cost=(2, 8),
    measure=_garnet_measure, plot=_garnet_plot,
))
