r"""INPO / regularised online mirror descent: exact convergence, its stability limit, and the
pair-loss identity.

Paper: Y. Zhang et al., "Iterative Nash Policy Optimization", ICLR 2025, arXiv:2407.00617.
INPO's population loss is minimised by the regularised OMD step
``pi_{t+1} ∝ pi_t^{1 - eta beta} mu^{eta beta} exp(eta P pi_t)``.

The linearisation of that map at ``pi*`` (docs/theory/nash.md, section 'OMD / INPO', derivation in
:func:`omd_stability`) gives the per-iteration KL factor ``rho^2 = (1 - eta beta)^2 +
eta^2 omega^2`` and the stability limit ``eta < 2 beta / (beta^2 + omega^2)``, where ``omega``
is the largest modulus of the eigenvalues of the antisymmetric ``D^{1/2} (Pref - 1/2) D^{1/2}``
(:func:`algorithms.nash.omd_stability`, :func:`algorithms.nash.omd_kl_factor`). Both are exact
derivations [R]; the checks measure KL from the returned iterates.
"""

from __future__ import annotations

import math

import numpy as np

import labkit
import mdps
from algorithms import nash
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.nash._instances import KL_FLOOR, game, kl_path, random_ref

__all__ = ["omd_exact_convergence", "inpo_loss_equals_omd"]

ZHANG = "Y. Zhang et al. 2024, arXiv:2407.00617"


#: A fitted KL factor may exceed rho^2 only by this much relative to the rate 1 - rho^2 (the fit
#: on exact traces is accurate to ~1e-5; KL is a sum of modes decaying at rho_j^2 <= rho^2).
RATE_RTOL = 1e-3


def _omd_run(config, rng):
    beta = config["beta"]
    g = game(config["game"], config["K"], rng)
    K = g.n_responses
    ref = random_ref(K, rng)
    pi_star, omega, limit = nash.omd_stability(g, beta, ref)
    rows = []
    # a stable step at a quarter of the limit (rho^2 >= 1/4, so the window holds many iterates)
    # and an unstable one at 1.5 times the limit
    for frac in (0.25, 1.5):
        eta = frac * limit
        if eta * beta > 1:
            continue  # outside the step's domain
        rho2 = nash.omd_kl_factor(eta, beta, omega)
        n_iter = int(min(20000, math.ceil(30.0 / max(-math.log(rho2), 1e-3))))
        res = nash.inpo(g, beta, eta, n_iter, ref=ref)  # closed-form INPO = regularised OMD
        kl = kl_path(pi_star, res.policies)
        converged = bool(kl[-1] < 1e-3 * kl[0])
        factor = float("nan")
        if frac < 1:
            # a local (linearisation) rate: read it where KL is small, above the float floor
            factor = labkit.fit_linear_rate(kl, window=(max(1e-13, KL_FLOOR / kl[0]), 1e-4)).estimate
        rows.append({"eta_over_limit": frac, "eta": eta, "omega": omega, "rho2": rho2, "factor": factor,
                     "rate_error": abs(math.log(factor) / math.log(rho2) - 1) if frac < 1 else float("nan"),
                     "final_kl": float(kl[-1]), "kl0": float(kl[0]), "converged": converged})
    return rows


def _omd_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(game=["tournament"], K=ctx.pick([5, 20], [5, 20, 100]), beta=[0.05, 0.3])
    grid += labkit.expand_grid(game=["rps", "cycle"], K=[5], beta=[0.05, 0.3])
    frame = ctx.sweep(_omd_run, grid, n_seeds=ctx.pick(3, 10))
    stable = frame[frame["eta_over_limit"] < 1]
    unstable = frame[frame["eta_over_limit"] > 1]
    # excess of the fitted factor over rho^2, relative to the rate 1 - rho^2
    excess = ((stable["factor"] - stable["rho2"]) / (1 - stable["rho2"])).to_numpy()
    # an unstable step that converges would contradict the limit: count it as a full violation
    violations = unstable["converged"].astype(float).to_numpy()
    return worst_case(
        np.concatenate([excess, violations]), "<=", 0.0, RATE_RTOL, frame,
        f"(fitted per-iteration KL factor - rho^2) / (1 - rho^2) at eta = limit/4 on {len(stable)} runs (worst "
        f"{excess.max():.1e}; median relative error of the rate exponent "
        f"{np.median(stable.rate_error):.1e}, the largest {stable.rate_error.max():.2f} where the slowest "
        f"mode has not yet taken over the window; final KL down to {stable.final_kl.max():.1e}, i.e. "
        f"pi* is reached exactly, no bias), where rho^2 = (1 - eta beta)^2 + eta^2 omega^2 and limit = "
        f"2 beta/(beta^2 + omega^2) is game dependent ({frame.eta.min():.3g}..{frame.eta.max():.3g}); at "
        f"eta = 1.5 x limit {int(unstable.converged.sum())} of {len(unstable)} runs converged (0 expected, "
        "each counts as a violation of 1).",
    )


def _omd_plot(result):
    from labkit.figures import legend, subplots, theory_line

    data = result.data[result.data["eta_over_limit"] < 1]
    fig, axes = subplots()
    ax = axes[0, 0]
    ax.scatter(data["rho2"], data["factor"], s=9, label=r"runs at $\eta$ = limit/4")
    lo, hi = data[["rho2", "factor"]].min().min(), data[["rho2", "factor"]].max().max()
    theory_line(ax, [lo, hi], [lo, hi], label=r"theorem: factor $= \rho^2$")
    ax.set_xlabel(r"$\rho^2 = (1-\eta\beta)^2 + \eta^2\omega^2$")
    ax.set_ylabel("fitted KL factor per iteration")
    legend(ax)
    return fig


omd_exact_convergence = register(Check(
    name="inpo.exact_convergence_stability_limit",
    paper=ZHANG + " (INPO's OMD step); linearisation derived in docs/theory/nash.md, section 'OMD / INPO'",
    claim="INPO / regularised OMD converges linearly to the exact regularised equilibrium (no bias) "
          "with per-iteration KL factor at most (1-eta beta)^2 + eta^2 omega^2, and does not converge "
          "beyond the game-dependent step limit 2 beta/(beta^2 + omega^2).",
    tag="R", family="nash", cost=(5, 40), url="https://arxiv.org/abs/2407.00617",
    measure=_omd_measure, plot=_omd_plot,
))


def _inpo_loss_run(config, rng):
    K, beta = config["K"], config["beta"]
    g = game("tournament", K, rng)
    ref = random_ref(K, rng)
    init = mdps.softmax(rng.standard_normal(K))
    eta = 0.5 / beta if beta > 0.5 else 1.0
    closed = nash.inpo(g, beta, eta, 1, ref=ref, init=init)
    fitted = nash.inpo(g, beta, eta, 1, ref=ref, init=init, fit="pair_loss")
    return {"gap": float(np.abs(closed.policy - fitted.policy).max())}


#: The population loss is minimised by a linear least-squares solve: agreement to 1e-8 (docs/theory/nash.md, section 'inpo.loss_minimizer_is_omd_step').
INPO_TOL = 1e-8


def _inpo_loss_measure(ctx) -> Outcome:
    frame = ctx.sweep(_inpo_loss_run, labkit.expand_grid(K=[2, 5, 20], beta=[0.1, 1.0]), n_seeds=ctx.pick(3, 10))
    return worst_case(
        frame["gap"].to_numpy(), "<=", 0.0, INPO_TOL, frame,
        f"sup-norm gap between the minimiser of INPO's exact population pair loss and the closed-form "
        f"OMD step, over {len(frame)} random games and starting policies.",
    )


def _inpo_loss_plot(result):
    from labkit.figures import MARKERS, legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (beta, g) in enumerate(result.data.groupby("beta")):
        ax.scatter(g["K"] * (1.0 + 0.05 * i), g["gap"].clip(lower=1e-18), s=9, marker=MARKERS[i], label=rf"$\beta={beta:g}$")
    reference_line(ax, INPO_TOL, label="tolerance (theorem: gap 0)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("responses K")
    ax.set_ylabel(r"$\|\pi_{loss} - \pi_{OMD}\|_\infty$")
    legend(ax)
    return fig


inpo_loss_equals_omd = register(Check(
    name="inpo.loss_minimizer_is_omd_step",
    paper=ZHANG + "; IPO identity derived in docs/theory/nash.md, section 'inpo.loss_minimizer_is_omd_step'",
    claim="The minimiser of INPO's population pair loss is exactly the online-mirror-descent step.",
    tag="R", family="nash", cost=(1, 5), url="https://arxiv.org/abs/2407.00617",
    measure=_inpo_loss_measure, plot=_inpo_loss_plot,
))
