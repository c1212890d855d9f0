"""Numba kernels for the tabular engines.

Small, loop-based, pure functions: arrays and scalars in, results written into arrays the
caller passes. No globals, ``cache=True``, no ``fastmath`` (these kernels check theorems).
Each kernel has a plain NumPy reference in :mod:`mdps._reference`; Hypothesis tests check
they agree. Debug with ``NUMBA_DISABLE_JIT=1``.

Layouts: a dense kernel sees the ``(S*A, S)`` view of ``P[s, a, s']``, so row ``s*A + a``;
a sparse kernel sees the same matrix as CSR arrays ``(indptr, indices, data)``.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def greedy_max(PV, R, gamma, V_out, sigma_out, feasible=None):
    """``Q = R + gamma * PV`` (PV the ``(S*A,)`` product ``P @ V``); write ``max_a Q`` and the
    lowest maximising action into ``V_out`` and ``sigma_out``.

    ``feasible`` (bool ``(S, A)``, optional): the max runs over the feasible actions only (every
    state has one); ``None`` compiles a specialisation without the test (Numba prunes the
    ``is None`` branch), so the feasible-everywhere path is unchanged.
    """
    S, A = R.shape
    for s in range(S):
        a0 = 0
        if feasible is not None:
            while not feasible[s, a0]:  # the first feasible action (every state has one)
                a0 += 1
        best = R[s, a0] + gamma * PV[s * A + a0]
        arg = a0
        for a in range(a0 + 1, A):
            if feasible is not None:
                if not feasible[s, a]:
                    continue
            q = R[s, a] + gamma * PV[s * A + a]
            if q > best:
                best = q
                arg = a
        V_out[s] = best
        sigma_out[s] = arg


# -- sparse kernels ----------------------------------------------------------------------------
# Each sparse kernel comes as a parallel loop (``prange``, for large matrices) and a serial loop
# (for small ones: launching a parallel region costs ~1 ms on two cores, a thousand times a
# 3-state backup). Both loops call the same per-row helper, so they return the same bits.

@nb.njit(cache=True)
def csr_row_dot(indptr, indices, data, r, V):
    """``P[r, :] @ V`` for row ``r`` of a CSR matrix, summed in storage order (the one order
    every sparse kernel below uses, so that they agree bit for bit).

    The positions run as unsigned integers: a signed index makes Numba emit a negative-index
    wraparound test on every load, which made this loop 1.5-2x slower than SciPy's CSR product.
    Indices are validated nonnegative by :class:`mdps.TabularMDP`."""
    acc = 0.0
    k = np.uint64(indptr[r])
    end = np.uint64(indptr[r + 1])
    one = np.uint64(1)
    while k < end:
        acc += data[k] * V[np.uint64(indices[k])]
        k += one
    return acc


@nb.njit(cache=True)
def csr_bellman_row(indptr, indices, data, R, V, gamma, s, feasible=None):
    """``(max_a Q[s, a], lowest maximiser)`` with ``Q[s, a] = R[s, a] + gamma * P[s, a, :] @ V``,
    over the actions with ``feasible[s, a]`` when a mask is given (as in :func:`greedy_max`)."""
    A = R.shape[1]
    best = -np.inf
    arg = 0
    if feasible is not None:
        while not feasible[s, arg]:  # default to the first feasible action (every state has one)
            arg += 1
    for a in range(A):
        if feasible is not None:
            if not feasible[s, a]:
                continue
        q = R[s, a] + gamma * csr_row_dot(indptr, indices, data, s * A + a, V)
        if q > best:
            best = q
            arg = a
    return best, arg


@nb.njit(cache=True, parallel=True)
def csr_matvec(indptr, indices, data, V, out):
    """``out = P @ V`` for a CSR matrix (one row per state-action pair)."""
    for r in nb.prange(indptr.shape[0] - 1):
        out[r] = csr_row_dot(indptr, indices, data, r, V)


@nb.njit(cache=True)
def csr_matvec_serial(indptr, indices, data, V, out):
    """Serial twin of :func:`csr_matvec` (same bits)."""
    for r in range(indptr.shape[0] - 1):
        out[r] = csr_row_dot(indptr, indices, data, r, V)


@nb.njit(cache=True, parallel=True)
def csr_bellman_max(indptr, indices, data, R, V, gamma, V_out, sigma_out, feasible=None):
    """Fused sparse Bellman optimality backup: ``V_out[s] = max_a R[s,a] + gamma * P[s,a,:] @ V``
    (max over ``feasible[s, :]`` when a mask is given)."""
    for s in nb.prange(R.shape[0]):
        V_out[s], sigma_out[s] = csr_bellman_row(indptr, indices, data, R, V, gamma, s, feasible)


@nb.njit(cache=True)
def csr_bellman_max_serial(indptr, indices, data, R, V, gamma, V_out, sigma_out, feasible=None):
    """Serial twin of :func:`csr_bellman_max` (same bits)."""
    for s in range(R.shape[0]):
        V_out[s], sigma_out[s] = csr_bellman_row(indptr, indices, data, R, V, gamma, s, feasible)


@nb.njit(cache=True)
def dense_policy_backup(P2, R, V, sigma, gamma, out):
    """``out[s] = R[s, sigma[s]] + gamma * P[s, sigma[s], :] @ V`` for a deterministic ``sigma``.

    Gathers row ``s*A + sigma[s]`` of the dense ``(S*A, S)`` view: ``O(S^2)`` per call, a
    fraction ``1/A`` of a full backup.
    """
    S, A = R.shape
    n = V.shape[0]
    for s in range(S):
        r = s * A + sigma[s]
        acc = 0.0
        for t in range(n):
            acc += P2[r, t] * V[t]
        out[s] = R[s, sigma[s]] + gamma * acc


@nb.njit(cache=True, parallel=True)
def csr_policy_backup(indptr, indices, data, R, V, sigma, gamma, out):
    """Sparse twin of :func:`dense_policy_backup`: one CSR row per state, ``O(nnz / A)``."""
    S, A = R.shape
    for s in nb.prange(S):
        out[s] = R[s, sigma[s]] + gamma * csr_row_dot(indptr, indices, data, s * A + sigma[s], V)


@nb.njit(cache=True)
def csr_policy_backup_serial(indptr, indices, data, R, V, sigma, gamma, out):
    """Serial twin of :func:`csr_policy_backup` (same bits)."""
    S, A = R.shape
    for s in range(S):
        out[s] = R[s, sigma[s]] + gamma * csr_row_dot(indptr, indices, data, s * A + sigma[s], V)


@nb.njit(cache=True)
def csr_policy_sweeps(indptr, indices, data, R, V, sigma, gamma, n_sweeps, work):
    """``V <- (T^sigma)^n_sweeps V`` in place (``work``: scratch of shape ``(S,)``).

    The same arithmetic as ``n_sweeps`` calls of :func:`csr_policy_backup`, hence the same bits,
    without a Python call per sweep (modified policy iteration's ``m - 1`` evaluation sweeps).
    """
    S, A = R.shape
    for _ in range(n_sweeps):
        for s in range(S):
            work[s] = R[s, sigma[s]] + gamma * csr_row_dot(indptr, indices, data, s * A + sigma[s], V)
        for s in range(S):
            V[s] = work[s]


@nb.njit(cache=True)
def sup_diff(x, y):
    """``||x - y||_inf`` without allocating (0 for empty vectors)."""
    m = 0.0
    for i in range(x.shape[0]):
        d = abs(x[i] - y[i])
        if d > m:
            m = d
    return m


@nb.njit(cache=True)
def diff_range(x, y):
    """``(min(x - y), max(x - y))`` without allocating (``(0, 0)`` for empty vectors)."""
    if x.shape[0] == 0:
        return 0.0, 0.0
    lo = hi = x[0] - y[0]
    for i in range(1, x.shape[0]):
        d = x[i] - y[i]
        if d < lo:
            lo = d
        elif d > hi:
            hi = d
    return lo, hi


# -- policy evaluation by restarted GMRES (inexact policy iteration) ---------------------------
@nb.njit(cache=True)
def policy_residual_matvec(indptr, indices, data, P_dense, sigma, A, gamma, x, out):
    """``out = Pi (I - gamma P_sigma) x``, ``Pi = I - 1 1^T / S`` the centring projector, with
    ``P_sigma[s] = P[s * A + sigma[s], :]`` read in place:
    from the dense ``(S*A, S)`` view when ``P_dense`` has rows, from the CSR arrays otherwise
    (``P_dense`` then has shape ``(0, 0)``). No gathered copy of ``P_sigma`` is made.

    Why centred: ``(I - gamma P_sigma) 1 = (1 - gamma) 1``, so the constant mode of a value is
    solved in closed form (the MacQueen midpoint); on centred vectors ``Pi (I - gamma P_sigma)``
    has the eigenvalues ``1 - gamma lambda`` for the eigenvalues ``lambda != 1`` of ``P_sigma``,
    away from the ill-conditioned ``1 - gamma``, and its residual bounds the span that the
    certificate needs: ``sp(z) <= 2 ||Pi z||_inf <= 2 ||Pi z||_2``."""
    S = x.shape[0]
    if P_dense.shape[0] > 0:
        for s in range(S):
            out[s] = x[s] - gamma * dense_row_dot(P_dense, s * A + sigma[s], x)
    else:
        for s in range(S):
            out[s] = x[s] - gamma * csr_row_dot(indptr, indices, data, s * A + sigma[s], x)
    mean = 0.0
    for s in range(S):
        mean += out[s]
    mean /= S
    for s in range(S):
        out[s] -= mean


@nb.njit(cache=True)
def dense_row_dot(P_dense, r, x):
    """``P_dense[r, :] @ x`` with four interleaved partial sums (so the loop is not bound by the
    latency of one chain of additions), combined as ``(s0 + s1) + (s2 + s3)``. Its rounding error
    obeys the same ``(n + 2) u`` bound as a sequential sum (any summation order does, Higham
    2002, Lemma 3.1 and its order-free proof)."""
    n = P_dense.shape[1]
    s0 = s1 = s2 = s3 = 0.0
    k = 0
    while k + 4 <= n:
        s0 += P_dense[r, k] * x[k]
        s1 += P_dense[r, k + 1] * x[k + 1]
        s2 += P_dense[r, k + 2] * x[k + 2]
        s3 += P_dense[r, k + 3] * x[k + 3]
        k += 4
    while k < n:
        s0 += P_dense[r, k] * x[k]
        k += 1
    return (s0 + s1) + (s2 + s3)


@nb.njit(cache=True)
def csr_gather_rows(indptr, indices, data, rows, out_indptr, out_indices, out_data):
    """Rows ``rows`` of a CSR matrix as a new CSR matrix, in place into ``out_*`` (``out_indptr``
    of length ``len(rows) + 1``, the others of length at least the rows' stored entries), entries
    in storage order: ``P_sigma`` as its own compact matrix, so that evaluation sweeps stream it
    instead of hopping over every ``A``-th row of ``P``."""
    one = np.uint64(1)
    nnz = np.uint64(0)
    out_indptr[0] = 0
    for i in range(rows.shape[0]):
        r = np.uint64(rows[i])
        k = np.uint64(indptr[r])
        end = np.uint64(indptr[r + one])
        while k < end:  # unsigned positions: no wraparound tests (see csr_row_dot)
            out_indices[nnz] = indices[k]
            out_data[nnz] = data[k]
            nnz += one
            k += one
        out_indptr[i + 1] = nnz


@nb.njit(cache=True)
def policy_richardson(indptr, indices, data, P_dense, sigma, A, gamma, r, d, target, rho_max, max_sweeps, y):
    """Fixed-point sweeps ``d <- r + gamma P_sigma d`` on the policy equation
    ``(I - gamma P_sigma) d = r`` (modified policy iteration's evaluation), in place on ``d`` (the
    warm start on entry), ``P_sigma``'s rows read in place as in :func:`policy_residual_matvec`;
    ``y`` is ``(S,)`` scratch.

    Sweep ``j`` computes ``y = r + gamma P_sigma d_j``, whose difference ``y - d_j`` is the
    residual of ``d_j``, and the span of that residual (what the MacQueen certificate needs,
    constants do not count); then ``d_{j+1} = y``. Residuals obey ``res_{j+1} = gamma P_sigma
    res_j``, so the ratio of successive spans measures the contraction of the non-constant modes.
    Stops when a span is ``<= target`` (the new ``d`` is then at least that good: its residual
    ``gamma P_sigma res_j`` has span ``<= gamma sp(res_j)``), when the ratio exceeds ``rho_max``
    after two sweeps (slow mixing: the caller switches to GMRES), or after ``max_sweeps``.
    Returns ``(sweeps, span of the last residual, last ratio)``.
    """
    S = d.shape[0]
    prev = np.inf
    span = np.inf
    ratio = 0.0
    for j in range(max_sweeps):
        lo = np.inf
        hi = -np.inf
        for s in range(S):
            row = s * A + sigma[s]
            if P_dense.shape[0] > 0:
                acc = dense_row_dot(P_dense, row, d)
            else:
                acc = csr_row_dot(indptr, indices, data, row, d)
            val = r[s] + gamma * acc
            diff = val - d[s]
            if diff < lo:
                lo = diff
            if diff > hi:
                hi = diff
            y[s] = val
        for s in range(S):
            d[s] = y[s]
        span = hi - lo
        ratio = span / prev if prev > 0.0 else 0.0
        if span <= target:
            return j + 1, span, ratio
        if j >= 1 and ratio > rho_max:
            return j + 1, span, ratio
        prev = span
    return max_sweeps, span, ratio


@nb.njit(cache=True)
def _dot(x, y):
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i] * y[i]
    return acc


@nb.njit(cache=True)
def policy_gmres(indptr, indices, data, P_dense, sigma, A, gamma, b, x, restart, max_iter, atol, rtol, basis, w):
    """Restarted GMRES (Saad & Schultz 1986) for the centred policy equation
    ``Pi (I - gamma P_sigma) x = b`` (``b`` centred; see :func:`policy_residual_matvec`), in place
    on ``x`` (the warm start on entry).

    Arnoldi with modified Gram-Schmidt, Givens rotations on the Hessenberg matrix; a cycle ends
    after ``restart`` iterations or when the rotated residual ``|g_j| <= atol`` (Euclidean), and
    every cycle starts from the true residual ``b - (I - gamma P_sigma) x``. ``basis`` is scratch of
    shape ``(restart + 1, S)``, ``w`` of shape ``(S,)``. Returns ``(iterations, ||b - M x||_2)``,
    the norm being that of the last true residual computed (at the start of the final cycle, or
    after it when the loop stops on the iteration cap or the tolerance). The tolerance is
    ``max(atol, rtol * ||b - M x_0||_2)`` with ``x_0`` the warm start (a forcing term).
    """
    S = b.shape[0]
    m = restart
    H = np.zeros((m + 1, m))
    cs = np.zeros(m)
    sn = np.zeros(m)
    g = np.zeros(m + 1)
    y = np.zeros(m)
    total = 0
    first = True
    while True:
        policy_residual_matvec(indptr, indices, data, P_dense, sigma, A, gamma, x, w)
        for i in range(S):
            w[i] = b[i] - w[i]
        beta = np.sqrt(_dot(w, w))
        if first:
            atol = max(atol, rtol * beta)
            first = False
        if beta <= atol or total >= max_iter:
            return total, beta
        for i in range(S):
            basis[0, i] = w[i] / beta
        g[:] = 0.0
        g[0] = beta
        j = 0
        while j < m and total < max_iter:
            policy_residual_matvec(indptr, indices, data, P_dense, sigma, A, gamma, basis[j], w)
            for i in range(j + 1):  # modified Gram-Schmidt
                h = _dot(w, basis[i])
                H[i, j] = h
                for t in range(S):
                    w[t] -= h * basis[i, t]
            hn = np.sqrt(_dot(w, w))
            H[j + 1, j] = hn
            if hn > 0.0:
                for t in range(S):
                    basis[j + 1, t] = w[t] / hn
            for i in range(j):  # earlier rotations on the new column
                tmp = cs[i] * H[i, j] + sn[i] * H[i + 1, j]
                H[i + 1, j] = -sn[i] * H[i, j] + cs[i] * H[i + 1, j]
                H[i, j] = tmp
            den = np.hypot(H[j, j], H[j + 1, j])
            if den == 0.0:
                cs[j], sn[j] = 1.0, 0.0
            else:
                cs[j], sn[j] = H[j, j] / den, H[j + 1, j] / den
            H[j, j] = den
            H[j + 1, j] = 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] = cs[j] * g[j]
            total += 1
            j += 1
            if abs(g[j]) <= atol or hn == 0.0:
                break
        for i in range(j - 1, -1, -1):  # back substitution H[:j, :j] y = g[:j]
            acc = g[i]
            for t in range(i + 1, j):
                acc -= H[i, t] * y[t]
            y[i] = acc / H[i, i] if H[i, i] != 0.0 else 0.0
        for i in range(j):
            for t in range(S):
                x[t] += y[i] * basis[i, t]


@nb.njit(cache=True)
def row_sum_defect(indptr, data, P_dense):
    """``max_r |sum_k P[r, k] - 1|`` over the rows of a dense ``(S*A, S)`` array (when it has rows)
    or of CSR arrays, summed with Neumaier's compensation and ``(s - 1) + c`` formed with an
    exact subtraction (Sterbenz: ``s`` is in ``[0.5, 2]``), so the defect is resolved far below
    one ulp of 1; an allowance ``4 n u^2`` for the compensated sum is added."""
    u = 1.1102230246251565e-16
    worst = 0.0
    n_rows = P_dense.shape[0] if P_dense.shape[0] > 0 else indptr.shape[0] - 1
    for r in range(n_rows):
        s = 0.0
        comp = 0.0
        if P_dense.shape[0] > 0:
            lo, hi = 0, P_dense.shape[1]
        else:
            lo, hi = indptr[r], indptr[r + 1]
        for k in range(lo, hi):
            x = P_dense[r, k] if P_dense.shape[0] > 0 else data[k]
            t = s + x
            if abs(s) >= abs(x):
                comp += (s - t) + x
            else:
                comp += (x - t) + s
            s = t
        d = abs((s - 1.0) + comp) * (1.0 + 2.0 * u) + 4.0 * (hi - lo) * u * u
        if d > worst:
            worst = d
    return worst
