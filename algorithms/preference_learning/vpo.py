r"""Value-Incentivized Preference Optimization (VPO): the reward MLE regularised by the optimal value.

Paper: S. Cen, J. Mei, K. Goshvadi, H. Dai, T. Yang, S. Yang, D. Schuurmans, Y. Chi, B. Dai
(2024), *Value-Incentivized Preference Optimization: A Unified Approach to Online and Offline
RLHF*, arXiv 2405.19320 (ICLR 2025). Provenance tags (docs/README.md, section 'Provenance
tags'): the objective and the sign convention are [A]; the paper's rates (online regret
:math:`\tilde O(\sqrt T)`, offline sub-optimality :math:`\tilde O(1/\sqrt N)`, linear reward
class) are [U]; the closed forms below are [R] (derived here, tested to round-off).

Objects
-------
Task :class:`mdps.LogLinearPreferenceTask`: contexts with weights :math:`\rho`, features
:math:`\phi(x, y)\in\mathbb R^d`, reference :math:`\pi_{ref}`, temperature :math:`\beta`.
Data: win counts ``C[x, w, l]`` (:meth:`mdps.PreferenceData.counts`; any non-negative array of
the same shape, e.g. ``n * task.outcome_distribution()`` for a population fit). The optimal
KL-regularised value of a reward ``r`` (``(X, K)``) is, in closed form (Gibbs variational
principle),

.. math:: J^*(r) = \max_\pi \sum_x \rho_x\big[\langle\pi_x, r_x\rangle - \beta KL(\pi_x\|\pi_{ref,x})\big]
          = \beta\sum_x\rho_x \log\sum_y \pi_{ref}(y|x)\, e^{r(x,y)/\beta},

(:func:`regularized_optimal_value`), convex in ``r`` with gradient
:math:`\rho_x\,\pi_r(y|x)`, :math:`\pi_r = \mathrm{softmax}(\log\pi_{ref} + r/\beta)`
(:func:`regularized_optimal_value_grad`), and
shift-equivariant: :math:`J^*(r + c) = J^*(r) + c` for a constant ``c``.

Reward form (:func:`vpo`)
-------------------------
.. math:: \hat r = \arg\min_{r = r_\psi}\ \sum_{(x,w,l)} \ell(r(x,w) - r(x,l))
          - s\,\alpha\, J^*(r) + \frac{\lambda}{2}\|\psi\|^2, \qquad
          \hat\pi = \mathrm{softmax}(\log\pi_{ref} + \hat r/\beta),

with :math:`\ell(z) = \log(1+e^{-z})` summed over the records (the Bradley-Terry negative
log-likelihood; with a fixed ``alpha`` the value term's weight relative to the data falls like
``1/n``), ``s = -1`` offline / pessimistic, ``s = +1`` online / optimistic.

*Shift ambiguity and calibration.* The BT loss sees only reward differences, but :math:`J^*`
moves one-for-one with a per-context shift, so without a normalisation the objective is
unbounded (``s = -1``: shift the reward down). VPO fixes the shift by a calibration
:math:`E_{y\sim\pi_{cal}(\cdot|x)} r(x, y) = 0`; here the linear class is calibrated by
construction, :math:`r_\psi(x, y) = \psi^\top(\phi(x, y) - E_{\pi_{cal}(\cdot|x)}\phi(x,\cdot))`
(``pi_cal`` default the reference). Differences, hence the BT loss, are unchanged.

*Solvers.* ``s = -1``: the objective is convex (BT loss and :math:`J^*\circ r_\psi` are convex,
``alpha >= 0``); ``s = +1``: a difference of convex functions, **not convex in general**; the
ridge ``lambda > 0`` (default ``1e-3``) makes it bounded below (``J^*`` grows at most linearly
in ``psi``) and L-BFGS returns a stationary point, not a certified global minimiser. Both use
``scipy.optimize.minimize(method="L-BFGS-B")`` with the exact gradient.

Policy (reparametrised) form (:func:`vpo_policy_loss`) [R]
----------------------------------------------------------
For the log-linear policy class :math:`\pi_\theta \propto \pi_{ref} e^{\theta^\top\phi}`, the
implicit reward :math:`\beta\log(\pi_\theta/\pi_{ref}) + c(x)` calibrated by
:math:`E_{\pi_{cal}} r = 0` is :math:`r_\theta = \beta\,\theta^\top\tilde\phi` (``psi = beta
theta``), and :math:`J^*(r_\theta) = -\beta\sum_x\rho_x E_{y\sim\pi_{cal}}\log(\pi_\theta(y|x)/
\pi_{ref}(y|x))` (substitute :math:`e^{r_\theta/\beta} = (\pi_\theta/\pi_{ref}) e^{c(x)/\beta}`).
Hence the reward-form objective at ``psi = beta theta`` (without ridge) equals

.. math:: L_{VPO}(\theta) = L_{DPO}(\theta; C) + s\,\alpha\,\beta\sum_x\rho_x
          E_{y\sim\pi_{cal}(\cdot|x)}\log\frac{\pi_\theta(y|x)}{\pi_{ref}(y|x)},

with :math:`L_{DPO}` the summed DPO loss. ``s = +1`` pushes probability away from the calibration
samples (exploration); ``s = -1`` is an SFT-like term on them.

Online loop (:func:`vpo_online`)
--------------------------------
Round ``t``: refit on all data so far, play :math:`\pi_t`, draw ``x ~ rho``,
``y ~ pi_t(.|x)``, ``y' ~ pi_ref(.|x)`` (``y = y'`` allowed; such a record carries no
information), a Bradley-Terry label from the task's true reward, and record the exact regret
:math:`J^*(r^*) - J_{r^*}(\pi_t)` (:meth:`mdps.LogLinearPreferenceTask.suboptimality`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from mdps.numerics import log_softmax, logsumexp, softmax
from mdps.preference_task import LogLinearPreferenceTask, PreferenceData
from mdps.validation import (as_float_array, check_int, check_real, check_rng,
                             check_rows_stochastic, readonly)

__all__ = ["VPOResult", "VPOOnlineResult", "regularized_optimal_value", "regularized_optimal_value_grad",
           "vpo_objective", "vpo", "vpo_policy_loss", "vpo_online"]


def _check_task(task) -> LogLinearPreferenceTask:
    if not isinstance(task, LogLinearPreferenceTask):
        raise TypeError(f"task must be a mdps.LogLinearPreferenceTask, got {type(task).__name__}")
    return task


def _check_sign(sign) -> int:
    if isinstance(sign, (bool, np.bool_)) or sign not in (-1, 1):
        raise ValueError(f"sign must be -1 (offline, pessimistic) or +1 (online, optimistic), got {sign!r}")
    return int(sign)


def _value_args(r, ref, beta, weights):
    r = as_float_array(r, "r", ndim=2)
    ref = as_float_array(ref, "ref", ndim=(1, 2))
    if ref.shape not in {(r.shape[1],), r.shape}:
        raise ValueError(f"ref must have shape {r.shape} or ({r.shape[1]},), got {ref.shape}")
    check_rows_stochastic(ref, "ref")
    if np.any(ref <= 0):
        raise ValueError(f"ref must have full support, got min {ref.min():.3g}")
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    X = r.shape[0]
    w = np.full(X, 1.0 / X) if weights is None else as_float_array(weights, "weights", ndim=1)
    if w.shape != (X,) or np.any(w < 0):
        raise ValueError(f"weights must be a non-negative vector of shape ({X},), got {w.shape}")
    return r, np.broadcast_to(ref, r.shape), beta, w


def regularized_optimal_value(r, ref, beta: float, weights=None) -> float:
    r""":math:`J^*(r) = \beta\sum_x\rho_x\log\sum_y \pi_{ref}(y|x)e^{r(x,y)/\beta}` (exact,
    log-sum-exp). ``r`` ``(X, K)``, ``ref`` ``(X, K)`` or ``(K,)``, ``weights`` ``(X,)``
    (default uniform; used as given)."""
    r, ref, beta, w = _value_args(r, ref, beta, weights)
    return float(beta * (w @ logsumexp(np.log(ref) + r / beta)))


def regularized_optimal_value_grad(r, ref, beta: float, weights=None) -> np.ndarray:
    r""":math:`\partial J^*/\partial r(x, y) = \rho_x\,\pi_r(y|x)`, ``(X, K)``."""
    r, ref, beta, w = _value_args(r, ref, beta, weights)
    return w[:, None] * softmax(np.log(ref) + r / beta)


def _counts(task: LogLinearPreferenceTask, data) -> np.ndarray:
    X, K = task.n_contexts, task.n_responses
    if isinstance(data, PreferenceData):
        if (data.n_contexts, data.n_responses) != (X, K):
            raise ValueError(f"data has {data.n_contexts} contexts and {data.n_responses} responses, "
                             f"expected ({X}, {K}) as the task")
        return data.counts().astype(float)
    C = as_float_array(data, "data", ndim=3)
    if C.shape != (X, K, K):
        raise ValueError(f"data (win counts) must have shape ({X}, {K}, {K}), got {C.shape}")
    if np.any(C < 0):
        raise ValueError(f"data (win counts) must be non-negative, got min {C.min():.3g}")
    return C


def _pi_cal(task, pi_cal) -> np.ndarray:
    if pi_cal is None:
        return task.ref
    p = as_float_array(pi_cal, "pi_cal", ndim=(1, 2))
    if p.shape not in {(task.n_responses,), task.ref.shape}:
        raise ValueError(f"pi_cal must have shape {task.ref.shape} or ({task.n_responses},), got {p.shape}")
    check_rows_stochastic(p, "pi_cal")
    return np.broadcast_to(p, task.ref.shape)


def _calibrated_features(task, pi_cal) -> np.ndarray:
    """:math:`\\tilde\\phi(x, y) = \\phi(x, y) - E_{\\pi_{cal}(\\cdot|x)}\\phi(x, \\cdot)`, ``(X, K, d)``."""
    phi = task.features
    return phi - np.einsum("xk,xkd->xd", pi_cal, phi)[:, None, :]


class _Problem:
    """The reward-form objective on one task, dataset and calibration (exact value and gradient)."""

    def __init__(self, task, C, alpha, sign, ridge, pi_cal):
        self.task, self.alpha, self.sign, self.ridge = task, alpha, sign, ridge
        self.phit = _calibrated_features(task, pi_cal)
        x, i, j = np.nonzero(C)
        self.wts = C[x, i, j]
        self.dphi = task.features[x, i] - task.features[x, j]
        self.logref = np.log(task.ref)

    def reward(self, psi):
        return self.phit @ psi

    def __call__(self, psi):
        z = self.dphi @ psi
        bt = float(self.wts @ np.logaddexp(0.0, -z))
        g_bt = -(self.dphi.T @ (self.wts * expit(-z)))
        r = self.reward(psi)
        beta, w = self.task.beta, self.task.weights
        J = float(beta * (w @ logsumexp(self.logref + r / beta)))
        g_J = np.einsum("xk,xkd->d", w[:, None] * softmax(self.logref + r / beta), self.phit)
        f = bt - self.sign * self.alpha * J + 0.5 * self.ridge * float(psi @ psi)
        g = g_bt - self.sign * self.alpha * g_J + self.ridge * psi
        return f, g


@dataclass(frozen=True)
class VPOResult:
    """A VPO fit (frozen, arrays read-only).

    Attributes
    ----------
    psi : ndarray (d,)
        Reward parameter; the calibrated reward is ``psi . (phi - E_{pi_cal} phi)``.
    reward : ndarray (X, K)
        :math:`\\hat r` (calibrated: ``E_{pi_cal} r = 0`` per context).
    policy : ndarray (X, K)
        :math:`\\hat\\pi = \\mathrm{softmax}(\\log\\pi_{ref} + \\hat r/\\beta)`.
    objective : float
        The objective at ``psi``.
    grad_norm : float
        Norm of its gradient there (the solver's stationarity).
    alpha, sign, ridge
    """

    psi: np.ndarray
    reward: np.ndarray
    policy: np.ndarray
    objective: float
    grad_norm: float
    alpha: float
    sign: int
    ridge: float


def vpo_objective(psi, task, data, *, alpha: float, sign: int = -1, ridge: float = 1e-3, pi_cal=None):
    """The reward-form objective and its gradient at ``psi`` (module docstring): ``(float, (d,))``."""
    task = _check_task(task)
    prob = _Problem(task, _counts(task, data), check_real(alpha, "alpha", low=0.0), _check_sign(sign),
                    check_real(ridge, "ridge", low=0.0), _pi_cal(task, pi_cal))
    return prob(task._check_theta(psi, "psi"))


def vpo(task, data, *, alpha: float, sign: int = -1, ridge: float = 1e-3, pi_cal=None,
        gtol: float = 1e-9, max_iter: int = 2000) -> VPOResult:
    """Fit VPO's reward form by L-BFGS (module docstring).

    Parameters
    ----------
    task : mdps.LogLinearPreferenceTask
    data : mdps.PreferenceData or array_like (X, K, K)
        Win counts ``C[x, winner, loser]`` (non-negative; need not be integers).
    alpha : float >= 0
        Weight of the value term; ``0`` is the (ridge-regularised) reward MLE, i.e. DPO.
    sign : {-1, +1}
        ``-1`` offline/pessimistic (convex), ``+1`` online/optimistic (not convex in general).
    ridge : float >= 0
        ``lambda``; must be ``> 0`` for ``sign = +1`` (boundedness).
    pi_cal : array_like (X, K) or (K,), optional
        Calibration distribution (default ``task.ref``).
    """
    task = _check_task(task)
    a = check_real(alpha, "alpha", low=0.0)
    s = _check_sign(sign)
    lam = check_real(ridge, "ridge", low=0.0)
    if s == 1 and a > 0 and lam == 0:
        raise ValueError("ridge must be > 0 when sign=+1 and alpha > 0: the optimistic objective is "
                         "unbounded below without it")
    prob = _Problem(task, _counts(task, data), a, s, lam, _pi_cal(task, pi_cal))
    res = minimize(prob, np.zeros(task.dim), jac=True, method="L-BFGS-B",
                   options=dict(gtol=check_real(gtol, "gtol", low=0.0, low_open=True),
                                ftol=1e-15, maxiter=check_int(max_iter, "max_iter", low=1)))
    psi = res.x
    f, g = prob(psi)
    r = prob.reward(psi)
    pol = softmax(prob.logref + r / task.beta)
    return VPOResult(readonly(psi.copy()), readonly(r), readonly(pol), float(f), float(np.linalg.norm(g)),
                     a, s, lam)


def vpo_policy_loss(theta, task, data, *, alpha: float, sign: int = -1, pi_cal=None):
    r"""The reparametrised loss :math:`L_{VPO}(\theta)` of the log-linear policy
    :math:`\pi_\theta\propto\pi_{ref}e^{\theta^\top\phi}` and its gradient: ``(float, (d,))``.

    :math:`L_{DPO}(\theta) = \sum C[x,w,l]\,\ell(\beta\theta^\top(\phi_w - \phi_l))` plus
    :math:`s\alpha\beta\sum_x\rho_x E_{\pi_{cal}}\log(\pi_\theta/\pi_{ref})`, whose gradient is
    :math:`s\alpha\beta\sum_x\rho_x(E_{\pi_{cal}}\phi - E_{\pi_\theta}\phi)`."""
    task = _check_task(task)
    a = check_real(alpha, "alpha", low=0.0)
    s = _check_sign(sign)
    C = _counts(task, data)
    cal = _pi_cal(task, pi_cal)
    th = task._check_theta(theta)
    beta, w, phi = task.beta, task.weights, task.features
    x, i, j = np.nonzero(C)
    dphi = phi[x, i] - phi[x, j]
    z = beta * (dphi @ th)
    dpo = float(C[x, i, j] @ np.logaddexp(0.0, -z))
    g = -beta * (dphi.T @ (C[x, i, j] * expit(-z)))
    logratio = log_softmax(np.log(task.ref) + phi @ th) - np.log(task.ref)  # log(pi_theta / ref)
    val = float(w @ np.sum(cal * logratio, axis=-1))
    pth = task.policy(th)
    gval = np.einsum("x,xd->d", w, np.einsum("xk,xkd->xd", cal - pth, phi))
    return dpo + s * a * beta * val, g + s * a * beta * gval


@dataclass(frozen=True)
class VPOOnlineResult:
    """The online VPO loop (frozen, arrays read-only).

    Attributes
    ----------
    regret : ndarray (n_rounds,)
        Exact per-round regret :math:`J^*(r^*) - J_{r^*}(\\pi_t)`; cumulative = ``regret.cumsum()``.
    policies : ndarray (n_rounds, X, K)
        The played policies.
    psis : ndarray (n_rounds, d)
        The fits that produced them.
    contexts, first, second, winners : ndarray (n_rounds,)
        The records: ``first ~ pi_t``, ``second ~ ref``; ``winners`` is the labelled winner.
    """

    regret: np.ndarray
    policies: np.ndarray
    psis: np.ndarray
    contexts: np.ndarray
    first: np.ndarray
    second: np.ndarray
    winners: np.ndarray


def vpo_online(task, n_rounds: int, *, alpha: float, rng=None, ridge: float = 1e-3, sign: int = 1,
               pi_cal=None) -> VPOOnlineResult:
    """Online VPO (module docstring): refit on all data, play, draw one pair, record exact regret.
    ``sign=+1`` (optimistic) is the paper's online choice; ``alpha=0`` is greedy online DPO."""
    task = _check_task(task)
    T = check_int(n_rounds, "n_rounds", low=1)
    gen = check_rng(rng)
    X, K, d = task.n_contexts, task.n_responses, task.dim
    C = np.zeros((X, K, K))
    r_star = task.reward()
    regret = np.empty(T)
    pols = np.empty((T, X, K))
    psis = np.empty((T, d))
    ctx = np.empty(T, dtype=np.int64)
    first = np.empty(T, dtype=np.int64)
    second = np.empty(T, dtype=np.int64)
    winners = np.empty(T, dtype=np.int64)
    cw = np.cumsum(task.weights)
    for t in range(T):
        fit = vpo(task, C, alpha=alpha, sign=sign, ridge=ridge, pi_cal=pi_cal)
        pi = np.array(fit.policy)
        pols[t], psis[t] = pi, fit.psi
        regret[t] = task.suboptimality(pi)
        x = min(int(np.searchsorted(cw, gen.random() * cw[-1], side="right")), X - 1)
        y = min(int(np.searchsorted(np.cumsum(pi[x]), gen.random(), side="right")), K - 1)
        y2 = min(int(np.searchsorted(np.cumsum(task.ref[x]), gen.random(), side="right")), K - 1)
        y_wins = gen.random() < expit(r_star[x, y] - r_star[x, y2])
        w, l = (y, y2) if y_wins else (y2, y)
        if w != l:
            C[x, w, l] += 1.0
        ctx[t], first[t], second[t], winners[t] = x, y, y2, w
    return VPOOnlineResult(*(readonly(a) for a in (regret, pols, psis, ctx, first, second, winners)))
