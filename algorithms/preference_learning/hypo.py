r"""HyPO: offline DPO plus an online reverse-KL penalty, on a log-linear task.

Paper. Y. Song, G. Swamy, A. Singh, J. A. Bagnell, W. Sun (2024), *The Importance of Online
Data: Understanding Preference Fine-tuning via Coverage*, NeurIPS 2024, arXiv 2406.01462.

Objective [A] (the abstract's "offline contrastive loss + online KL regularisation"):

.. math:: L_{HyPO}(\theta) = L_{DPO}(\theta; D)
          + \lambda \sum_x \hat\rho_x\, KL(\pi_\theta(\cdot|x) \,\|\, \mu(\cdot|x)),

with :math:`L_{DPO}` and the empirical context law :math:`\hat\rho` as in
:mod:`algorithms.preference_learning.gradient` (the paper draws the contexts of the online term
from the offline data). **Departure**: the paper estimates the KL term with on-policy samples
:math:`y \sim \pi_\theta(\cdot|x)` and its gradient by REINFORCE with the log-ratio as reward;
this tabular lab computes the KL and its gradient exactly.

Gradient of the KL term (exact, log-linear) [R]. With
:math:`A_x(\theta) = \log\sum_y\mu(y|x)e^{\theta^\top\phi(x,y)}`,
:math:`\log(\pi_\theta/\mu) = \theta^\top\phi - A_x`, so
:math:`KL_x(\theta) = E_{\pi_\theta}[\theta^\top\phi] - A_x(\theta)`. Using
:math:`\nabla_\theta\pi_\theta(y|x) = \pi_\theta(y|x)(\phi(x,y) - E_{\pi_\theta}\phi)` and
:math:`\nabla A_x = E_{\pi_\theta}\phi`:

.. math:: \nabla KL_x = E_{\pi_\theta}\phi + \sum_y \pi_\theta(y|x)(\phi_y - E\phi)\,\theta^\top\phi_y
          - E_{\pi_\theta}\phi = \mathrm{Cov}_{\pi_\theta(\cdot|x)}(\phi,\ \theta^\top\phi).

The tests check it against finite differences on random tasks.

Exact tabular picture [R]. With one-hot features and a set ``S`` of compared responses, the DPO
term does not depend on :math:`\theta_{Y\setminus S}`; the KL gradient on an uncovered coordinate
``t`` is :math:`\hat\rho_x\pi_\theta(t|x)(\theta_t - E_{\pi_\theta}\theta)`, which vanishes only
when every uncovered logit equals :math:`E_{\pi_\theta}\theta`. So HyPO's minimiser keeps the
uncovered responses in their reference proportions, for every :math:`\lambda > 0`. Its reverse
KL is at most the smallest KL of a DPO minimiser (compare objectives at the two points), which
is :math:`-\log(\mu(S)e^{-KL(\pi^*_S\|\mu_S)} + \mu(Y\setminus S))` on one context (docs,
section 'hypo.reverse_kl_trap'): bounded as :math:`\mu(Y\setminus S) \to 0`, while DPO's members
can reach :math:`\log(1/\mu(Y\setminus S))`.

Guarantee [A: the type only]: HyPO inherits RLHF-style guarantees under partial coverage and
keeps the reverse KL bounded where offline DPO need not.
"""

from __future__ import annotations

import numpy as np

from algorithms.preference_learning.gradient import TrajectoryResult, counts_law, dpo_objective, log_policy, minimize
from mdps.numerics import softmax
from mdps.validation import check_real

__all__ = ["hypo", "hypo_objective", "kl_term"]


def kl_term(task, context_weights: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """``(sum_x w_x KL(pi_theta(.|x) || ref(.|x)), grad)``; the gradient is
    ``sum_x w_x Cov_{pi_theta(.|x)}(phi, theta . phi)`` (module docstring)."""
    phi = task.features
    score = phi @ theta                                  # theta . phi, (X, K)
    lp = log_policy(task, theta)
    pi = softmax(lp)
    logratio = lp - np.log(task.ref)
    per = np.sum(pi * logratio, axis=1)
    value = float(context_weights @ per)
    centred = score - np.sum(pi * score, axis=1, keepdims=True)
    grad = np.einsum("x,xk,xkd->d", context_weights, pi * centred, phi)
    return value, grad


def _objective(task, law, lam):
    rho = law.sum(axis=(1, 2))

    def fun(theta):
        f, g = dpo_objective(task, law, theta)
        k, gk = kl_term(task, rho, theta)
        return f + lam * k, g + lam * gk

    return fun


def hypo_objective(task, counts, theta, *, lam: float) -> tuple[float, np.ndarray]:
    """``(L_HyPO(theta), grad)`` (module docstring); ``counts`` as in :func:`hypo`."""
    lam = check_real(lam, "lam", low=0.0)
    law = counts_law(task, counts)
    return _objective(task, law, lam)(task._check_theta(theta))


def hypo(task, data_or_counts, lam: float, *, init=None, method: str = "bfgs", step=None,
         n_iter: int = 5000, tol: float = 1e-10, n_records: int = 50) -> TrajectoryResult:
    """Minimise :math:`L_{HyPO}` from ``init`` (default ``0``: :math:`\\pi = \\mu`).

    Parameters
    ----------
    task : mdps.LogLinearPreferenceTask
    data_or_counts : PreferenceData or array_like (X, K, K)
        Win counts (or the exact record law for the population objective).
    lam : float >= 0
        Weight of the reverse-KL term; ``lam = 0`` is DPO.
    init, method, step, n_iter, tol, n_records
        As :func:`algorithms.preference_learning.gradient.minimize` (``"gd"`` needs a ``step``
        that suits the instance: the KL term is not globally smooth).

    Returns
    -------
    TrajectoryResult
    """
    lam = check_real(lam, "lam", low=0.0)
    law = counts_law(task, data_or_counts, "data_or_counts")
    return minimize(task, _objective(task, law, lam), law, init=init, method=method, step=step,
                    n_iter=n_iter, tol=tol, n_records=n_records, smooth_extra=lam)
