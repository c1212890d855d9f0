r"""First-order solver for log-linear preference objectives (DPO, RPO, HyPO), with a recorded trajectory.

Setting. A :class:`mdps.LogLinearPreferenceTask` (features :math:`\phi(x, y) \in \mathbb{R}^d`,
reference :math:`\mu`, temperature :math:`\beta`) and the policy class
:math:`\pi_\theta(y|x) \propto \mu(y|x)\, e^{\theta^\top\phi(x, y)}`. One-hot features
(:meth:`mdps.LogLinearPreferenceTask.one_hot`) are the tabular case.

Data. Every objective here sees the data only through the win counts ``C[x, w, l]`` (number of
records in context ``x`` where ``w`` beat ``l``: ``PreferenceData.counts()``), normalised to the
empirical law ``D = C / C.sum()``. Passing the exact law of one record
(``task.outcome_distribution(policy)``) instead of counts gives the population (infinite-data)
objective. The empirical context law is :math:`\hat\rho_x = \sum_{w,l} D[x, w, l]`.

DPO for log-linear policies. The reference and the partition function cancel in the margin
(Rafailov et al. 2023, arXiv 2305.18290), so with :math:`\ell(z) = -\log\sigma(z)`
(:func:`algorithms.preference_learning.losses.dpo`)

.. math:: L_{DPO}(\theta) = \sum_{x,w,l} D[x,w,l]\; \ell\big(\beta\,\theta^\top(\phi(x,w) - \phi(x,l))\big),
          \qquad \nabla L_{DPO} = \beta \sum D[x,w,l]\; \ell'(z_{xwl})\,(\phi(x,w) - \phi(x,l)),

with :math:`\ell' =` :func:`~algorithms.preference_learning.losses.dpo_grad` [R]. Two exact
consequences used by the checks [R]: a coordinate of :math:`\theta` that no compared pair
touches (with one-hot features, a response never compared) has zero gradient, so gradient
descent never moves it; and with one-hot features every pair's gradient sums to zero, so gradient
descent preserves :math:`\sum_y \theta_y` over the compared responses. Hence on data whose
comparison graph is connected over a set ``S`` of responses, gradient descent on the population
loss from ``init`` converges to the member of the (non-unique) minimiser family with
:math:`\theta_S = \theta^*_S - \overline{\theta^*_S} + \overline{\mathrm{init}_S}` and
:math:`\theta_{Y\setminus S} = \mathrm{init}_{Y \setminus S}`.

Solver. :func:`minimize` runs ``method="gd"`` (plain gradient descent
:math:`\theta_{t+1} = \theta_t - \mathrm{step}\,\nabla L(\theta_t)` for ``n_iter`` steps, or
until :math:`\|\nabla L\|_\infty \le` ``tol``) or ``method="bfgs"`` (SciPy's BFGS, stopping when
:math:`\|\nabla L\|_\infty \le` ``tol`` or when its line search can make no progress),
from ``init`` (default ``0``, i.e. :math:`\pi_\theta = \mu`). BFGS directions (identity initial
inverse Hessian, rank-two updates by steps and gradient differences) lie in the span
of the gradients, so the two invariants above hold for it too. The record holds, at
log-spaced checkpoints (every iteration for BFGS), the objective, the exact regularised gap
``task.suboptimality(pi)`` :math:`= J_\beta(\pi^*) - J_\beta(\pi)`, the reverse KL
``task.kl_to_ref(pi)`` and the average log-likelihood of the chosen responses
:math:`\sum D[x,w,l]\log\pi_\theta(w|x)`. These are diagnostics; the checks recompute every
error from the returned ``theta`` / ``policy``.

Default step for ``"gd"``: ``1 / L`` with the smoothness bound
:math:`L = \tfrac{\beta^2}{4}\max\|\phi_w - \phi_l\|^2 + c\,\max_{x,y}\|\phi(x,y)\|^2` where
``c`` is the weight of the extra term the caller declares (``smooth_extra``): the DPO Hessian is
:math:`\beta^2\sum D\,\ell''(z)\,\Delta\phi\Delta\phi^\top` with :math:`\ell'' \le 1/4`, and the
Hessian of :math:`E[-\log\pi_\theta]` is a covariance of :math:`\phi`, at most
:math:`\max\|\phi\|^2` [R]. (The KL term of HyPO is not globally smooth; use BFGS there.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from algorithms.preference_learning import losses
from mdps.numerics import log_softmax, softmax
from mdps.validation import as_float_array, check_choice, check_int, check_real, readonly

__all__ = ["TrajectoryResult", "counts_law", "dpo_objective", "minimize", "dpo", "log_policy"]

METHODS = ("gd", "bfgs")


@dataclass(frozen=True)
class TrajectoryResult:
    """What :func:`minimize` (and :func:`dpo`, ``rpo``, ``hypo``) return (frozen, arrays read-only).

    Attributes
    ----------
    theta : ndarray, shape (d,)
        The final parameter.
    policy : ndarray, shape (X, K)
        :math:`\\pi_\\theta`.
    objective, grad_norm : float
        The objective and the sup-norm of its gradient at ``theta``.
    n_iter : int
        Iterations run.
    converged : bool
        Whether the gradient sup-norm reached ``tol``.
    method : str
    steps : ndarray of int, shape (n_rec,)
        The recorded iterations (0 = the initial point).
    objectives, suboptimality, kl_to_ref, log_pi_chosen : ndarray, shape (n_rec,)
        The trajectory (module docstring).
    """

    theta: np.ndarray
    policy: np.ndarray
    objective: float
    grad_norm: float
    n_iter: int
    converged: bool
    method: str
    steps: np.ndarray
    objectives: np.ndarray
    suboptimality: np.ndarray
    kl_to_ref: np.ndarray
    log_pi_chosen: np.ndarray


def counts_law(task, data_or_counts, name: str = "counts") -> np.ndarray:
    """The empirical law ``D = C / C.sum()`` of a record, ``(X, K, K)``, from a
    :class:`mdps.PreferenceData` (its ``counts()``) or an array of non-negative finite counts
    (or probabilities) with a positive total and a zero diagonal."""
    from mdps import PreferenceData

    X, K = task.ref.shape
    if isinstance(data_or_counts, PreferenceData):
        if data_or_counts.policy.shape != (X, K):
            raise ValueError(f"{name} (a PreferenceData) has policy shape {data_or_counts.policy.shape}, "
                             f"expected {(X, K)}")
        C = data_or_counts.counts().astype(np.float64)
    else:
        C = as_float_array(data_or_counts, name, ndim=3)
        if C.shape != (X, K, K):
            raise ValueError(f"{name} must have shape {(X, K, K)}, got {C.shape}")
        if np.any(C < 0):
            idx = tuple(int(i) for i in np.argwhere(C < 0)[0])
            raise ValueError(f"{name} must be >= 0, got {name}[{idx}] = {C[idx]!r}")
        diag = C[:, np.arange(K), np.arange(K)]
        if np.any(diag != 0):
            raise ValueError(f"{name} must have a zero diagonal (a pair needs two responses), "
                             f"got {name}[x, y, y] up to {diag.max()!r}")
    tot = C.sum()
    if not tot > 0:
        raise ValueError(f"{name} must have a positive total, got {tot!r}")
    return C / tot


def log_policy(task, theta: np.ndarray) -> np.ndarray:
    """``log pi_theta``, ``(X, K)``, in log space."""
    return log_softmax(np.log(task.ref) + task.features @ theta)


def dpo_objective(task, law: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """``(L_DPO(theta), grad)`` on the record law ``law`` (:func:`counts_law`), module docstring."""
    phi, b = task.features, task.beta
    score = phi @ theta                                     # (X, K)
    z = b * (score[:, :, None] - score[:, None, :])         # z[x, w, l]
    w = law > 0
    zw = z[w]
    value = float(law[w] @ losses.dpo(zw))
    coef = np.zeros_like(law)
    coef[w] = law[w] * losses.dpo_grad(zw) * b             # d/d score_w = +coef, d/d score_l = -coef
    dscore = coef.sum(axis=2) - coef.sum(axis=1)            # (X, K)
    grad = np.einsum("xk,xkd->d", dscore, phi)
    return value, grad


def _smoothness(task, extra: float) -> float:
    phi = task.features
    diff = phi[:, :, None, :] - phi[:, None, :, :]
    dmax = float(np.max(np.sum(diff * diff, axis=-1)))
    fmax = float(np.max(np.sum(phi * phi, axis=-1)))
    return task.beta ** 2 / 4.0 * dmax + extra * fmax


def _check_init(task, init) -> np.ndarray:
    d = task.dim
    if init is None:
        return np.zeros(d)
    t = as_float_array(init, "init", ndim=1)
    if t.shape != (d,):
        raise ValueError(f"init must have shape ({d},), got {t.shape}")
    return t.copy()


def minimize(task, objective: Callable, law: np.ndarray, *, init=None, method: str = "bfgs",
             step=None, n_iter: int = 5000, tol: float = 1e-10, n_records: int = 50,
             smooth_extra: float = 0.0) -> TrajectoryResult:
    """Minimise ``objective(theta) -> (value, grad)`` from ``init`` (module docstring).

    ``law`` is the record law used for the recorded ``log_pi_chosen``; ``step`` (``"gd"`` only)
    defaults to ``1 / L`` with ``smooth_extra`` the weight of the extra smooth term.
    """
    method = check_choice(method, "method", METHODS)
    n_iter = check_int(n_iter, "n_iter", low=1)
    tol = check_real(tol, "tol", low=0.0)
    n_records = check_int(n_records, "n_records", low=2)
    theta = _check_init(task, init)
    rec_steps, rec = [], []

    def record(t, th, f):
        pi = softmax(np.log(task.ref) + task.features @ th)
        lp = log_policy(task, th)
        chosen = float(np.sum(law.sum(axis=2) * lp))
        rec_steps.append(t)
        rec.append((f, task.suboptimality(pi), task.kl_to_ref(pi), chosen))

    f, g = objective(theta)
    record(0, theta, f)
    it = 0
    if method == "gd":
        if step is None:
            step = 1.0 / _smoothness(task, float(smooth_extra))
        step = check_real(step, "step", low=0.0, low_open=True)
        marks = set(np.unique(np.geomspace(1, n_iter, n_records).astype(int)).tolist())
        while it < n_iter and np.max(np.abs(g)) > tol:
            theta = theta - step * g
            it += 1
            f, g = objective(theta)
            if not (np.isfinite(f) and np.all(np.isfinite(g))):
                raise FloatingPointError(f"gradient descent diverged at iteration {it} (objective {f!r}); "
                                         f"reduce step={step!r}")
            if it in marks:
                record(it, theta, f)
    else:
        from scipy.optimize import minimize as sp_minimize

        def cb(xk):
            nonlocal it
            it += 1
            record(it, xk, objective(xk)[0])

        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "precision loss" when a logit runs to -inf (RPO's trap)
            res = sp_minimize(objective, theta, jac=True, method="BFGS", callback=cb,
                              options={"maxiter": n_iter, "gtol": tol, "norm": np.inf})
        theta = np.asarray(res.x, dtype=np.float64)
        f, g = objective(theta)
    if rec_steps[-1] != it:
        record(it, theta, f)
    arr = np.asarray(rec, dtype=np.float64)
    return TrajectoryResult(theta=readonly(theta.copy()), policy=readonly(task.policy(theta)), objective=float(f),
                     grad_norm=float(np.max(np.abs(g))), n_iter=int(it),
                     converged=bool(np.max(np.abs(g)) <= tol), method=method,
                     steps=readonly(np.asarray(rec_steps, dtype=np.int64)),
                     objectives=readonly(arr[:, 0].copy()), suboptimality=readonly(arr[:, 1].copy()),
                     kl_to_ref=readonly(arr[:, 2].copy()), log_pi_chosen=readonly(arr[:, 3].copy()))


def dpo(task, data_or_counts, *, init=None, method: str = "gd", step=None, n_iter: int = 5000,
        tol: float = 1e-10, n_records: int = 50) -> TrajectoryResult:
    """Plain DPO on a log-linear task by :func:`minimize` from ``init`` (default ``0``).

    Under partial coverage the minimiser is a family; the member returned is the one the
    chosen first-order method reaches from ``init`` (module docstring).
    """
    law = counts_law(task, data_or_counts, "data_or_counts")
    return minimize(task, lambda th: dpo_objective(task, law, th), law, init=init, method=method,
                    step=step, n_iter=n_iter, tol=tol, n_records=n_records)
