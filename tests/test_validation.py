"""The public validation layer :mod:`mdps.validation`: one error style for every room.

Every refusal is a ``ValueError``/``TypeError`` whose message starts with the argument's name;
every acceptance returns the normalised value. The sparse-structure check is fuzzed with
mutated index arrays: it must refuse each malformed structure before SciPy reads it.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mdps
from mdps import validation as v


@pytest.mark.parametrize("value, kw, exc, needle", [
    (float("nan"), {}, ValueError, "x must be a finite number in (-inf, inf), got nan"),
    (float("inf"), {"low": 0}, ValueError, "x must be a finite number in [0, inf)"),
    (0.0, {"low": 0, "low_open": True}, ValueError, "x must be a finite number in (0, inf), got 0.0"),
    (1.0, {"low": 0, "high": 1, "high_open": True}, ValueError, "in [0, 1)"),
    (True, {}, TypeError, "x must be a finite real number"),
    ("1", {}, TypeError, "got str '1'"),
    (1j, {}, TypeError, "got complex"),
    (10**400, {}, ValueError, "beyond the float64 range"),
])
def test_check_real_refusals(value, kw, exc, needle):
    with pytest.raises(exc) as info:
        v.check_real(value, "x", **kw)
    assert needle in str(info.value), str(info.value)


def test_check_real_accepts():
    assert v.check_real(np.float32(0.5), "x", low=0, high=1) == 0.5
    assert v.check_real(3, "x") == 3.0 and isinstance(v.check_real(3, "x"), float)
    assert v.check_real(0.0, "x", low=0.0) == 0.0


@pytest.mark.parametrize("atol", [float("nan"), float("inf"), -1e-12, 2e-3, 1e300])
def test_check_atol_refuses(atol):
    with pytest.raises(ValueError, match=r"^tolerance must be a finite tolerance in \[0, 0.001\]"):
        v.check_atol(atol, "tolerance")


def test_check_atol_accepts_and_types():
    assert v.check_atol(0) == 0.0 and v.check_atol(v.ATOL_MAX) == v.ATOL_MAX
    with pytest.raises(TypeError, match="^atol must be a real number"):
        v.check_atol("1e-9")
    with pytest.raises(TypeError, match="^atol"):
        v.check_atol(None)


def test_check_rng():
    g = np.random.default_rng(3)
    assert v.check_rng(g) is g  # the caller's stream advances
    assert v.check_rng(5).integers(1 << 30) == np.random.default_rng(5).integers(1 << 30)
    assert v.check_rng(np.uint8(5)).integers(1 << 30) == np.random.default_rng(5).integers(1 << 30)
    assert isinstance(v.check_rng(None), np.random.Generator)
    assert isinstance(v.check_rng(np.random.PCG64(1)), np.random.Generator)
    assert isinstance(v.check_rng(2**100), np.random.Generator)
    for bad, exc in [("abc", TypeError), (False, TypeError), (np.bool_(True), TypeError), (0.0, TypeError),
                     (-3, ValueError), ((1, 2), TypeError), (np.random.RandomState(0), TypeError)]:
        with pytest.raises(exc, match="^seed must be None, an integer >= 0"):
            v.check_rng(bad, "seed")


def test_check_mdp_criterion_messages():
    disc = mdps.river_swim(3, gamma=0.9)
    assert v.check_mdp(disc) is disc
    assert v.check_mdp(disc, criterion=("discounted", "average")) is disc
    with pytest.raises(TypeError, match="^model must be a mdps.TabularMDP, got tuple"):
        v.check_mdp((1, 2), "model")
    with pytest.raises(ValueError, match=r"^mdp must be a finite-horizon \(criterion 'finite_horizon', built "
                                         r"with horizon=H\) MDP, got mdp.criterion='discounted'.*with_criterion\(horizon=H\)"):
        v.check_mdp(disc, criterion="finite_horizon")
    with pytest.raises(ValueError, match=r"average-reward .* or finite-horizon"):
        v.check_mdp(disc, criterion=("average", "finite_horizon"))
    with pytest.raises(ValueError, match="criterion must be among"):
        v.check_mdp(disc, criterion="gain")


def test_check_value():
    np.testing.assert_array_equal(v.check_value([1, 2], "v0", 2), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^v0 must have shape \(3,\), got \(2,\)"):
        v.check_value([1, 2], "v0", 3)
    with pytest.raises(ValueError, match=r"^v0\[1\] is inf"):
        v.check_value([1, np.inf], "v0", 2)
    with pytest.raises(TypeError, match="^v0 must be an array of real numbers, got complex"):
        v.check_value([1j, 0], "v0", 2)


def test_check_policy_forms():
    det = v.check_policy([1, 0, 1], 3, 2)
    assert det.dtype == np.int64 and det.tolist() == [1, 0, 1]
    stage = v.check_policy(np.zeros((4, 3), dtype=np.int32), 3, 2, horizon=4)
    assert stage.shape == (4, 3) and stage.dtype == np.int64
    sto = v.check_policy(np.full((4, 3, 2), 0.5), 3, 2, horizon=4)
    assert sto.dtype == np.float64
    np.testing.assert_array_equal(v.as_stochastic_policy(det, 2), [[0, 1], [1, 0], [0, 1]])
    assert v.as_stochastic_policy(sto, 2) is sto
    with pytest.raises(ValueError, match=r"deterministic policy must have shape \(3,\), got \(4, 3\)"):
        v.check_policy(np.zeros((4, 3), dtype=int), 3, 2)  # stage forms need horizon
    with pytest.raises(TypeError, match="^sigma must be a deterministic policy"):
        v.check_policy(np.full((3, 2), 0.5), 3, 2, name="sigma", kind="deterministic")
    with pytest.raises(TypeError, match="^pi must be a stochastic policy"):
        v.check_policy([0, 0, 0], 3, 2, kind="stochastic")
    with pytest.raises(ValueError, match="kind must be one of"):
        v.check_policy([0, 0, 0], 3, 2, kind="mixed")


def test_check_stochastic_matrix():
    M = np.array([[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_array_equal(v.check_stochastic_matrix(M, "P_pi"), M)
    np.testing.assert_array_equal(v.check_stochastic_matrix(sp.csr_array(M), "P_pi").toarray(), M)
    with pytest.raises(ValueError, match=r"^P_pi\[1, :\] sums to 0.9"):
        v.check_stochastic_matrix(np.array([[0.5, 0.5], [0.0, 0.9]]), "P_pi")
    with pytest.raises(ValueError, match=r"^P_pi\[0, 1\] is -0.5"):
        v.check_stochastic_matrix(sp.csr_array(np.array([[1.5, -0.5], [0.0, 1.0]])), "P_pi")
    with pytest.raises(ValueError, match="square"):
        v.check_stochastic_matrix(np.ones((2, 3)) / 3, "P_pi")


def test_check_float64_range():
    v.check_float64_range([np.ones(2), np.zeros(1)], "the values", R=np.ones(1))
    with pytest.raises(ValueError, match=r"^the values exceed the float64 range \(max \|R\| = 1e\+308, "
                                         r"x = 3\); rescale R \(values are linear in R\)$"):
        v.check_float64_range(np.array([np.inf]), "the values", R=np.array([1e308]), detail=", x = 3")
    with pytest.raises(ValueError, match="fix it"):
        v.check_float64_range((np.ones(1), np.array([np.nan])), "Q", R=np.ones(1), hint="fix it")


# -- the sparse structure: valid matrices round-trip, mutated ones are refused -----------------------
@st.composite
def csr_case(draw):
    n_rows = draw(st.integers(0, 5))
    n_cols = draw(st.integers(0, 5))
    dense = draw(hnp.arrays(np.float64, (n_rows, n_cols), elements=st.sampled_from([0.0, 0.0, 0.25, 1.0, 2.5])))
    return sp.csr_array(dense), dense


@settings(max_examples=60)
@given(csr_case(), st.sampled_from(["csr", "csc", "coo", "lil", "dok", "dia"]))
def test_valid_sparse_matrices_round_trip(case, fmt):
    M, dense = case
    out = v.check_sparse_matrix(M.asformat(fmt), "P")
    assert out.format == "csr" and out.dtype == np.float64 and out.shape == dense.shape
    np.testing.assert_array_equal(out.toarray(), dense)


@settings(max_examples=100)
@given(csr_case(), st.data())
def test_mutated_csr_structures_are_refused_or_equivalent(case, data):
    """Any mutation of indptr / indices either leaves a valid structure (then the result is
    exactly SciPy's reading of it) or is refused with a message naming ``P``; never a crash."""
    M, _ = case
    indptr = M.indptr.astype(np.int64).copy()
    indices = M.indices.astype(np.int64).copy()
    target = data.draw(st.sampled_from(["indptr", "indices"]))
    arr = indptr if target == "indptr" else indices
    if arr.size:
        i = data.draw(st.integers(0, arr.size - 1))
        arr[i] = data.draw(st.sampled_from([-1, -(2**40), 2**40, arr[i] + 1, arr[i] - 1, 10**8]))
    bad = sp.csr_array(M.shape)
    bad.data, bad.indices, bad.indptr = M.data.copy(), indices, indptr
    try:
        out = v.check_sparse_matrix(bad, "P")
    except (ValueError, TypeError) as exc:
        assert str(exc).startswith("P"), str(exc)
        return
    # accepted: the structure was valid after all; the result reads it entry by entry
    expected = np.zeros(M.shape)
    for r in range(M.shape[0]):
        for k in range(indptr[r], indptr[r + 1]):
            expected[r, indices[k]] += M.data[k]
    np.testing.assert_array_equal(out.toarray(), expected)


def test_sparse_matrix_type_errors():
    with pytest.raises(TypeError, match="^P must be a scipy.sparse matrix"):
        v.check_sparse_matrix(np.eye(2), "P")
    M = sp.csr_array(np.eye(2))
    M.indices = M.indices.astype(np.float64)
    with pytest.raises(TypeError, match=r"^P\.indices must be a 1-d integer array"):
        v.check_sparse_matrix(M, "P")
    M = sp.csr_array(np.eye(2))
    M.data = np.array([1.0, np.nan])
    with pytest.raises(ValueError, match=r"^P\.data\[1\] is nan"):
        v.check_sparse_matrix(M, "P")


@pytest.mark.parametrize("module", ["mdps.validation", "mdps.discounted", "mdps.average_reward",
                                    "mdps.occupancy", "mdps.finite_horizon", "mdps.solvers"])
def test_doctests(module):
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
