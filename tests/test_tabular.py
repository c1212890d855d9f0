"""Validation, immutability and layout round trips of :class:`mdps.TabularMDP`.

Every bad input must raise ``ValueError``/``TypeError`` whose message names the argument (the
lab's one error style, see ``mdps.validation``); a Hypothesis fuzz of the constructor checks
that nothing else ever escapes and that whatever builds is a well-formed MDP.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mdps
from mdps.validation import ATOL_MAX, ROW_SUM_ATOL
from tests.strategies import mdp_arrays


def _good(S=3, A=2, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(-1, keepdims=True)
    return P, rng.random((S, A))


def _with(arr, idx, value):
    out = np.array(arr, dtype=float, copy=True)
    out[idx] = value
    return out


P0, R0 = _good()

# (description, kwargs for TabularMDP, expected exception, substring the message must contain)
BAD_INPUTS = [
    ("nan in P", dict(P=_with(P0, (1, 0, 2), np.nan), R=R0, gamma=0.9), ValueError, "P[1, 0, 2]"),
    ("inf in P", dict(P=_with(P0, (0, 1, 0), np.inf), R=R0, gamma=0.9), ValueError, "P[0, 1, 0]"),
    ("nan in R", dict(P=P0, R=_with(R0, (2, 1), np.nan), gamma=0.9), ValueError, "R[2, 1]"),
    ("+inf in R", dict(P=P0, R=_with(R0, (0, 0), np.inf), gamma=0.9), ValueError, "R[0, 0]"),
    # -inf marks an infeasible action; a state with none left is refused
    ("-inf row in R", dict(P=P0, R=_with(_with(R0, (1, 0), -np.inf), (1, 1), -np.inf), gamma=0.9), ValueError,
     "state 1 has no feasible action"),
    ("negative entry", dict(P=_with(_with(P0, (1, 1, 0), -0.1), (1, 1, 1), P0[1, 1, 1] + P0[1, 1, 0] + 0.1),
                            R=R0, gamma=0.9), ValueError, "P[1, 1, 0]"),
    ("row sum off", dict(P=_with(P0, (2, 0, 0), P0[2, 0, 0] + 0.01), R=R0, gamma=0.9), ValueError, "P[2, 0, :] sums"),
    ("P not square in states", dict(P=np.full((3, 2, 4), 0.25), R=R0, gamma=0.9), ValueError, "P"),
    ("P wrong ndim", dict(P=np.ones((3, 3)) / 3, R=R0, gamma=0.9), ValueError, "P"),
    ("R wrong shape", dict(P=P0, R=np.zeros((3, 3)), gamma=0.9), ValueError, "R must have shape"),
    ("R wrong ndim", dict(P=P0, R=np.zeros(3), gamma=0.9), ValueError, "R"),
    ("P non-numeric", dict(P=[["a"]], R=R0, gamma=0.9), TypeError, "P"),
    ("R non-numeric", dict(P=P0, R="rewards", gamma=0.9), TypeError, "R"),
    ("gamma = 1", dict(P=P0, R=R0, gamma=1.0), ValueError, "gamma"),
    ("gamma < 0", dict(P=P0, R=R0, gamma=-0.1), ValueError, "gamma"),
    ("gamma nan", dict(P=P0, R=R0, gamma=float("nan")), ValueError, "gamma"),
    ("gamma str", dict(P=P0, R=R0, gamma="0.9"), TypeError, "gamma"),
    ("gamma bool", dict(P=P0, R=R0, gamma=True), TypeError, "gamma"),
    ("horizon 0", dict(P=P0, R=R0, horizon=0), ValueError, "horizon"),
    ("horizon float", dict(P=P0, R=R0, horizon=2.0), TypeError, "horizon"),
    ("horizon str", dict(P=P0, R=R0, horizon="3"), TypeError, "horizon"),
    ("gamma and horizon", dict(P=P0, R=R0, gamma=0.9, horizon=3), ValueError, "horizon"),
    ("stage P without horizon", dict(P=np.stack([P0, P0]), R=R0, gamma=0.9), ValueError, "horizon"),
    ("stage P wrong H", dict(P=np.stack([P0, P0]), R=R0, horizon=3), ValueError, "horizon"),
    ("stage R without horizon", dict(P=P0, R=np.stack([R0, R0])), ValueError, "horizon"),
    ("stage R wrong shape", dict(P=P0, R=np.stack([R0, R0, R0]), horizon=2), ValueError, "R must have shape"),
    ("rho wrong length", dict(P=P0, R=R0, gamma=0.9, rho=[0.5, 0.5]), ValueError, "rho"),
    ("rho not summing to 1", dict(P=P0, R=R0, gamma=0.9, rho=[0.5, 0.5, 0.5]), ValueError, "rho"),
    ("rho negative", dict(P=P0, R=R0, gamma=0.9, rho=[1.5, -0.5, 0.0]), ValueError, "rho[1]"),
    ("rho nan", dict(P=P0, R=R0, gamma=0.9, rho=[np.nan, 0.5, 0.5]), ValueError, "rho[0]"),
    # sparse variants
    ("sparse negative", dict(P=sp.csr_array(_with(P0, (1, 0, 0), -0.5).reshape(6, 3)), R=R0, gamma=0.9),
     ValueError, "P[1, 0, 0]"),
    ("sparse nan", dict(P=sp.csr_array(_with(P0, (0, 0, 1), np.nan).reshape(6, 3)), R=R0, gamma=0.9),
     ValueError, "P.data"),
    ("sparse row sum", dict(P=sp.csr_array(_with(P0, (2, 1, 2), 0.0).reshape(6, 3)), R=R0, gamma=0.9),
     ValueError, "P[2, 1, :] sums"),
    ("sparse empty row", dict(P=sp.csr_array(_with(P0, (1, 1, slice(None)), 0.0).reshape(6, 3)), R=R0, gamma=0.9),
     ValueError, "P[1, 1, :] sums to 0"),
    ("sparse wrong rows", dict(P=sp.csr_array(P0.reshape(6, 3)[:4]), R=R0, gamma=0.9), ValueError, "sparse P"),
    ("sparse R mismatch", dict(P=sp.csr_array(P0.reshape(6, 3)), R=np.zeros((4, 2)), gamma=0.9), ValueError, "R"),
    ("sparse stage R", dict(P=sp.csr_array(P0.reshape(6, 3)), R=np.stack([R0, R0]), horizon=2), ValueError, "R"),
]


@pytest.mark.parametrize("desc, kwargs, exc, needle", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_clear_error(desc, kwargs, exc, needle):
    kwargs = dict(kwargs)
    P, R = kwargs.pop("P"), kwargs.pop("R")
    with pytest.raises(exc) as info:
        mdps.TabularMDP(P, R, **kwargs)
    assert needle in str(info.value), f"{desc}: message {str(info.value)!r} does not name {needle!r}"


def test_good_inputs_build_each_criterion():
    assert mdps.TabularMDP(P0, R0, gamma=0.9).criterion == "discounted"
    assert mdps.TabularMDP(P0, R0, horizon=4).criterion == "finite_horizon"
    assert mdps.TabularMDP(P0, R0).criterion == "average"
    st_mdp = mdps.TabularMDP(np.stack([P0, P0]), np.stack([R0, R0]), horizon=2)
    assert st_mdp.stage_dependent and st_mdp.P_stage(1).shape == (3, 2, 3)
    # gamma = 0 and numpy scalars are fine
    assert mdps.TabularMDP(P0, R0, gamma=np.float32(0.0)).gamma == 0.0
    assert mdps.TabularMDP(P0, R0, horizon=np.int64(3)).horizon == 3


def test_rows_within_atol_accepted():
    P = _with(P0, (0, 0, 0), P0[0, 0, 0] + 0.5 * ROW_SUM_ATOL)
    mdps.TabularMDP(P, R0, gamma=0.5)
    mdps.TabularMDP(sp.csr_array(P.reshape(6, 3)), R0, gamma=0.5)


# -- immutability -------------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True])
def test_immutable(sparse):
    P_in, R_in = P0.copy(), R0.copy()
    mdp = mdps.TabularMDP(sp.csr_array(P_in.reshape(6, 3)) if sparse else P_in, R_in, gamma=0.9)
    with pytest.raises(ValueError):
        mdp.R[0, 0] = 5.0
    with pytest.raises(ValueError):
        mdp.rho[0] = 1.0
    if sparse:
        with pytest.raises(ValueError):
            mdp.P.data[0] = 0.0
    else:
        with pytest.raises(ValueError):
            mdp.P[0, 0, 0] = 0.0
    for name, value in [("gamma", 0.5), ("_R", R0), ("horizon", 3), ("new_attr", 1)]:
        with pytest.raises(AttributeError):
            setattr(mdp, name, value)
    # the constructor copied its inputs: mutating them changes nothing
    P_in[...] = 0.0
    R_in[...] = -1.0
    assert mdp.R.min() >= 0.0
    assert np.allclose(mdp.P_matrix().sum(axis=1), 1.0)


# -- layouts ----------------------------------------------------------------------------------
@given(mdp_arrays(max_states=5, max_actions=3))
@settings(max_examples=25)
def test_dense_sparse_round_trip(arrays):
    P, R = arrays
    S, A = R.shape
    dense = mdps.TabularMDP(P, R, gamma=0.7)
    sparse = dense.to_sparse()
    assert sparse.is_sparse and not dense.is_sparse
    assert sparse.P.shape == (S * A, S)
    np.testing.assert_array_equal(sparse.P.toarray(), P.reshape(S * A, S))
    back = sparse.to_dense()
    np.testing.assert_array_equal(back.P, dense.P)
    np.testing.assert_array_equal(back.R, dense.R)
    np.testing.assert_array_equal(back.rho, dense.rho)
    assert back.gamma == dense.gamma == sparse.gamma
    assert dense.to_dense() is dense and sparse.to_sparse() is sparse
    # CSR accessor matches the matrix
    indptr, indices, data = sparse.csr_arrays()
    np.testing.assert_array_equal(sp.csr_array((data, indices, indptr), shape=(S * A, S)).toarray(),
                                  P.reshape(S * A, S))


def test_csr_arrays_needs_sparse():
    with pytest.raises(ValueError, match="csr_arrays"):
        mdps.TabularMDP(P0, R0, gamma=0.9).csr_arrays()


def test_sparse_duplicates_summed():
    # COO duplicates (0.25 + 0.25 at the same position) are summed before validation
    rows = np.array([0, 0, 0, 1])
    cols = np.array([0, 0, 1, 1])
    P = sp.csr_array(sp.coo_array((np.array([0.25, 0.25, 0.5, 1.0]), (rows, cols)), shape=(2, 2)))
    mdp = mdps.TabularMDP(P, np.zeros((2, 1)), gamma=0.5)
    np.testing.assert_allclose(mdp.P.toarray(), [[0.5, 0.5], [0.0, 1.0]])


# Regression tests for two bugs the constructor fuzz found in the sparse path.
def test_sparse_empty_last_row():
    P = sp.csr_array(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"P\[1, 0, :\] sums to 0"):
        mdps.TabularMDP(P, np.zeros((2, 1)), gamma=0.5)


@pytest.mark.parametrize("P, R", [(sp.csr_array((0, 0)), np.zeros((0, 0))),
                                  (sp.csr_array((0, 1)), np.zeros((1, 0)))], ids=["S=0", "A=0"])
def test_sparse_without_states_or_actions(P, R):
    with pytest.raises(ValueError, match="P"):
        mdps.TabularMDP(P, R, gamma=0.5)


# -- constructor fuzz ---------------------------------------------------------------------------
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def constructor_args(draw):
    S = draw(st.integers(0, 3))
    A = draw(st.integers(0, 3))
    S2 = draw(st.sampled_from([S, S, S, S + 1]))
    raw = draw(hnp.arrays(np.float64, (S, A, S2), elements=any_float))
    if draw(st.booleans()) and raw.size:
        # often near-valid: absolute values normalised along the last axis (nan/inf survive)
        with np.errstate(all="ignore"):
            raw = np.abs(raw) / np.abs(raw).sum(axis=-1, keepdims=True)
    if draw(st.booleans()):
        raw = np.stack([raw] * draw(st.integers(1, 3)))
    R = draw(hnp.arrays(np.float64, draw(st.sampled_from([(S, A), (S, A + 1), (2, S, A), (S,)])),
                        elements=any_float))
    if draw(st.booleans()) and raw.ndim == 3:
        P = sp.csr_array(raw.reshape(S * A, S2))
    else:
        P = raw
    gamma = draw(st.one_of(st.none(), any_float, st.integers(-2, 2), st.booleans(), st.text(max_size=2)))
    horizon = draw(st.one_of(st.none(), st.integers(-1, 4), any_float, st.booleans()))
    rho = draw(st.one_of(st.none(), hnp.arrays(np.float64, st.integers(0, 4), elements=any_float)))
    return P, R, gamma, horizon, rho


@given(constructor_args())
@settings(max_examples=150)
def test_constructor_fuzz(args):
    P, R, gamma, horizon, rho = args
    try:
        mdp = mdps.TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=rho)
    except (ValueError, TypeError) as exc:
        assert str(exc)  # a message, never an empty error
        return
    S, A = mdp.n_states, mdp.n_actions
    assert S >= 1 and A >= 1
    Pm = mdp.P.toarray() if mdp.is_sparse else mdp.P
    assert np.all(np.isfinite(Pm)) and np.all(Pm >= 0)
    np.testing.assert_allclose(Pm.sum(axis=-1), 1.0, atol=ROW_SUM_ATOL)
    assert np.all(np.isfinite(mdp.R))
    assert mdp.rho.shape == (S,) and np.all(mdp.rho >= 0) and abs(mdp.rho.sum() - 1) <= ROW_SUM_ATOL
    if mdp.criterion == "discounted":
        assert 0.0 <= mdp.gamma < 1.0 and horizon is None
    elif mdp.criterion == "finite_horizon":
        assert isinstance(mdp.horizon, int) and mdp.horizon >= 1 and gamma is None
    else:
        assert gamma is None and horizon is None and not mdp.stage_dependent


# -- hostile review 2026-11-29: D1 (malformed CSR), D2 (atol), D3 (complex / str / masked) ----------
def _csr(data, indices, indptr, shape):
    """A CSR matrix with raw index arrays SciPy never checked (assigned after construction, as a
    user can; SciPy's constructor checks only part of the structure)."""
    M = sp.csr_array(shape)
    M.data, M.indices, M.indptr = np.asarray(data, float), np.asarray(indices), np.asarray(indptr)
    return M


MALFORMED_CSR = [
    # the review's reproducer: every column index 10**8 on a (6, 3) matrix
    ("columns out of range", _csr(np.ones(6), np.full(6, 10**8), np.arange(7), (6, 3)), "P.indices[0] is 100000000"),
    ("negative column", _csr(np.ones(6), [0, 1, -1, 0, 1, 2], np.arange(7), (6, 3)), "P.indices[2] is -1"),
    ("column = S", _csr(np.ones(6), [0, 1, 3, 0, 1, 2], np.arange(7), (6, 3)), "P.indices[2] is 3"),
    ("indptr decreasing", _csr(np.ones(6), [0] * 6, [0, 2, 1, 3, 4, 5, 6], (6, 3)), "indptr must be non-decreasing"),
    ("indptr start", _csr(np.ones(6), [0] * 6, [1, 1, 2, 3, 4, 5, 6], (6, 3)), "indptr[0] must be 0"),
    ("indptr beyond nnz", _csr(np.ones(6), [0] * 6, [0, 1, 2, 3, 4, 5, 9], (6, 3)), "indptr[-1] = 9"),
]


@pytest.mark.parametrize("P, needle", [m[1:] for m in MALFORMED_CSR], ids=[m[0] for m in MALFORMED_CSR])
def test_malformed_csr_is_refused_at_construction(P, needle):
    """D1: before the fix these built, value iteration returned garbage and PI segfaulted."""
    with pytest.raises(ValueError) as info:
        mdps.TabularMDP(P, np.zeros((3, 2)), gamma=0.9)
    assert needle in str(info.value), str(info.value)


def test_malformed_csr_bad_index_dtype_and_complex_data():
    P = sp.csr_array(np.eye(2))
    bad = sp.csr_array((P.data.astype(complex), P.indices, P.indptr), shape=(2, 2))
    with pytest.raises(TypeError, match=r"P\.data must hold real numbers, got complex"):
        mdps.TabularMDP(bad, np.zeros((2, 1)), gamma=0.5)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "dia", "bsr"])
def test_other_sparse_formats_are_validated_and_converted(fmt):
    P, R = _good(4, 2)
    m = mdps.TabularMDP(sp.csr_array(P.reshape(8, 4)).asformat(fmt), R, gamma=0.5)
    assert m.P.format == "csr"
    np.testing.assert_array_equal(m.P.toarray(), P.reshape(8, 4))


def test_malformed_coo_is_refused():
    coo = sp.coo_array((np.ones(2), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2))
    coo.col[1] = 7  # mutated after construction, as SciPy allows
    with pytest.raises(ValueError, match=r"P\.col\[1\] is 7"):
        mdps.TabularMDP(coo, np.zeros((2, 1)), gamma=0.5)


@pytest.mark.parametrize("atol, exc", [(float("nan"), ValueError), (float("inf"), ValueError), (-1.0, ValueError),
                                       (1e-2, ValueError), ("1e-9", TypeError), (True, TypeError), (10**400, ValueError)],
                         ids=["nan", "inf", "negative", "1e-2", "str", "bool", "10**400"])
@pytest.mark.parametrize("sparse", [False, True])
def test_atol_is_validated(atol, exc, sparse):
    """D2: nan/inf accepted any rows (negative values from rewards in [0, 1)); -1 refused all."""
    P = sp.csr_array(P0.reshape(6, 3)) if sparse else P0
    with pytest.raises(exc, match="atol"):
        mdps.TabularMDP(P, R0, gamma=0.9, atol=atol)


def test_atol_bounds_accepted():
    for atol in (0, 0.0, 1e-12, ATOL_MAX, np.float32(1e-6)):
        mdps.TabularMDP(np.eye(2)[:, None, :], np.zeros((2, 1)), gamma=0.5, atol=atol)
    off = _with(P0, (0, 0, 0), P0[0, 0, 0] + 0.5 * ATOL_MAX)
    mdps.TabularMDP(off, R0, gamma=0.5, atol=ATOL_MAX)


COMPLEX_ETC = [
    ("complex P", dict(P=P0.astype(complex), R=R0), TypeError, "P must be an array of real numbers, got complex"),
    ("complex R", dict(P=P0, R=R0 + 0j), TypeError, "R must be an array of real numbers, got complex"),
    ("complex rho", dict(P=P0, R=R0, rho=np.full(3, 1 / 3) + 0j), TypeError, "rho must be an array of real numbers"),
    ("string R", dict(P=P0, R=R0.astype(str)), TypeError, "R must be an array of real numbers, got strings"),
    ("masked R", dict(P=P0, R=np.ma.masked_array(R0, mask=R0 > 0.5)), TypeError, "R is a numpy masked array"),
    ("complex sparse P", dict(P=sp.csr_array(P0.reshape(6, 3).astype(complex)), R=R0), TypeError, "P.data"),
]


@pytest.mark.parametrize("kwargs, exc, needle", [c[1:] for c in COMPLEX_ETC], ids=[c[0] for c in COMPLEX_ETC])
def test_complex_string_masked_inputs_refused(kwargs, exc, needle):
    """D3: complex input was silently truncated to its real part (ComplexWarning only)."""
    kwargs = dict(kwargs)
    with pytest.raises(exc) as info:
        mdps.TabularMDP(kwargs.pop("P"), kwargs.pop("R"), gamma=0.9, **kwargs)
    assert needle in str(info.value), str(info.value)
