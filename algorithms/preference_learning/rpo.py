r"""RPO: DPO plus an SFT (imitation) term on a baseline distribution, on a log-linear task.

Paper. Z. Liu, M. Lu, S. Zhang, B. Liu, H. Guo, Y. Yang, J. Blanchet, Z. Wang (2024),
*Provably Mitigating Overoptimization in RLHF: Your SFT Loss is Implicitly an Adversarial
Regularizer*, NeurIPS 2024, arXiv 2405.16436.

Objective [A] (the structure "DPO loss + weighted SFT loss on baseline responses" is the
abstract's; the placement of the weights follows our reading, docs/theory/preference_learning.md,
section 'RPO and HyPO'):

.. math:: L_{RPO}(\theta) = L_{DPO}(\theta; D)
          + \eta\,\beta\, \sum_x \hat\rho_x \sum_y \pi_{base}(y|x)\,[-\log\pi_\theta(y|x)] ,

with :math:`L_{DPO}` and :math:`\hat\rho` as in :mod:`algorithms.preference_learning.gradient`
(the empirical context law of the records). The paper derives it from the adversarial
objective :math:`\max_\pi\min_r L_{BT}(r) + \eta(E_\pi r - E_{\pi_{base}} r - \beta KL(\pi\|\mu))`
through the DPO reparametrisation (the inner maximum over :math:`\pi` of
:math:`E_\pi r_\theta - \beta KL` minus :math:`E_{\pi_{base}} r_\theta` is
:math:`-\beta E_{\pi_{base}}\log(\pi_\theta/\mu)`) [R].

Baseline. ``baseline=None`` (default) is the empirical distribution of the *chosen* responses:
the joint weight of ``(x, y)`` is :math:`\sum_l D[x, y, l]`, i.e.
:math:`\hat\rho_x\,\pi_{base}(y|x)` with :math:`\pi_{base}(y|x)` the share of records in
context ``x`` won by ``y``. A given ``(X, K)`` (or shared ``(K,)``) baseline must have rows on the
simplex; contexts are then weighted by :math:`\hat\rho`.

Gradient (exact, log-linear) [R]: :math:`-\log\pi_\theta(y|x) = -\theta^\top\phi(x,y) - \log\mu(y|x)
+ A_x(\theta)` with :math:`A_x = \log\sum_y \mu(y|x) e^{\theta^\top\phi(x,y)}` and
:math:`\nabla A_x = E_{\pi_\theta(\cdot|x)}\phi`, so

.. math:: \nabla L_{RPO} = \nabla L_{DPO}
          + \eta\beta\sum_x\hat\rho_x\big(E_{\pi_\theta(\cdot|x)}\phi - E_{\pi_{base}(\cdot|x)}\phi\big).

Guarantee [U: the form recalled, constants not read]: with :math:`\eta \propto 1/\sqrt N`, under
partial coverage of a target policy by the data relative to :math:`\pi_{base}`, the regularised
gap :math:`J_\beta(\pi_{target}) - J_\beta(\hat\pi) = \tilde O(N^{-1/2})`. A target the data
do not cover (mass on responses never compared) is outside the guarantee; see the check
``rpo.trap_coverage``.

Exact facts the tests check [R]: ``eta = 0`` gives DPO's objective and gradient exactly; the SFT
term is ``>= 0`` (a cross-entropy), so ``L_RPO >= L_DPO``; with a baseline of zero mass on a
response the SFT gradient on a one-hot coordinate of that response is
:math:`\eta\beta\hat\rho_x\pi_\theta(y|x) > 0`, so RPO drives its logit to :math:`-\infty` (no
finite minimiser; the solver stops on its gradient tolerance).
"""

from __future__ import annotations

import numpy as np

from algorithms.preference_learning.gradient import (
    TrajectoryResult,
    counts_law,
    dpo_objective,
    log_policy,
    minimize,
)
from mdps.numerics import softmax
from mdps.validation import as_float_array, check_real, check_rows_stochastic

__all__ = ["rpo", "rpo_objective", "sft_term", "base_weights"]


def base_weights(task, law: np.ndarray, baseline=None) -> np.ndarray:
    """The joint baseline weights :math:`\\hat\\rho_x\\pi_{base}(y|x)`, ``(X, K)`` (module docstring)."""
    X, K = task.ref.shape
    if baseline is None:
        return law.sum(axis=2)
    b = as_float_array(baseline, "baseline", ndim=(1, 2))
    if b.shape not in {(K,), (X, K)}:
        raise ValueError(f"baseline must have shape ({X}, {K}) or ({K},), got {b.shape}")
    check_rows_stochastic(b, "baseline")
    return law.sum(axis=(1, 2))[:, None] * np.broadcast_to(b, (X, K))


def sft_term(task, weights: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """``(sum_{x,y} weights[x,y] * (-log pi_theta(y|x)), grad)`` for joint weights ``(X, K)``."""
    lp = log_policy(task, theta)
    pos = weights > 0
    value = float(-np.sum(weights[pos] * lp[pos]))
    pi = softmax(lp)
    mass = weights.sum(axis=1)                                       # rho_hat_x
    grad = np.einsum("xk,xkd->d", mass[:, None] * pi - weights, task.features)
    return value, grad


def _check_weight(value, name: str) -> float:
    return check_real(value, name, low=0.0)


def rpo_objective(task, counts, theta, *, eta: float, baseline=None) -> tuple[float, np.ndarray]:
    """``(L_RPO(theta), grad L_RPO(theta))`` (module docstring). ``counts``: a
    :class:`mdps.PreferenceData`, win counts ``(X, K, K)`` or a record law."""
    eta = _check_weight(eta, "eta")
    law = counts_law(task, counts)
    th = task._check_theta(theta)
    return _objective(task, law, base_weights(task, law, baseline), eta)(th)


def _objective(task, law, weights, eta):
    b = task.beta

    def fun(theta):
        f, g = dpo_objective(task, law, theta)
        s, gs = sft_term(task, weights, theta)
        return f + eta * b * s, g + eta * b * gs

    return fun


def rpo(task, data_or_counts, eta: float, *, baseline=None, init=None, method: str = "bfgs", step=None,
        n_iter: int = 5000, tol: float = 1e-10, n_records: int = 50) -> TrajectoryResult:
    """Minimise :math:`L_{RPO}` from ``init`` (default ``0``: :math:`\\pi = \\mu`).

    Parameters
    ----------
    task : mdps.LogLinearPreferenceTask
    data_or_counts : PreferenceData or array_like (X, K, K)
        Win counts ``C[x, winner, loser]`` (or the exact record law for the population objective).
    eta : float >= 0
        Weight of the SFT term (the paper's adversarial weight); the theorem takes
        :math:`\\eta \\propto 1/\\sqrt N`.
    baseline : array_like (X, K) or (K,), optional
        :math:`\\pi_{base}`; default the empirical distribution of chosen responses.
    init, method, step, n_iter, tol, n_records
        As :func:`algorithms.preference_learning.gradient.minimize`.

    Returns
    -------
    TrajectoryResult
    """
    eta = _check_weight(eta, "eta")
    law = counts_law(task, data_or_counts, "data_or_counts")
    weights = base_weights(task, law, baseline)
    return minimize(task, _objective(task, law, weights, eta), law, init=init, method=method, step=step,
                    n_iter=n_iter, tol=tol, n_records=n_records, smooth_extra=eta * task.beta)
