"""Numba kernels of the episodic simulator (:mod:`mdps.simulate`).

Sampling is inverse-CDF on pre-drawn uniforms: the caller draws every uniform with its own
:class:`numpy.random.Generator` (no Numba RNG, so trajectories do not depend on the backend),
and these kernels only do binary searches. Every distribution is stored as a *CDF table* in
CSR form over its positive entries: row ``r`` owns ``cdf[indptr[r]:indptr[r+1]]`` (the
running sums of its positive probabilities, in increasing outcome order) and ``indices`` of
the same slice (the outcomes). The sample for a uniform ``u`` is the first position whose
running sum exceeds ``u`` (``np.searchsorted(cdf, u, side="right")`` semantics); when
round-off leaves the final running sum below ``u`` the last position, an outcome of positive
probability, is used.

Plain NumPy twins live in :mod:`mdps._sim_reference`; the tests check they agree exactly.
Small loop kernels, ``cache=True``, no ``fastmath``, results written into caller arrays.
"""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True)
def row_cumsum(indptr, data, cdf_out):
    """Running sums of ``data`` restarted at every row of ``indptr`` (summed left to right)."""
    for r in range(indptr.shape[0] - 1):
        acc = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            acc += data[k]
            cdf_out[k] = acc


@nb.njit(cache=True)
def csr_sample(indptr, indices, cdf, row, u):
    """The outcome of CDF row ``row`` for the uniform ``u`` (guarded against round-off)."""
    lo = indptr[row]
    hi = indptr[row + 1]
    last = hi - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    if lo > last:
        lo = last
    return indices[lo]


@nb.njit(cache=True)
def rollout(p_indptr, p_indices, p_cdf, n_p_stages, pi_indptr, pi_indices, pi_cdf, n_pi_stages,
            rho_indptr, rho_indices, rho_cdf, R, u, states_out, actions_out, rewards_out):
    """Simulate ``K = u.shape[0]`` episodes of ``H = actions_out.shape[1]`` steps.

    Transition CDF row of ``(h, s, a)``: ``(hp * S + s) * A + a`` with ``hp = h`` when
    ``n_p_stages > 1`` else 0; policy CDF row of ``(h, s)``: ``hpi * S + s`` likewise; ``R``
    has shape ``(HR, S, A)`` with ``HR`` 1 or ``H``. Uniform layout per episode ``k``:
    ``u[k, 0]`` the initial state, ``u[k, 1 + 2h]`` the action and ``u[k, 2 + 2h]`` the next
    state at step ``h``.
    """
    K = u.shape[0]
    H = actions_out.shape[1]
    S = R.shape[1]
    A = R.shape[2]
    n_r_stages = R.shape[0]
    for k in range(K):
        s = csr_sample(rho_indptr, rho_indices, rho_cdf, 0, u[k, 0])
        states_out[k, 0] = s
        for h in range(H):
            hpi = h if n_pi_stages > 1 else 0
            a = csr_sample(pi_indptr, pi_indices, pi_cdf, hpi * S + s, u[k, 1 + 2 * h])
            hr = h if n_r_stages > 1 else 0
            hp = h if n_p_stages > 1 else 0
            actions_out[k, h] = a
            rewards_out[k, h] = R[hr, s, a]
            s = csr_sample(p_indptr, p_indices, p_cdf, (hp * S + s) * A + a, u[k, 2 + 2 * h])
            states_out[k, h + 1] = s
