r"""SubPO with linear function approximation: the estimator stays unbiased for the linear softmax class.

Reference: M. Prajapat, M. Mutný, M. N. Zeilinger, A. Krause, "Submodular Reinforcement Learning",
ICLR 2024, arXiv:2307.13372 (the gradient identity holds for any differentiable policy class) [A
mechanism, R form]. Policy class: ``pi_theta(a | s, h) = softmax_a(theta . phi(h, s, a))`` with
features ``phi`` ``(H, S, A, d)``; score ``phi(h, s, a) - sum_b pi(b | s, h) phi(h, s, b)``.

Measured here: the mean of :func:`algorithms.submodular.subpo_gradient` (``policy="linear_softmax"``)
over many independent batches against the exact gradient, which this check obtains by enumerating
every trajectory (:func:`algorithms.submodular.exact_gradient` with ``features``: the tabular
enumeration at the logits ``phi . theta`` and the chain rule, an independent route from the
estimator's score form). Theory, expected figure and tolerance: docs/theory/submodular.md.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from algorithms import submodular as sm
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.submodular.checks import PAPER, _objective, _z_plot, _z_threshold, _zscores

__all__ = ["linear_unbiased"]

#: feature dimension of the check's instances (H S A = 18 logits: a genuine restriction)
D = 4


def _linear_run(config, rng):
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=rng)
    f = _objective(config["kind"], 3, rng)
    phi = rng.standard_normal((3, 3, 2, D))
    theta = rng.standard_normal(D)
    _, exact = sm.exact_gradient(mdp, f, theta, features=phi)
    seed = int(rng.integers(2 ** 31))
    est = np.stack([sm.subpo_gradient(mdp, f, theta, config["batch"], rng=seed + b, baseline=config["baseline"],
                                      policy="linear_softmax", features=phi)
                    for b in range(config["n_batches"])])
    z = _zscores(est, exact)
    return {"max_z": float(z.max()), "threshold": _z_threshold(z.size), "max_abs_grad": float(np.abs(exact).max())}


def _linear_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(kind=["coverage", "facility_location", "logdet"], baseline=["loo", "none"],
                              batch=[200], n_batches=[ctx.pick(100, 1000)])
    frame = ctx.sweep(_linear_run, grid, n_seeds=ctx.pick(2, 10))
    rel = (frame["max_z"] / frame["threshold"]).to_numpy()
    return worst_case(
        rel, "<=", 1.0, 0.0, frame,
        f"max over the {D} coordinates of theta of |mean estimate - exact gradient| / standard error, divided by "
        f"the Bonferroni two-sided z quantile at family-wise level 1e-3 ({frame.threshold.iloc[0]:.2f}), for the "
        f"SubPO estimator with a linear softmax policy pi(a|s,h) ~ exp(theta . phi(h,s,a)) (random Gaussian "
        f"features, d = {D} for 18 state-action-stage triples; with and without leave-one-out baseline) on "
        f"{len(frame)} random stochastic MDPs (S = 3, A = 2, H = 3; coverage, facility location, log det), "
        f"{frame.n_batches.iloc[0]} batches of 200 episodes each; exact gradient by enumerating every trajectory "
        f"(chain rule through the logits). Largest z {frame.max_z.max():.2f}; largest |exact gradient| "
        f"{frame.max_abs_grad.max():.3f}.",
    )


linear_unbiased = register(Check(
    name="subpo.linear_gradient_unbiased",
    paper=PAPER + " (gradient identity for any differentiable policy; derivation in docs/theory/submodular.md)",
    claim="For a linear softmax policy class pi(a|s,h) ~ exp(theta . phi(h,s,a)) the SubPO estimator (score "
          "phi(a) - E_pi phi times the reward-to-go of marginal gains) has mean equal to the exact gradient of "
          "E[F(tau)].",
    tag="R", family="submodular", cost=(4, 40),
    measure=_linear_measure, plot=_z_plot,
))
