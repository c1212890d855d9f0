r"""Numba kernels of SubPO (:mod:`algorithms.submodular.subrl`): episode sampling, marginal gains and
the SubPO update, for the set functions with an array form.

Objectives (``kind``), all on a table ``table`` of shape ``(n_elements, M)``:

* ``COVERAGE``: ``table[x, m] > 0`` when element ``x`` covers target ``m``; ``weights`` ``(M,)``;
  ``F(X) = sum_m weights[m] [m covered by X]``. Per episode the kernel keeps ``best[m]`` (1 once
  ``m`` is covered), so ``Delta(x | X) = sum_{m covered by x, not yet covered} weights[m]``.
* ``FACILITY``: ``table = W`` (similarities, >= 0), ``F(X) = sum_m max_{x in X} W[x, m]``;
  ``best[m] = max_{x in X} W[x, m]`` (0 for the empty set), so
  ``Delta(x | X) = sum_m max(0, W[x, m] - best[m])``.
* ``MODULAR``: ``table[:, 0] = w`` (flattened ``(H+1, S)`` weights), ``Delta(x | X) = w[x]`` when
  ``x`` is not in ``X``, else 0.

``F(tau)`` is accumulated as ``Delta(x_0 | empty) + sum_j g_j`` (telescoping); the Python path of
:mod:`~algorithms.submodular.subrl` computes ``F(X_{j+1}) - F(X_j)`` from full evaluations, so the
gains agree to round-off (exactly for integer-valued objectives such as unit-weight coverage).

Sampling (inverse CDF on uniforms the caller draws, so no Numba RNG): ``u`` has shape
``(2H + 1, n)``: ``u[0, k]`` the initial state, ``u[1 + 2h, k]`` the action and ``u[2 + 2h, k]``
the next state of episode ``k`` at step ``h``. This is the order in which the Python path draws
(``g.random(n)`` for the start states, then per step ``g.random(n)`` for the actions and
``g.random(n)`` for the next states), so the same generator gives the same episodes. A draw is
the first outcome whose running sum is ``>= u`` (the Python path's ``(u > cdf).sum()``); the start
state and the action use dense running sums with the Python path's clip to the last index; the
transition uses the running sums over the positive entries of ``P`` (CSR) and the last positive
entry when round-off leaves the total below ``u``. The two can differ only when ``u`` is exactly
0 or above the round-off total of a row (probability of order ``2^-53`` per draw), where the
Python path may return an outcome of probability zero.

Small loop kernels, ``cache=True``, no ``fastmath``; :func:`subpo_iterations` runs a chunk of SubPO
iterations for every run of a batch, one run per ``prange`` step, each run reading only its own
row of ``theta`` and ``u`` and writing only its own rows, so a run's output does not depend on the
batch it is in or on the thread count.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

#: objective codes
COVERAGE, FACILITY, MODULAR = 0, 1, 2


@nb.njit(cache=True)
def add_element(kind, table, weights, x, visited, best):
    """Add element ``x`` to the visited set; return its marginal gain ``Delta(x | X)``."""
    if visited[x]:
        return 0.0
    visited[x] = True
    if kind == MODULAR:
        return table[x, 0]
    g = 0.0
    if kind == COVERAGE:
        for m in range(table.shape[1]):
            if table[x, m] > 0.0 and best[m] == 0.0:
                best[m] = 1.0
                g += weights[m]
    else:
        for m in range(table.shape[1]):
            d = table[x, m] - best[m]
            if d > 0.0:
                best[m] = table[x, m]
                g += d
    return g


@nb.njit(cache=True)
def first_at_least(cdf, u):
    """First index ``i`` with ``cdf[i] >= u`` (the last index when there is none)."""
    lo, hi = 0, cdf.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return min(lo, cdf.shape[0] - 1)


@nb.njit(cache=True)
def csr_first_at_least(indptr, indices, cdf, row, u):
    """The outcome of CSR row ``row`` at the first running sum ``>= u`` (the last one if none)."""
    lo, hi = indptr[row], indptr[row + 1]
    last = hi - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return indices[min(lo, last)]


@nb.njit(cache=True)
def episodes(p_indptr, p_indices, p_cdf, n_p_stages, rho_cdf, pi, u, kind, table, weights, stage_ground,
             states, actions, gains, F0, F):
    """Sample ``n = u.shape[1]`` episodes of ``pi`` ``(H, S, A)`` and their marginal gains.

    Writes ``states`` ``(n, H+1)``, ``actions`` ``(n, H)``, ``gains`` ``(n, H)`` (``g_j =
    Delta(e(j+1, s_{j+1}) | X_j)``), ``F0`` ``(n,)`` (``F(X_0)``) and ``F`` ``(n,)`` (``F(tau)``).
    """
    n = u.shape[1]
    H, S, A = pi.shape
    visited = np.zeros(table.shape[0], dtype=np.bool_)
    best = np.zeros(table.shape[1])
    cdf_a = np.empty(A)
    for k in range(n):
        visited[:] = False
        best[:] = 0.0
        s = first_at_least(rho_cdf, u[0, k])
        states[k, 0] = s
        value = add_element(kind, table, weights, s, visited, best)  # e(0, s) = s for both grounds
        F0[k] = value
        for h in range(H):
            acc = 0.0
            for b in range(A):
                acc += pi[h, s, b]
                cdf_a[b] = acc
            a = first_at_least(cdf_a, u[1 + 2 * h, k])
            hp = h if n_p_stages > 1 else 0
            s = csr_first_at_least(p_indptr, p_indices, p_cdf, (hp * S + s) * A + a, u[2 + 2 * h, k])
            x = (h + 1) * S + s if stage_ground else s
            g = add_element(kind, table, weights, x, visited, best)
            gains[k, h] = g
            value += g
            actions[k, h] = a
            states[k, h + 1] = s
        F[k] = value


@nb.njit(cache=True)
def softmax_rows(logits, pi):
    """``pi[h, s] = softmax(logits[h, s])``: ``e = exp(z - max z)``, ``e / sum e`` (summed left to right)."""
    H, S, A = logits.shape
    for h in range(H):
        for s in range(S):
            m = logits[h, s, 0]
            for b in range(1, A):
                if logits[h, s, b] > m:
                    m = logits[h, s, b]
            tot = 0.0
            for b in range(A):
                e = math.exp(logits[h, s, b] - m)
                pi[h, s, b] = e
                tot += e
            for b in range(A):
                pi[h, s, b] = pi[h, s, b] / tot


@nb.njit(cache=True)
def linear_logits(features, theta, logits):
    """``logits[h, s, a] = sum_j features[h, s, a, j] theta[j]`` (summed in ``j`` order)."""
    H, S, A, d = features.shape
    for h in range(H):
        for s in range(S):
            for a in range(A):
                acc = 0.0
                for j in range(d):
                    acc += features[h, s, a, j] * theta[j]
                logits[h, s, a] = acc


@nb.njit(cache=True, parallel=True)
def subpo_iterations(theta, features, u, p_indptr, p_indices, p_cdf, n_p_stages, rho_cdf, A, kind, table, weights,
                     stage_ground, lr, loo, tied, it0, returns):
    r"""``T = u.shape[1]`` SubPO iterations for every run ``r`` (one run per ``prange`` step), in place
    on ``theta[r]``.

    ``A`` is the number of actions. ``theta`` is ``(R, D)``: tabular softmax (``features.shape[3] ==
    0``, ``D = H S A``, logits ``theta[r]`` reshaped to ``(H, S, A)``) or linear softmax (``features``
    ``(H, S, A, d)``, ``D = d``, logits ``features . theta[r]``). ``u`` is ``(R, T, 2H+1, n)``: the
    uniforms of iteration ``it0 + t`` of run ``r`` are ``u[r, t]``. With ``G_{k,i} = sum_{j >= i}
    g_{k,j}`` (minus the leave-one-out mean ``(sum_l G_{l,i} - G_{k,i}) / (n - 1)`` when ``loo``):

    .. math:: \hat g = \frac1n \sum_k \sum_i \nabla_\theta \log \pi_\theta(a_{k,i} | s_{k,i}, i)\, G_{k,i},
              \qquad \theta \leftarrow \theta + \mathrm{lr}\, \hat g,

    with score ``e_a - pi(.|s, i)`` in the block ``(i, s)`` (tabular) or ``phi(i, s, a) - sum_b
    pi(b|s, i) phi(i, s, b)`` (linear). ``tied`` (tabular only): the step in ``theta[h, s]`` is the
    sum over ``s`` of the block steps, for every ``s``. ``returns[r, it0 + t]`` gets the batch mean
    of ``F(tau)`` (the algorithm's own estimate). Accumulation order (episodes in order, per stage)
    is the Python path's, so one-hot features reproduce the tabular run bit for bit. Each run
    allocates its scratch once per call.
    """
    R = theta.shape[0]
    T = u.shape[1]
    n = u.shape[3]
    H = (u.shape[2] - 1) // 2
    S = rho_cdf.shape[0]
    d = features.shape[3]
    linear = d > 0
    D = theta.shape[1]
    for r in nb.prange(R):
        logits = np.empty((H, S, A))
        pi = np.empty((H, S, A))
        states = np.empty((n, H + 1), dtype=np.int64)
        actions = np.empty((n, H), dtype=np.int64)
        gains = np.empty((n, H))
        F0 = np.empty(n)
        F = np.empty(n)
        G = np.empty((n, H))
        col = np.empty(H)
        grad = np.empty(D)
        score = np.empty(max(d, 1))
        for t in range(T):
            if linear:
                linear_logits(features, theta[r], logits)
            else:
                for h in range(H):
                    for s in range(S):
                        for a in range(A):
                            logits[h, s, a] = theta[r, (h * S + s) * A + a]
            softmax_rows(logits, pi)
            episodes(p_indptr, p_indices, p_cdf, n_p_stages, rho_cdf, pi, u[r, t], kind, table, weights,
                     stage_ground, states, actions, gains, F0, F)
            tot = 0.0
            for k in range(n):
                tot += F[k]
            returns[r, it0 + t] = tot / n
            for k in range(n):
                acc = 0.0
                for h in range(H - 1, -1, -1):
                    acc += gains[k, h]
                    G[k, h] = acc
            if loo and n > 1:
                col[:] = 0.0
                for k in range(n):
                    for h in range(H):
                        col[h] += G[k, h]
                for k in range(n):
                    for h in range(H):
                        G[k, h] = G[k, h] - (col[h] - G[k, h]) / (n - 1)
            grad[:] = 0.0
            for h in range(H):
                for k in range(n):
                    s = states[k, h]
                    a = actions[k, h]
                    w = G[k, h]
                    if linear:
                        for j in range(d):
                            e = 0.0
                            for b in range(A):
                                e += pi[h, s, b] * features[h, s, b, j]
                            score[j] = features[h, s, a, j] - e
                        for j in range(d):
                            grad[j] += score[j] * w
                    else:
                        base = (h * S + s) * A
                        for b in range(A):
                            sc = -pi[h, s, b]
                            if b == a:
                                sc += 1.0
                            grad[base + b] += sc * w
            for j in range(D):
                grad[j] = grad[j] / n
            if tied and not linear:
                for h in range(H):
                    for b in range(A):
                        acc = 0.0
                        for s in range(S):
                            acc += grad[(h * S + s) * A + b]
                        for s in range(S):
                            grad[(h * S + s) * A + b] = acc
            for j in range(D):
                theta[r, j] = theta[r, j] + lr * grad[j]
