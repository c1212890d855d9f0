r"""Accelerated Preference Optimization (APO): iterative DPO with Nesterov-style extrapolation.

Paper: J. He, H. Yuan, Q. Gu (2024), *Accelerated Preference Optimization for Large Language
Model Alignment*, arXiv 2410.06293. Iterative preference optimisation (iterative DPO) is a
proximal-point method on the policy; APO adds an extrapolation (momentum) step between
iterations. Provenance tags (docs/README.md, section 'Provenance tags'): the algorithm is [A]
(abstract), the paper's rates (iterative DPO :math:`\tilde O(1/t)` versus APO
:math:`\tilde O((1-\alpha)/t)`, and a faster, linear rate under a minimal sub-optimality gap)
are [U] (recalled form, constants not re-read); the exact population dynamics below are [R]
(derived here; checked to round-off by the tests).

Update (population / tabular, one context or each context separately)
---------------------------------------------------------------------
Start from :math:`\pi_0 = \hat\pi_0` (``init``). For :math:`t = 0, 1, \dots`

1. DPO step with the extrapolated policy as reference:
   :math:`\pi_{t+1} = \arg\min_\pi L_{DPO}(\pi;\ \mathrm{ref} = \hat\pi_t)` on Bradley-Terry
   labels of the reward :math:`r`. Its population minimiser (Rafailov et al. 2023, arXiv
   2305.18290: the DPO reparametrisation; unique when the comparison graph is connected) is
   :math:`\pi_{t+1} \propto \hat\pi_t\, e^{r/\beta}`.
2. Extrapolation in log space, then normalisation:
   :math:`\log\hat\pi_{t+1} = \log\pi_{t+1} + \alpha(\log\pi_{t+1} - \log\pi_t) - \text{const}`.

``alpha = 0`` is iterative DPO (:math:`\pi_t \propto \pi_0 e^{t r/\beta}`).

Exact dynamics [R]
------------------
Normalising constants do not change a softmax, so work with logits. Let
:math:`z_t = \log\pi_t` and :math:`w_t = \log\hat\pi_t` (up to constants). Then
:math:`z_{t+1} = w_t + r/\beta` and :math:`w_t = z_t + \alpha(z_t - z_{t-1})` (with
:math:`w_0 = z_0`), i.e. :math:`z_{t+1} = z_t + \alpha(z_t - z_{t-1}) + r/\beta`. The
increments :math:`d_t = z_t - z_{t-1}` satisfy :math:`d_1 = r/\beta`,
:math:`d_{t+1} = \alpha d_t + r/\beta`, so :math:`d_t = \frac{1-\alpha^t}{1-\alpha}\,r/\beta`
and

.. math:: \pi_t = \mathrm{softmax}(\log\pi_0 + c_t\, r/\beta), \qquad
          c_t = \sum_{s=1}^{t}\frac{1-\alpha^s}{1-\alpha}
              = \frac{1}{1-\alpha}\Big(t - \frac{\alpha(1-\alpha^t)}{1-\alpha}\Big)

(:func:`apo_logit_coefficient`; ``c_0 = 0``, ``c_1 = 1``, ``c_2 = 2 + alpha``; ``alpha = 0``
gives ``c_t = t``). The per-iteration increment of :math:`c_t` tends to :math:`1/(1-\alpha)`:
momentum multiplies the effective step by the *acceleration factor* :math:`1/(1-\alpha)`.
Consequences, all exact functions of ``t``:

* sub-optimality :math:`r_{max} - E_{\pi_t} r = \sum_y \pi_t(y)(r_{max} - r(y))`
  (:func:`apo_suboptimality`) is non-increasing in ``t`` for every ``alpha`` in ``[0, 1)``
  and every full-support ``init``: :math:`\frac{d}{dc}E_{\mathrm{softmax}(z_0 + c r/\beta)} r
  = \mathrm{Var}(r)/\beta \ge 0` and :math:`c_t` is increasing;
* with a unique optimal response and gap :math:`\Delta = r_1 - r_2 > 0`,
  :math:`\log(r_1 - E_{\pi_t} r) = -c_t\Delta/\beta + O(1) + o(1)`, so the asymptotic slope
  in ``t`` is :math:`-\Delta/(\beta(1-\alpha))` (:func:`apo_asymptotic_slope`);
* for ``t >= 1`` from a uniform ``init``, ``pi_t`` orders the responses as ``r`` does.

Finite-sample version (:func:`apo_sampled`)
-------------------------------------------
On a :class:`mdps.LogLinearPreferenceTask` (features :math:`\phi`, true reward
:math:`r^* = \beta\theta^{*\top}\phi`), each DPO step is fitted on a *fresh* dataset of
``n_pairs`` Bradley-Terry comparisons drawn by :meth:`~mdps.LogLinearPreferenceTask.sample`
from the current policy :math:`\pi_t` (``sampler="current"``, on-policy, as iterative DPO is
run in practice) or from the task's reference (``sampler="ref"``). The policy class of step
``t`` is :math:`\pi_\theta \propto \hat\pi_t\, e^{\theta^\top\phi}`, whose DPO margin is
:math:`\beta\,\theta^\top(\phi_w - \phi_l)` (the reference cancels), so the step solves the
convex problem

.. math:: \hat\theta_t = \arg\min_\theta \frac1n\sum_{(x,w,l)} \ell(\beta\,\theta^\top
          (\phi(x,w) - \phi(x,l))) + \frac{\lambda}{2}\|\theta\|^2, \qquad \ell(z) = \log(1+e^{-z}),

by damped Newton (private solver :func:`_dpo_newton`, gradient-norm tolerance). The ridge
``lambda`` (``ridge``, default ``1e-3``) is a departure: without it the MLE does not exist
when some pair is always won by the same response (a finite dataset does that with positive
probability). Then :math:`\pi_{t+1} \propto \hat\pi_t e^{\hat\theta_t^\top\phi}` and the
extrapolation is step 2 above. No speed-up is claimed for this version: the estimation error
of :math:`\hat\theta_t` enters the logit increments, and by the recursion above it is
amplified like the signal, by about :math:`1/(1-\alpha)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from mdps.numerics import log_softmax
from mdps.preference_task import LogLinearPreferenceTask
from mdps.validation import as_float_array, check_choice, check_int, check_real, check_rng, check_rows_stochastic, readonly

__all__ = ["APOResult", "apo", "apo_sampled", "apo_logit_coefficient", "apo_closed_form_policy", "apo_suboptimality",
           "apo_asymptotic_slope"]

SAMPLERS = ("current", "ref")


@dataclass(frozen=True)
class APOResult:
    """The iterates of APO (frozen, arrays read-only).

    Attributes
    ----------
    policies : ndarray, shape (n_iter+1, K) or (n_iter+1, X, K)
        ``pi_0 .. pi_T`` (``pi_0 = init``).
    references : ndarray, same shape
        The extrapolated policies ``pihat_0 .. pihat_T`` (``pihat_0 = pi_0``); ``pihat_t`` is the
        DPO reference of step ``t``.
    thetas : ndarray, shape (n_iter, d)
        Per-step DPO fits (:func:`apo_sampled`); shape ``(n_iter, 0)`` for the exact iteration.
    alpha, beta : float
    n_pairs : int
        Pairs per step (0 for the exact iteration).
    """

    policies: np.ndarray
    references: np.ndarray
    thetas: np.ndarray
    alpha: float
    beta: float
    n_pairs: int = 0

    @property
    def policy(self) -> np.ndarray:
        """The last iterate ``pi_T``."""
        return self.policies[-1]


def _check_alpha(alpha) -> float:
    return check_real(alpha, "alpha", low=0.0, high=1.0, high_open=True)


def _extrapolate(log_new: np.ndarray, log_old: np.ndarray, alpha: float) -> np.ndarray:
    """``log pihat_{t+1} = log pi_{t+1} + alpha (log pi_{t+1} - log pi_t)``, normalised."""
    return log_softmax(log_new + alpha * (log_new - log_old))


def _resolve(reward_or_task, beta, init):
    """``(score = r / beta, log pi_0, beta, squeeze)`` from a reward array or a task."""
    if isinstance(reward_or_task, LogLinearPreferenceTask):
        task = reward_or_task
        beta = task.beta if beta is None else check_real(beta, "beta", low=0.0, low_open=True)
        score = task.reward() / beta
        base = task.ref if init is None else init
        squeeze = False
    else:
        r = as_float_array(reward_or_task, "reward_or_task", ndim=(1, 2))
        if r.shape[-1] < 2:
            raise ValueError(f"reward_or_task needs at least 2 responses, got shape {r.shape}")
        if beta is None:
            raise ValueError("beta is required when reward_or_task is a reward array (a task carries its own)")
        beta = check_real(beta, "beta", low=0.0, low_open=True)
        squeeze = r.ndim == 1
        score = np.atleast_2d(r) / beta
        base = np.full(score.shape, 1.0 / score.shape[-1]) if init is None else init
    X, K = score.shape
    p0 = as_float_array(base, "init", ndim=(1, 2))
    if p0.shape not in {(K,), (X, K)}:
        raise ValueError(f"init must have shape ({K},) or ({X}, {K}), got {p0.shape}")
    check_rows_stochastic(p0, "init")
    if np.any(p0 <= 0):
        raise ValueError(f"init must have full support (every entry > 0), got min {p0.min():.3g}")
    return score, np.log(np.broadcast_to(p0 / p0.sum(-1, keepdims=True), (X, K))), beta, squeeze


def apo(reward_or_task, *, alpha: float, beta: float | None = None, n_iter: int, init=None) -> APOResult:
    """Exact (population) APO: ``pi_{t+1} ∝ pihat_t e^{r/beta}``, then log-space extrapolation.

    Parameters
    ----------
    reward_or_task : array_like (K,) or (X, K), or mdps.LogLinearPreferenceTask
        The reward ``r`` (finite), or a task (its true reward ``r*``; ``beta`` defaults to
        ``task.beta`` and ``init`` to ``task.ref``).
    alpha : float in [0, 1)
        Momentum; ``0`` is iterative DPO.
    beta : float > 0
        DPO temperature (required for a reward array).
    n_iter : int >= 0
    init : array_like (K,) or (X, K), optional
        ``pi_0 = pihat_0``, full support; default uniform (reward array) or ``task.ref``.

    Returns
    -------
    APOResult
        ``policies`` and ``references`` of shape ``(n_iter+1, K)`` for a ``(K,)`` reward, else
        ``(n_iter+1, X, K)``.

    Examples
    --------
    >>> import numpy as np
    >>> res = apo(np.array([1.0, 0.0]), alpha=0.5, beta=1.0, n_iter=2)
    >>> bool(np.allclose(res.policies[2], apo_closed_form_policy(np.array([1.0, 0.0]), 0.5, 1.0, 2)))
    True
    """
    a = _check_alpha(alpha)
    T = check_int(n_iter, "n_iter", low=0)
    score, z, beta, squeeze = _resolve(reward_or_task, beta, init)
    pols = np.empty((T + 1,) + z.shape)
    refs = np.empty_like(pols)
    pols[0] = refs[0] = np.exp(z)
    w = z  # log pihat_0 = log pi_0
    for t in range(T):
        z_new = log_softmax(w + score)          # population DPO minimiser with reference pihat_t
        w = _extrapolate(z_new, z, a)
        z = z_new
        pols[t + 1], refs[t + 1] = np.exp(z), np.exp(w)
    if squeeze:
        pols, refs = pols[:, 0], refs[:, 0]
    return APOResult(readonly(pols), readonly(refs), readonly(np.zeros((T, 0))), a, float(beta))


# -- the exact closed form and the rate ---------------------------------------------------------
def apo_logit_coefficient(alpha: float, t):
    r"""``c_t`` with ``pi_t = softmax(log pi_0 + c_t r / beta)`` (module docstring, [R]):
    :math:`c_t = \sum_{s=1}^t (1-\alpha^s)/(1-\alpha) = (t - \alpha(1-\alpha^t)/(1-\alpha))/(1-\alpha)`.
    Vectorised over integer ``t >= 0``; float for a scalar ``t``."""
    a = _check_alpha(alpha)
    tt = np.asarray(t)
    if tt.dtype.kind not in "iu" or np.any(tt < 0):
        raise ValueError(f"t must be a non-negative integer or integer array, got {t!r}")
    tf = tt.astype(float)
    c = (tf - a * (1.0 - a ** tf) / (1.0 - a)) / (1.0 - a)
    return float(c) if c.ndim == 0 else c


def apo_closed_form_policy(reward, alpha: float, beta: float, t, init=None) -> np.ndarray:
    """``pi_t = softmax(log pi_0 + c_t r / beta)``: shape ``t.shape + reward.shape``."""
    score, z0, beta, squeeze = _resolve(reward, beta, init)
    c = np.asarray(apo_logit_coefficient(alpha, t))
    out = np.exp(log_softmax(z0 + c[..., None, None] * score))
    return out[..., 0, :] if squeeze else out


def apo_suboptimality(reward, alpha: float, beta: float, t, init=None) -> np.ndarray:
    r"""Exact :math:`r_{max} - E_{\pi_t} r = \sum_y \pi_t(y)(r_{max} - r(y))` of APO's iterate
    ``t`` (per context; no cancellation: every term is non-negative). Shape ``t.shape`` for a
    ``(K,)`` reward, ``t.shape + (X,)`` for ``(X, K)``."""
    r = as_float_array(reward, "reward", ndim=(1, 2))
    pi = apo_closed_form_policy(r, alpha, beta, t, init)
    return np.sum(pi * (r.max(axis=-1, keepdims=True) - r), axis=-1)


def apo_asymptotic_slope(gap: float, alpha: float, beta: float) -> float:
    r"""The asymptotic slope in ``t`` of :math:`\log(r_1 - E_{\pi_t} r)` for a unique optimum
    with gap ``Delta``: :math:`-\Delta/(\beta(1-\alpha))` [R]; the paper's faster rate under a
    gap is [U]."""
    g = check_real(gap, "gap", low=0.0, low_open=True)
    a = _check_alpha(alpha)
    b = check_real(beta, "beta", low=0.0, low_open=True)
    return -g / (b * (1.0 - a))


# -- the finite-sample version -----------------------------------------------------------------
def _dpo_newton(dphi: np.ndarray, weight: np.ndarray, beta: float, ridge: float,
                tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Damped Newton for ``min_theta sum_k weight_k l(beta theta.dphi_k) + ridge/2 |theta|^2``
    (``weight`` sums to 1). Strictly convex for ``ridge > 0``; Armijo backtracking."""
    d = dphi.shape[1]
    theta = np.zeros(d)

    def obj(th):
        return float(weight @ np.logaddexp(0.0, -beta * (dphi @ th)) + 0.5 * ridge * th @ th)

    f = obj(theta)
    for _ in range(max_iter):
        z = beta * (dphi @ theta)
        s = expit(-z)
        grad = -beta * (dphi.T @ (weight * s)) + ridge * theta
        if np.linalg.norm(grad) <= tol:
            break
        H = beta ** 2 * (dphi.T * (weight * s * (1.0 - s))) @ dphi + ridge * np.eye(d)
        step = np.linalg.solve(H, grad)
        dec = float(grad @ step)
        u = 1.0
        while True:
            cand = theta - u * step
            fc = obj(cand)
            if fc <= f - 0.25 * u * dec or u < 1e-12:
                break
            u *= 0.5
        theta, f = cand, fc
    return theta


def apo_sampled(task: LogLinearPreferenceTask, *, alpha: float, n_iter: int, n_pairs: int, rng=None,
                sampler: str = "current", ridge: float = 1e-3, init=None) -> APOResult:
    """APO with each DPO step fitted on ``n_pairs`` fresh Bradley-Terry pairs (module docstring).

    Parameters
    ----------
    task : mdps.LogLinearPreferenceTask
        Labels come from its true reward; ``beta = task.beta``.
    alpha : float in [0, 1)
    n_iter, n_pairs : int >= 1
    rng : Generator, int or SeedSequence
    sampler : {"current", "ref"}
        Draw step ``t``'s pairs from ``pi_t`` (on-policy) or from ``task.ref``.
    ridge : float > 0
        Ridge ``lambda`` of each step's DPO fit.
    init : array_like (K,) or (X, K), optional
        ``pi_0 = pihat_0``; default ``task.ref``.

    Returns
    -------
    APOResult
        ``policies``/``references`` ``(n_iter+1, X, K)``, ``thetas`` ``(n_iter, d)``.
    """
    if not isinstance(task, LogLinearPreferenceTask):
        raise TypeError(f"task must be a mdps.LogLinearPreferenceTask, got {type(task).__name__}")
    a = _check_alpha(alpha)
    T = check_int(n_iter, "n_iter", low=1)
    n = check_int(n_pairs, "n_pairs", low=1)
    sampler = check_choice(sampler, "sampler", SAMPLERS)
    lam = check_real(ridge, "ridge", low=0.0, low_open=True)
    gen = check_rng(rng)
    _, z, beta, _ = _resolve(task, None, init)
    phi = task.features
    pols = np.empty((T + 1,) + z.shape)
    refs = np.empty_like(pols)
    thetas = np.empty((T, task.dim))
    pols[0] = refs[0] = np.exp(z)
    w = z
    for t in range(T):
        data = task.sample(n, rng=gen, policy=(pols[t] if sampler == "current" else None))
        C = data.counts()
        x, i, j = np.nonzero(C)
        dphi = phi[x, i] - phi[x, j]
        theta = _dpo_newton(dphi, C[x, i, j] / n, beta, lam)
        thetas[t] = theta
        z_new = log_softmax(w + phi @ theta)
        w = _extrapolate(z_new, z, a)
        z = z_new
        pols[t + 1], refs[t + 1] = np.exp(z), np.exp(w)
    return APOResult(readonly(pols), readonly(refs), readonly(thetas), a, float(beta), n)
