r"""Numba kernels of LinUCB / OFUL (:mod:`algorithms.linear.oful`).

One call of :func:`run_batch` runs ``n`` independent bandit runs of ``T`` rounds, learner and
environment both compiled, one run per ``prange`` iteration, each with its own SplitMix64 stream
seeded by a per-run ``uint64`` (the exploration engine's generator,
:mod:`algorithms.exploration._kernels`), so a run is the same bit for bit whatever the batch
size or thread count.

Statistics of a run: the inverse design matrix :math:`V_t^{-1}` (``Vinv``), kept by
Sherman-Morrison rank-one updates

.. math::

    V_{t+1}^{-1} = V_t^{-1} - \frac{z z^\top}{1 + x_t^\top z}, \qquad z = V_t^{-1} x_t,

refreshed by an exact inverse of :math:`V_t` (kept too) at rounds :math:`2^k` so round-off
cannot accumulate; :math:`b_t = \sum_s y_s x_s`, :math:`\hat\theta_t = V_t^{-1} b_t`; and
:math:`\log\det V_t` by the matrix determinant lemma
:math:`\log\det V_{t+1} = \log\det V_t + \log(1 + x_t^\top z)`. For a finite action set the
squared widths :math:`\|x\|^2_{V^{-1}}` of every action are kept and updated in ``O(n_actions d)``
per round: :math:`\|a\|^2_{V_{t+1}^{-1}} = \|a\|^2_{V_t^{-1}} - (a^\top z)^2 / (1 + x_t^\top z)`.

Small loop kernels, ``cache=True``, no ``fastmath``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from algorithms.exploration._kernels import standard_normal


@nb.njit(cache=True)
def ball_optimistic(theta_hat, Vmat, beta):
    r"""The optimistic action on the unit ball: :math:`x = \tilde\theta / \|\tilde\theta\|` with
    :math:`\tilde\theta = \arg\max \{\|\theta\| : \|\theta - \hat\theta\|_V \le \beta\}`.

    (:math:`\max_{\|x\| \le 1} \max_{\theta \in E} \langle\theta, x\rangle = \max_{\theta\in E}
    \|\theta\|`.) In the eigenbasis :math:`V = Q\,\mathrm{diag}(v)\,Q^\top`, :math:`t = Q^\top
    \hat\theta`, the maximiser is :math:`\theta = \hat\theta + Q w` with :math:`w_i = t_i / (\nu
    v_i - 1)` and :math:`\nu > 1/v_{\min}` the root of the decreasing secular equation
    :math:`g(\nu) = \sum_i v_i t_i^2 / (\nu v_i - 1)^2 = \beta^2` (the S-lemma's condition
    :math:`\nu V \succeq I` for a global maximum of a convex function over an ellipsoid), found by
    bisection on :math:`(1/v_{\min}, (1 + \sqrt{\sum_i v_i t_i^2}/\beta)/v_{\min}]`. When
    :math:`t` has no mass on the smallest eigenvalue's eigenspace and :math:`g(1/v_{\min}) \le
    \beta^2` (the "hard case", e.g. :math:`\hat\theta = 0`), :math:`\nu = 1/v_{\min}` and the
    remaining budget goes along that eigenspace's first eigenvector.
    """
    d = theta_hat.shape[0]
    v, Q = np.linalg.eigh(Vmat)
    t = Q.T @ theta_hat
    vmin = v[0]
    lo = 1.0 / vmin
    tol_eig = vmin * (1.0 + 1e-10)
    tnorm = math.sqrt(np.sum(t * t))
    hard = True
    for i in range(d):
        if v[i] <= tol_eig and abs(t[i]) > 1e-12 * (tnorm + 1e-300):
            hard = False
    w = np.zeros(d)
    if hard:
        rest = 0.0
        for i in range(d):
            if v[i] > tol_eig:
                w[i] = t[i] / (lo * v[i] - 1.0)
                rest += v[i] * w[i] * w[i]
        if rest <= beta * beta:
            w[0] = math.sqrt((beta * beta - rest) / vmin)
            if t[0] < 0.0:
                w[0] = -w[0]
        else:
            hard = False
    if not hard:
        s = 0.0
        for i in range(d):
            s += v[i] * t[i] * t[i]
        hi = (1.0 + math.sqrt(s) / beta) / vmin
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            g = 0.0
            for i in range(d):
                den = mid * v[i] - 1.0
                g += v[i] * t[i] * t[i] / (den * den)
            if g > beta * beta:
                lo = mid
            else:
                hi = mid
        for i in range(d):
            w[i] = t[i] / (hi * v[i] - 1.0)
    theta = theta_hat + Q @ w
    nrm = math.sqrt(np.sum(theta * theta))
    return theta / nrm


@nb.njit(cache=True)
def _refresh(Vmat, Vinv, actions, widths):
    Vinv[:, :] = np.linalg.inv(Vmat)
    for j in range(actions.shape[0]):
        a = actions[j]
        widths[j] = a @ (Vinv @ a)


@nb.njit(parallel=True, cache=True)
def run_batch(seeds, actions, unit_ball, theta, noise, T, lam, sigma_hat, S_bound, delta, bonus_scale,
              regret, chosen, chosen_x):
    r"""Run ``seeds.shape[0]`` runs of OFUL for ``T`` rounds (one per ``prange`` step).

    Writes ``regret[i, t]`` (exact pseudo-regret of round ``t``), ``chosen[i, t]`` (the action's
    row for a finite set, else -1) and, when ``chosen_x.shape[1] == T``, the played vectors.
    Confidence radius (Abbasi-Yadkori, Pál, Szepesvári 2011, Theorem 2):
    :math:`\beta_t = \hat\sigma\sqrt{2\log(1/\delta) + \log\det V_t - d\log\lambda} +
    \sqrt\lambda S`, times ``bonus_scale``.
    """
    d = theta.shape[0]
    n_act = actions.shape[0]
    best = 0.0
    if unit_ball:
        best = math.sqrt(np.sum(theta * theta))
    else:
        best = -np.inf
        for j in range(n_act):
            m = actions[j] @ theta
            if m > best:
                best = m
    keep_x = chosen_x.shape[1] == T
    for i in nb.prange(seeds.shape[0]):
        state = np.empty(1, dtype=np.uint64)
        state[0] = seeds[i]
        Vmat = lam * np.eye(d)
        Vinv = (1.0 / lam) * np.eye(d)
        b = np.zeros(d)
        logdet = d * math.log(lam)
        widths = np.empty(n_act)
        for j in range(n_act):
            widths[j] = actions[j] @ actions[j] / lam
        x = np.empty(d)
        next_refresh = 2
        for t in range(T):
            theta_hat = Vinv @ b
            rad = sigma_hat * math.sqrt(max(2.0 * math.log(1.0 / delta) + logdet - d * math.log(lam), 0.0))
            beta = bonus_scale * (rad + math.sqrt(lam) * S_bound)
            if unit_ball:
                if beta > 0.0:
                    x[:] = ball_optimistic(theta_hat, Vmat, beta)
                else:
                    nrm = math.sqrt(np.sum(theta_hat * theta_hat))
                    if nrm > 0.0:
                        x[:] = theta_hat / nrm
                    else:
                        x[:] = 0.0
                        x[0] = 1.0
                chosen[i, t] = -1
            else:
                jbest = 0
                ubest = -np.inf
                for j in range(n_act):
                    u = actions[j] @ theta_hat + beta * math.sqrt(max(widths[j], 0.0))
                    if u > ubest:
                        ubest = u
                        jbest = j
                x[:] = actions[jbest]
                chosen[i, t] = jbest
            mean = x @ theta
            regret[i, t] = best - mean
            if keep_x:
                chosen_x[i, t] = x
            y = mean + noise * standard_normal(state)
            # rank-one updates
            z = Vinv @ x
            den = 1.0 + x @ z
            for p in range(d):
                for q in range(d):
                    Vinv[p, q] -= z[p] * z[q] / den
                    Vmat[p, q] += x[p] * x[q]
                b[p] += y * x[p]
            logdet += math.log(den)
            for j in range(n_act):
                az = actions[j] @ z
                widths[j] -= az * az / den
            if t + 1 == next_refresh:
                _refresh(Vmat, Vinv, actions, widths)
                next_refresh *= 2


@nb.njit(parallel=True, cache=True)
def run_changing(seeds, sets, sizes, theta, noise, T, lam, sigma_hat, S_bound, delta, bonus_scale,
                 regret, chosen, chosen_x):
    r"""OFUL on changing action sets: round ``t`` offers the first ``sizes[t mod n]`` rows of
    ``sets[t mod n]`` (``n = sets.shape[0]``); one run per ``prange`` step, as :func:`run_batch`.

    The statistics (:math:`V_t`, :math:`V_t^{-1}` by Sherman-Morrison with the exact refresh at
    rounds :math:`2^k`, :math:`b_t`, :math:`\log\det V_t`) and the radius :math:`\beta_t` are
    :func:`run_batch`'s, operation for operation; only the widths differ: they are computed afresh,
    :math:`\|a\|^2_{V_t^{-1}} = a^\top (V_t^{-1} a)`, for every row of the round's set
    (``O(m d^2)`` per round), since the set changes. The index and its ties (first row) are
    :func:`run_batch`'s. ``regret[i, t]`` is the exact :math:`\max_{a\in\mathcal X_t}\langle\theta,
    a\rangle - \langle\theta, x_t\rangle`.
    """
    d = theta.shape[0]
    n_sets = sets.shape[0]
    best = np.empty(n_sets)
    for k in range(n_sets):
        best[k] = -np.inf
        for j in range(sizes[k]):
            m = sets[k, j] @ theta
            if m > best[k]:
                best[k] = m
    keep_x = chosen_x.shape[1] == T
    no_actions = np.zeros((0, d))
    no_widths = np.zeros(0)
    for i in nb.prange(seeds.shape[0]):
        state = np.empty(1, dtype=np.uint64)
        state[0] = seeds[i]
        Vmat = lam * np.eye(d)
        Vinv = (1.0 / lam) * np.eye(d)
        b = np.zeros(d)
        logdet = d * math.log(lam)
        x = np.empty(d)
        next_refresh = 2
        for t in range(T):
            k = t % n_sets
            theta_hat = Vinv @ b
            rad = sigma_hat * math.sqrt(max(2.0 * math.log(1.0 / delta) + logdet - d * math.log(lam), 0.0))
            beta = bonus_scale * (rad + math.sqrt(lam) * S_bound)
            jbest = 0
            ubest = -np.inf
            for j in range(sizes[k]):
                a = sets[k, j]
                w = a @ (Vinv @ a)
                u = a @ theta_hat + beta * math.sqrt(max(w, 0.0))
                if u > ubest:
                    ubest = u
                    jbest = j
            x[:] = sets[k, jbest]
            chosen[i, t] = jbest
            mean = x @ theta
            regret[i, t] = best[k] - mean
            if keep_x:
                chosen_x[i, t] = x
            y = mean + noise * standard_normal(state)
            z = Vinv @ x
            den = 1.0 + x @ z
            for p in range(d):
                for q in range(d):
                    Vinv[p, q] -= z[p] * z[q] / den
                    Vmat[p, q] += x[p] * x[q]
                b[p] += y * x[p]
            logdet += math.log(den)
            if t + 1 == next_refresh:
                _refresh(Vmat, Vinv, no_actions, no_widths)
                next_refresh *= 2
