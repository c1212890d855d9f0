"""Compiled whole-run loops for the exact-oracle Nash-learning algorithms.

One Numba call runs all ``n_iter`` iterations of online mirror descent (both prox steps),
Nash-MD or Nash Mirror Prox with exact win rates, so an iteration costs its matrix-vector
products and its prox steps and nothing else: no Python dispatch, no temporaries. The Python
loops in :mod:`algorithms.nash.omd`, :mod:`~algorithms.nash.nash_md` and
:mod:`~algorithms.nash.mirror_prox` stay the definition; this module repeats their arithmetic
operation for operation, so the iterates are **bitwise** equal to theirs
(``tests/test_nash_loops.py`` says so, for every algorithm, with and without contexts):

* the win rates ``P[x] @ pi[x]`` are ``np.dot`` on a contiguous row-major matrix, which Numba
  hands to the same BLAS ``dgemv`` that NumPy's ``@`` calls (checked bit for bit in the test);
* the prox steps call the same kernel, :func:`algorithms.nash._kernels.geometric_normalize`,
  with the same three weights computed in the same order as ``_prox`` / ``_prox_lin``;
* the step-weighted average accumulates ``avg += eta_t * pi`` exactly as :class:`Trace` does.

Nash-EMA (its mixing uses NumPy's ``logaddexp``/``log1p``, whose last bits differ from
Numba's), INPO (each iteration solves a ``K x K`` least-squares system, whose cost is not two
matvecs) and every sampled-oracle run keep the Python loop.

``ENABLED = False`` (module attribute) switches the compiled loops off; the tests use it to run
the reference loop. Debug with ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from algorithms.nash._kernels import geometric_normalize

__all__ = ["ENABLED", "OMD_LINEARIZED", "OMD_EXACT", "NASH_MD", "NASH_MP", "run_exact"]

#: use the compiled loops where they apply (the tests switch this off to run the reference)
ENABLED = True

OMD_LINEARIZED, OMD_EXACT, NASH_MD, NASH_MP = 0, 1, 2, 3


@nb.njit(cache=True)
def _win_rates(P, pi, out):
    """``out[x] = P[x] @ pi[x]`` (one exact query)."""
    for x in range(P.shape[0]):
        np.dot(P[x], pi[x], out[x])


@nb.njit(cache=True)
def _accumulate(avg, e, pi):
    """``avg += e * pi`` element by element (the same rounding as NumPy's, no temporary)."""
    X, K = pi.shape
    for x in range(X):
        for y in range(K):
            avg[x, y] += e * pi[x, y]


@nb.njit(cache=True)
def _prox_lin(z, log_ref, v, use_v, e, b, z_out, pi_out):
    """``_prox_lin(z, log_ref, v if use_v else None, e, b)`` of :mod:`algorithms.nash._prox`."""
    a = e * b
    geometric_normalize(1.0 - a, z, a, log_ref, e if use_v else 0.0, v, z_out, pi_out)


@nb.njit(cache=True)
def _prox(z, log_ref, v, e, b, z_out, pi_out):
    """``_prox(z, log_ref, v, e, b)`` of :mod:`algorithms.nash._prox`."""
    s = 1.0 / (1.0 + e * b)
    geometric_normalize(s, z, 1.0 - s, log_ref, e * s, v, z_out, pi_out)


@nb.njit(cache=True)
def _exact_run(kind, P, log_ref, z0, pi0, etas, beta, pis, avg, queries):
    """All iterations of algorithm ``kind``; fills ``pis[1:]``, ``avg`` and ``queries[1:]`` in
    place and returns the sum of the averaging weights."""
    X, K = pi0.shape
    z, pi = z0.copy(), pi0.copy()
    zn, pn = np.empty((X, K)), np.empty((X, K))
    zh, ph = np.empty((X, K)), np.empty((X, K))
    g = np.empty((X, K))
    avg_w = 0.0
    q = 0
    for t in range(etas.shape[0]):
        e = etas[t]
        if kind == NASH_MP:
            _win_rates(P, pi, g)
            q += 1
            _prox(z, log_ref, g, e, beta, zh, ph)
            _accumulate(avg, e, ph)
            avg_w += e
            _win_rates(P, ph, g)
            q += 1
            _prox(z, log_ref, g, e, beta, zn, pn)
        elif kind == NASH_MD:
            _prox_lin(z, log_ref, g, False, e, beta, zh, ph)  # the regularised opponent pi_t^mu
            _win_rates(P, ph, g)
            q += 1
            _accumulate(avg, e, pi)
            avg_w += e
            _prox_lin(z, log_ref, g, True, e, beta, zn, pn)
        else:
            _win_rates(P, pi, g)
            q += 1
            _accumulate(avg, e, pi)
            avg_w += e
            if kind == OMD_LINEARIZED:
                _prox_lin(z, log_ref, g, True, e, beta, zn, pn)
            else:
                _prox(z, log_ref, g, e, beta, zn, pn)
        z, zn = zn, z
        pi, pn = pn, pi
        pis[t + 1] = pi
        queries[t + 1] = q
    return avg_w


def run_exact(s, kind: int, trace):
    """Run the whole loop of ``kind`` on the validated problem ``s`` into ``trace`` (a fresh
    :class:`algorithms.nash._common.Trace`), keeping the oracle's query count in step."""
    c = np.ascontiguousarray
    trace.avg_w = _exact_run(kind, c(s.Pref), c(s.log_ref), c(s.log_init), c(s.init), c(s.etas),
                             float(s.beta), trace.pis, trace.avg, trace.queries)
    s.oracle._queries += int(trace.queries[-1])
    return trace
