"""Every Numba kernel in ``mdps._kernels`` agrees with its plain-NumPy twin in ``mdps._reference``.

Inputs: small random kernels with exact zeros (so the CSR matrices built from them have
genuinely missing entries and possibly empty-looking rows of the dense view), arbitrary finite
value vectors and rewards. Tolerance 1e-12 relative: the kernels and the references sum the
same products in possibly different orders.
"""

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mdps import _backup, _kernels, _reference
from tests.strategies import finite, value_vector

RTOL, ATOL = 1e-12, 1e-12


@st.composite
def kernel_case(draw, max_states=6, max_actions=4):
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    # one array draw (fast) with exact zeros, rows normalised; an all-zero row becomes a point mass
    W = draw(hnp.arrays(np.float64, (S, A, S), elements=st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0, 3.0])
                        | st.floats(0.0, 1.0, **finite)))
    W[W.sum(-1) == 0, 0] = 1.0
    P = W / W.sum(-1, keepdims=True)
    R = draw(hnp.arrays(np.float64, (S, A), elements=st.floats(-5, 5, **finite)))
    V = draw(value_vector(S))
    gamma = draw(st.floats(0.0, 0.99, **finite))
    sigma = np.array(draw(st.lists(st.integers(0, A - 1), min_size=S, max_size=S)), dtype=np.int64)
    P2 = np.ascontiguousarray(P.reshape(S * A, S))
    csr = sp.csr_array(P2)  # drops the exact zeros
    csr.sort_indices()
    return P2, csr, R, V, gamma, sigma


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@settings(max_examples=40)
@given(kernel_case())
def test_greedy_max(case):
    P2, _, R, V, gamma, _ = case
    PV = P2 @ V
    S = R.shape[0]
    V_out, sig_out = np.empty(S), np.empty(S, dtype=np.int64)
    _kernels.greedy_max(PV, R, gamma, V_out, sig_out)
    V_ref, sig_ref = _reference.greedy_max(PV, R, gamma)
    _close(V_out, V_ref)
    np.testing.assert_array_equal(sig_out, sig_ref)  # same arithmetic: identical ties


@settings(max_examples=40)
@given(kernel_case())
def test_csr_matvec(case):
    P2, csr, R, V, gamma, _ = case
    out = np.empty(P2.shape[0])
    _kernels.csr_matvec(csr.indptr, csr.indices, csr.data, V, out)
    _close(out, _reference.csr_matvec(csr.indptr, csr.indices, csr.data, V))
    _close(out, P2 @ V)


@settings(max_examples=40)
@given(kernel_case())
def test_csr_bellman_max(case):
    P2, csr, R, V, gamma, _ = case
    S = R.shape[0]
    V_out, sig_out = np.empty(S), np.empty(S, dtype=np.int64)
    _kernels.csr_bellman_max(csr.indptr, csr.indices, csr.data, R, V, gamma, V_out, sig_out)
    V_ref, _ = _reference.csr_bellman_max(csr.indptr, csr.indices, csr.data, R, V, gamma)
    _close(V_out, V_ref)
    # the chosen action attains the max (ties may resolve differently after reordered sums)
    Q = R + gamma * (P2 @ V).reshape(R.shape)
    _close(Q[np.arange(S), sig_out], Q.max(axis=1))


@settings(max_examples=40)
@given(kernel_case())
def test_dense_policy_backup(case):
    P2, _, R, V, gamma, sigma = case
    out = np.empty(R.shape[0])
    _kernels.dense_policy_backup(P2, R, V, sigma, gamma, out)
    _close(out, _reference.dense_policy_backup(P2, R, V, sigma, gamma))


@settings(max_examples=40)
@given(kernel_case())
def test_csr_policy_backup(case):
    P2, csr, R, V, gamma, sigma = case
    out = np.empty(R.shape[0])
    _kernels.csr_policy_backup(csr.indptr, csr.indices, csr.data, R, V, sigma, gamma, out)
    _close(out, _reference.csr_policy_backup(csr.indptr, csr.indices, csr.data, R, V, sigma, gamma))
    _close(out, _reference.dense_policy_backup(P2, R, V, sigma, gamma))


@settings(max_examples=30)
@given(kernel_case(), st.integers(0, 6))
def test_csr_policy_sweeps(case, n_sweeps):
    """``n`` compiled sweeps equal the NumPy twin, and are bit for bit ``n`` calls of the
    parallel one-sweep kernel (modified PI relies on this: hostile review D13)."""
    _, csr, R, V, gamma, sigma = case
    S = R.shape[0]
    fused = V.copy()
    _kernels.csr_policy_sweeps(csr.indptr, csr.indices, csr.data, R, fused, sigma, gamma, n_sweeps, np.empty(S))
    _close(fused, _reference.csr_policy_sweeps(csr.indptr, csr.indices, csr.data, R, V, sigma, gamma, n_sweeps))
    looped, out = V.copy(), np.empty(S)
    for _ in range(n_sweeps):
        _kernels.csr_policy_backup(csr.indptr, csr.indices, csr.data, R, looped, sigma, gamma, out)
        looped, out = out, looped
    np.testing.assert_array_equal(fused, looped)


@settings(max_examples=30)
@given(kernel_case())
def test_serial_and_parallel_sparse_kernels_agree_bitwise(case):
    """The serial twins (used below ``_backup.PARALLEL_MIN_NNZ``) share the per-row helper of
    the parallel kernels, so they return the same bits."""
    _, csr, R, V, gamma, sigma = case
    S, SA = R.shape[0], csr.shape[0]
    out_p, out_s = np.empty(SA), np.empty(SA)
    _kernels.csr_matvec(csr.indptr, csr.indices, csr.data, V, out_p)
    _kernels.csr_matvec_serial(csr.indptr, csr.indices, csr.data, V, out_s)
    np.testing.assert_array_equal(out_p, out_s)
    V_p, V_s = np.empty(S), np.empty(S)
    sig_p, sig_s = np.empty(S, dtype=np.int64), np.empty(S, dtype=np.int64)
    _kernels.csr_bellman_max(csr.indptr, csr.indices, csr.data, R, V, gamma, V_p, sig_p)
    _kernels.csr_bellman_max_serial(csr.indptr, csr.indices, csr.data, R, V, gamma, V_s, sig_s)
    np.testing.assert_array_equal(V_p, V_s)
    np.testing.assert_array_equal(sig_p, sig_s)
    _kernels.csr_policy_backup(csr.indptr, csr.indices, csr.data, R, V, sigma, gamma, V_p)
    _kernels.csr_policy_backup_serial(csr.indptr, csr.indices, csr.data, R, V, sigma, gamma, V_s)
    np.testing.assert_array_equal(V_p, V_s)


@given(value_vector(7), value_vector(7))
def test_sup_diff(x, y):
    assert _kernels.sup_diff(x, y) == _reference.sup_diff(x, y)


def test_sup_diff_empty():
    assert _kernels.sup_diff(np.empty(0), np.empty(0)) == 0.0 == _reference.sup_diff(np.empty(0), np.empty(0))


@settings(max_examples=25)
@given(kernel_case())
def test_backup_layouts_agree(case):
    """The dispatching wrappers in ``_backup`` give the same answer on both layouts."""
    P2, csr, R, V, gamma, sigma = case
    Vd, _ = _backup.bellman_max(P2, R, V, gamma, work=np.empty(P2.shape[0]))
    Vs, _ = _backup.bellman_max(csr, R, V, gamma)
    _close(Vd, Vs)
    _close(_backup.policy_backup(P2, R, V, sigma, gamma), _backup.policy_backup(csr, R, V, sigma, gamma))
    _close(_backup.q_values(P2, R, V, gamma), _backup.q_values(csr, R, V, gamma))


@given(value_vector(7), value_vector(7))
def test_diff_range(x, y):
    assert _kernels.diff_range(x, y) == _reference.diff_range(x, y)
    assert _kernels.diff_range(np.empty(0), np.empty(0)) == (0.0, 0.0) == _reference.diff_range([], [])
