r"""Solvers behind :meth:`mdps.preference.PreferenceGame.regularized_nash` (private).

They take validated arrays and trust them: ``A3`` is the antisymmetric part ``Pref - 1/2`` of
shape ``(X, K, K)``, ``logmu2`` the log-reference ``(X, K)``, ``beta`` a float in the range the
public method accepts. The certificate is computed by the caller; nothing here decides whether
an answer is good enough to return.

Two regimes (the module docstring of :mod:`mdps.preference` says which is used when):

* :func:`mirror_prox` -- exact Nash Mirror Prox at ``eta = 2`` in log space (Tiapkin et al.
  2025), contracting ``KL(pi*, pi_k)`` by ``(1 + 2 beta)^{-1}`` per iteration, with a
  safeguarded Newton polish (:func:`newton_polish`) when the step first drops below
  ``NEWTON_SWITCH``. Cost ``O(log(1/tol) / beta)`` iterations of ``O(K^2)``: the method for
  ``beta`` not too small.
* :func:`newton_continuation` -- for small ``beta``, where ``1/beta`` iterations are out of
  reach: follow the path ``b -> pi*_b`` from a solved ``beta0`` down to ``beta`` with
  Newton's method on the fixed-point equation, written in log space and scaled by ``b`` so
  that it stays well scaled as ``b -> 0``. With ``z = log pi`` and a multiplier ``lam`` for
  the normalisation,

  .. math::

      F(z, \lambda) = b\,(z - \log\mu) - A e^{z} + \lambda \mathbf 1 = 0, \qquad
      G(z) = \mathbf 1^T e^{z} - 1 = 0,

  whose solution is ``z = log pi*_b`` (then ``lam = -b KL(pi*_b || mu)``). The Jacobian is
  ``[[b I - A diag(p), 1], [p^T, 0]]``; a response outside the limiting Nash support has
  ``z_y ~ -c / b`` and ``p_y ~ 0``, so its column is ``b e_y`` and Newton sets it in one step.
  Each continuation step divides ``b`` by a ratio that widens after easy steps and narrows
  (halving its logarithm) when Newton does not reach ``|F|, |G| <= CONT_TOL`` within
  ``CONT_MAX_STEPS`` damped steps (Armijo backtracking on ``|F|^2 + G^2``; positive steps in
  ``z`` are capped at ``Z_STEP_CAP`` so that ``exp`` cannot overflow). At the target ``beta``
  Newton runs to the float64 floor. This is the path-following idea of interior-point
  methods (the entropic regulariser is the barrier, ``b`` its weight): ``pi*_b`` is the central
  path of the Nash linear program, and ``b -> 0`` selects the KL projection of ``mu`` onto the
  Nash set (docs/theory/nash.md, section 'Regularised game and equilibrium').
"""

from __future__ import annotations

import math

import numpy as np

from mdps.numerics import logsumexp

#: Newton polish of the Mirror Prox solver (O(K^3) per step) is tried only up to this many responses.
NEWTON_MAX_K = 2000
#: Newton polish is attempted when the Mirror Prox step first falls below each threshold.
NEWTON_SWITCH = (1e-5, 1e-8, 1e-11)
#: Round-off floor of the Mirror Prox stopping rule: below it, 25 iterations without a new
#: smallest step mean the iteration is at the float64 floor and stops (the certificate decides).
MP_FLOOR = 1e-13
#: Newton continuation: first ratio b_{n+1} / b_n, its smallest value (after easy steps the
#: ratio is squared), and the ratio above which a stalled continuation gives up.
CONT_RATIO, CONT_RATIO_MIN, CONT_RATIO_GIVE_UP = 0.1, 1e-4, 0.999
#: Newton continuation: an intermediate point is accepted when ``max(|F|_inf, |G|) <=`` this
#: (payoff units; the path is followed closely, not exactly), within this many damped steps.
CONT_TOL, CONT_MAX_STEPS = 1e-9, 10
#: Newton continuation: at most this many Newton steps in all (then the continuation stops
#: where it is and the caller's certificate fails), and at most this many at the target beta.
CONT_BUDGET, FINAL_MAX_STEPS = 5000, 60
#: Largest increase of a log-probability in one Newton step (``exp(30)`` is far from overflow).
Z_STEP_CAP = 30.0

_EPS = np.finfo(np.float64).eps


def matvec(P3: np.ndarray, pi2: np.ndarray) -> np.ndarray:
    """``Pref[x] @ pi[x]`` for every context: ``(X, K, K), (X, K) -> (X, K)``."""
    if P3.shape[0] == 1:
        return (P3[0] @ pi2[0])[None]
    return np.matmul(P3, pi2[:, :, None])[:, :, 0]


def mirror_prox(A3, logmu2, beta: float, tol: float, max_iter: int, *, eta: float):
    """Exact Nash Mirror Prox from ``pi_0 = mu`` (module docstring); returns ``(z, pi, n_iter)``
    with ``z`` the ``(X, K)`` log-policies of the last iterate."""
    b = beta
    a_, b_, c_ = 1.0 / (1.0 + eta * b), eta * b / (1.0 + eta * b), eta / (1.0 + eta * b)
    base = b_ * logmu2
    z = logmu2 - logsumexp(logmu2, axis=1)[:, None]
    pi = np.exp(z)
    switches = list(NEWTON_SWITCH) if A3.shape[-1] <= NEWTON_MAX_K else []
    best, stale, n_iter = np.inf, 0, 0
    for n_iter in range(1, max_iter + 1):
        zh = a_ * z + base + c_ * matvec(A3, pi)
        zh -= logsumexp(zh, axis=1)[:, None]
        zn = a_ * z + base + c_ * matvec(A3, np.exp(zh))
        zn -= logsumexp(zn, axis=1)[:, None]
        pn = np.exp(zn)
        diff = float(np.abs(pn - pi).max())
        z, pi = zn, pn
        if diff < tol:
            break
        if diff < best:
            best, stale = diff, 0
        else:
            stale += 1
            if best < MP_FLOOR and stale >= 25:
                break
        if switches and diff < switches[0]:
            while switches and diff < switches[0]:
                switches.pop(0)
            z = newton_polish(A3, z, b, logmu2)
            pi = np.exp(z)
            best, stale = np.inf, 0
    return z, pi, n_iter


def newton_polish(A3, z2: np.ndarray, beta: float, logmu2: np.ndarray) -> np.ndarray:
    """Safeguarded Newton on ``H(z) = z - log mu - A softmax(z) / beta`` (mod constants), per
    context; a step is kept only when it lowers the fixed-point residual."""
    out = z2.copy()
    K = A3.shape[-1]
    eye = np.eye(K)
    for x in range(A3.shape[0]):
        P, lm = A3[x], logmu2[x]
        z = out[x]

        def resid(zz):
            p = np.exp(zz)
            q = lm + P @ p / beta
            q = np.exp(q - logsumexp(q))
            return float(np.abs(p - q).max())

        r = resid(z)
        for _ in range(30):
            p = np.exp(z)
            g = P @ p
            H = z - lm - g / beta
            J = eye - (P * p[None, :] - np.outer(g, p)) / beta
            try:
                step = np.linalg.solve(J, -H)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            improved = False
            t = 1.0
            for _ in range(6):
                zn = z + t * step
                zn = zn - logsumexp(zn)
                rn = resid(zn)
                if rn < r:
                    improved = True
                    break
                t *= 0.5
            if not improved:
                break
            z, r = zn, rn
            if r == 0.0:
                break
        out[x] = z
    return out


def _system(A, logmu, b, z, lam):
    p = np.exp(z)
    F = b * (z - logmu) - A @ p + lam
    G = p.sum() - 1.0
    return F, G, p


def _floor(K: int, b: float, z, logmu, lam) -> float:
    """Round-off floor of ``max(|F|_inf, |G|)``: every term of ``F`` is computed to ``eps``
    relative, and ``A p`` sums ``K`` terms of size ``<= 1/2``."""
    return 4.0 * _EPS * (K + float(np.abs(b * (z - logmu)).max()) + abs(lam))


def _newton(A, logmu, b, z, lam, *, tol, max_steps):
    """Damped Newton on ``(F, G) = 0`` at weight ``b``.

    ``tol=None`` runs to the float64 floor. Returns ``(ok, z, lam, steps)``; ``ok`` says
    whether ``max(|F|, |G|) <= tol`` (or, with ``tol=None``, that the floor was reached or no
    step could lower the merit any more)."""
    K = z.shape[0]
    F, G, p = _system(A, logmu, b, z, lam)

    def done(F, G, z, lam):
        err = max(float(np.abs(F).max()), abs(G))
        return err <= (_floor(K, b, z, logmu, lam) if tol is None else tol)

    if done(F, G, z, lam):
        return True, z, lam, 0
    phi = float(F @ F + G * G)
    J = np.empty((K + 1, K + 1))
    diag = np.arange(K)
    for step in range(1, max_steps + 1):
        J[:K, :K] = -A * p[None, :]
        J[diag, diag] += b
        J[:K, K] = 1.0
        J[K, :K] = p
        J[K, K] = 0.0
        try:
            d = np.linalg.solve(J, -np.append(F, G))
        except np.linalg.LinAlgError:
            return tol is None, z, lam, step
        if not np.all(np.isfinite(d)):
            return tol is None, z, lam, step
        dz, dlam = d[:K], d[K]
        up = float(dz.max())
        t = 1.0 if up <= Z_STEP_CAP else Z_STEP_CAP / up
        for _ in range(40):
            zn, ln = z + t * dz, lam + t * dlam
            Fn, Gn, pn = _system(A, logmu, b, zn, ln)
            phin = float(Fn @ Fn + Gn * Gn)
            if math.isfinite(phin) and phin <= (1.0 - 1e-4 * t) * phi:
                break
            t *= 0.5
        else:  # no decrease along the Newton direction: at the floor (or stuck)
            return tol is None, z, lam, step
        z, lam, F, G, p, phi = zn, ln, Fn, Gn, pn, phin
        if done(F, G, z, lam):
            return True, z, lam, step
    return tol is None, z, lam, max_steps


def newton_continuation(A, logmu, beta0: float, z0, beta: float):
    """Follow ``pi*_b`` from ``b = beta0`` (``z0 = log pi*_beta0``) down to ``b = beta`` (module
    docstring), for one context: ``A (K, K)``, ``logmu (K,)``.

    Returns ``(z, reached, steps)``: the normalised log-policy at the smallest weight reached,
    that weight, and the number of Newton steps used. ``reached > beta`` means the
    continuation stalled (the caller's certificate then fails and says so).
    """
    z = np.array(z0, dtype=np.float64)
    p = np.exp(z)
    lam = -beta0 * float(p @ (z - logmu))
    b, ratio, total = beta0, CONT_RATIO, 0
    while b > beta and total < CONT_BUDGET:
        bn = max(beta, b * ratio)
        ok, zn, ln, steps = _newton(A, logmu, bn, z, lam, tol=CONT_TOL, max_steps=CONT_MAX_STEPS)
        total += steps
        if ok:
            z, lam, b = zn, ln, bn
            if steps <= 3:
                ratio = max(ratio * ratio, CONT_RATIO_MIN)
        else:
            ratio = math.sqrt(ratio)
            if ratio > CONT_RATIO_GIVE_UP:
                break
    if b == beta:
        _, z, lam, steps = _newton(A, logmu, beta, z, lam, tol=None, max_steps=FINAL_MAX_STEPS)
        total += steps
    return z - logsumexp(z), b, total
