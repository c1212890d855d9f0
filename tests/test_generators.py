"""Tests for :mod:`mdps.generators`: documented structure, exact spec rows, reproducibility,
the theorems each instance exists for (chain hitting time, JAO gain, tight VI error), and
argument validation."""

from __future__ import annotations

import doctest

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
import mdps.generators as gen
from mdps import TabularMDP


def assert_valid(m: TabularMDP):
    P = m.to_dense().P
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=0, atol=1e-12)  # theory/mdp.md A.6: 1e-12
    np.testing.assert_allclose(m.rho.sum(), 1.0, rtol=0, atol=1e-12)


def test_doctests():
    res = doctest.testmod(gen, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


# ---------------------------------------------------------------------------------- garnet
@settings(max_examples=25)
@given(S=st.integers(1, 12), A=st.integers(1, 4), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_garnet_structure_and_dense_equals_sparse(S, A, data, seed):
    b = data.draw(st.integers(1, S))
    dense = mdps.garnet(S, A, b, gamma=0.9, rng=seed)
    sparse = mdps.garnet(S, A, b, gamma=0.9, sparse=True, rng=seed)
    assert_valid(dense)
    assert dense.P.shape == (S, A, S) and dense.R.shape == (S, A)
    assert np.all((dense.P > 0).sum(axis=-1) == b)
    assert sparse.is_sparse and sparse.P.shape == (S * A, S)
    assert np.all(np.diff(sparse.P.indptr) == b)
    np.testing.assert_array_equal(sparse.to_dense().P, dense.P)
    np.testing.assert_array_equal(sparse.R, dense.R)
    assert np.all((dense.R >= 0) & (dense.R < 1))


def test_garnet_reproducible_and_seed_sensitive():
    a = mdps.garnet(30, 3, 4, rng=7)
    b = mdps.garnet(30, 3, 4, rng=np.random.default_rng(7))
    c = mdps.garnet(30, 3, 4, rng=np.random.SeedSequence(7))
    d = mdps.garnet(30, 3, 4, rng=8)
    np.testing.assert_array_equal(a.P, b.P)
    np.testing.assert_array_equal(a.P, c.P)
    np.testing.assert_array_equal(a.R, b.R)
    assert not np.array_equal(a.P, d.P)
    assert a.criterion == "average"
    assert mdps.garnet(5, 2, 2, horizon=4, rng=0).criterion == "finite_horizon"


def test_garnet_does_not_touch_global_state():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    mdps.garnet(10, 2, 3, rng=0)
    assert np.array_equal(np.random.get_state()[1], before)


def test_garnet_successors_uniform_and_dirichlet_mean():
    # Each state is a successor of a given row w.p. b/S; over S*A rows the count of each
    # state is Binomial(S*A, b/S) (rows independent). Check all states within 5 sigma, and the
    # mean Dirichlet(1_b) weight equals 1/b within 5 standard errors (Var = (b-1)/(b^2 (b+1))).
    S, A, b = 200, 50, 5
    m = mdps.garnet(S, A, b, sparse=True, rng=3)
    counts = np.bincount(m.P.indices, minlength=S)
    n, p = S * A, b / S
    assert np.all(np.abs(counts - n * p) <= 5 * np.sqrt(n * p * (1 - p)))
    w = m.P.data
    se = np.sqrt((b - 1) / (b**2 * (b + 1)) / w.size)
    assert abs(w.mean() - 1 / b) <= 5 * se


def test_garnet_large_sparse_is_fast():
    import time

    t0 = time.perf_counter()
    m = mdps.garnet(100_000, 10, 5, gamma=0.9, sparse=True, rng=0)
    assert time.perf_counter() - t0 < 10.0
    assert m.P.nnz == 5_000_000 and m.is_sparse


# ------------------------------------------------------------------------------ river swim
@pytest.mark.parametrize("n", [2, 3, 6, 10])
def test_river_swim_matches_spec(n):
    m = mdps.river_swim(n, horizon=2 * n)
    assert_valid(m)
    P, R = m.P, m.R
    for s in range(n):  # left: deterministic, s_1 stays
        expected = np.zeros(n)
        expected[max(s - 1, 0)] = 1.0
        np.testing.assert_array_equal(P[s, 0], expected)
    right = np.zeros((n, n))
    right[0, 0], right[0, 1] = 0.6, 0.4
    for s in range(1, n - 1):
        right[s, s - 1], right[s, s], right[s, s + 1] = 0.05, 0.6, 0.35
    right[n - 1, n - 1], right[n - 1, n - 2] = 0.6, 0.4
    np.testing.assert_array_equal(P[:, 1, :], right)
    R_exp = np.zeros((n, 2))
    R_exp[0, 0], R_exp[n - 1, 1] = 0.005, 1.0
    np.testing.assert_array_equal(R, R_exp)
    np.testing.assert_array_equal(m.rho, np.eye(n)[0])


def test_river_swim_default_and_criteria():
    assert mdps.river_swim().n_states == 6
    assert mdps.river_swim(gamma=0.95).gamma == 0.95
    assert mdps.river_swim().criterion == "average"


# ----------------------------------------------------------------------------------- chain
@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_chain_structure_and_random_walk_hitting_time(n):
    m = mdps.chain(n, gamma=0.9)
    assert_valid(m)
    for s in range(n):
        assert m.P[s, 0, min(s + 1, n - 1)] == 1.0 and m.P[s, 1, 0] == 1.0
    R_exp = np.zeros((n, 2))
    R_exp[n - 1, 0] = 1.0
    np.testing.assert_array_equal(m.R, R_exp)
    # Documented hardness: the uniform policy hits state n-1 from 0 after 2^n - 2 steps in
    # expectation. Solve T = 1 + P_unif T on the transient states exactly.
    if n > 1:
        Pu = m.P.mean(axis=1)[: n - 1, : n - 1]
        T = np.linalg.solve(np.eye(n - 1) - Pu, np.ones(n - 1))
        assert T[0] == pytest.approx(2.0**n - 2, rel=1e-10)


# ------------------------------------------------------------------------------- gridworld
def test_gridworld_grid_moves_walls_and_goal():
    shape = (3, 2)
    walls = [(1, 0)]
    m = mdps.gridworld(shape, walls=walls, gamma=0.9)
    nodes = mdps.generators.gridworld_states(shape, walls)
    assert nodes == [(0, 0), (0, 1), (1, 1), (2, 0), (2, 1)]
    idx = {v: i for i, v in enumerate(nodes)}
    assert_valid(m)
    assert m.n_actions == 5
    P = m.P

    def dest(v, a):
        row = P[idx[v], a]
        assert row.max() == 1.0
        return nodes[int(row.argmax())]

    # up, right, down, left, stay from (0, 0): up -> (0, 1); right is a wall; down/left off-grid
    assert [dest((0, 0), a) for a in range(5)] == [(0, 1), (0, 0), (0, 0), (0, 0), (0, 0)]
    assert [dest((0, 1), a) for a in range(5)] == [(0, 1), (1, 1), (0, 0), (0, 1), (0, 1)]
    goal = idx[(2, 1)]  # default goal: the last state
    np.testing.assert_array_equal(P[goal, :, goal], 1.0)
    np.testing.assert_array_equal(m.R, P[:, :, goal])
    assert m.R[idx[(2, 0)], 0] == 1.0 and m.R[idx[(2, 0)], 2] == 0.0
    np.testing.assert_array_equal(m.rho, np.eye(5)[0])


@pytest.mark.parametrize("slip", [0.0, 0.3, 1.0])
def test_gridworld_slip_mixture(slip):
    shape = (3, 3)
    m0 = mdps.gridworld(shape, goal=(0, 0))
    m = mdps.gridworld(shape, slip=slip, goal=(0, 0))
    nodes = mdps.generators.gridworld_states(shape)
    g = nx.grid_2d_graph(*shape)
    for i, v in enumerate(nodes):
        if v == (0, 0):
            continue
        nb = np.zeros(len(nodes))
        for u in g.neighbors(v):
            nb[nodes.index(u)] = 1.0 / g.degree(v)
        for a in range(5):
            np.testing.assert_allclose(m.P[i, a], (1 - slip) * m0.P[i, a] + slip * nb, atol=1e-15)


def test_gridworld_general_graph_sorted_neighbours():
    g = nx.star_graph(3)  # centre 0, leaves 1..3
    m = mdps.gridworld(g, goal=3, start=1, horizon=5)
    assert m.n_states == 4 and m.n_actions == 3  # max degree
    np.testing.assert_array_equal(m.P[0].argmax(-1), [1, 2, 3])  # i-th sorted neighbour
    np.testing.assert_array_equal(m.P[1].argmax(-1), [0, 1, 1])  # missing neighbours stay
    np.testing.assert_array_equal(m.rho, [0, 1, 0, 0])
    np.testing.assert_array_equal(m.P[3, :, 3], 1.0)
    # walls removed from a general graph; the degree drops
    m2 = mdps.gridworld(g, walls=[3])
    assert m2.n_states == 3 and m2.n_actions == 2


# ------------------------------------------------------------------- random finite horizon
def test_random_finite_horizon():
    m = mdps.random_finite_horizon(5, 5, 3, rng=0)
    assert m.criterion == "finite_horizon" and m.P.shape == (3, 5, 5, 5) and m.R.shape == (3, 5, 5)
    assert_valid(m)
    assert np.all(m.P > 0)
    m2 = mdps.random_finite_horizon(5, 5, 3, rng=0)
    np.testing.assert_array_equal(m.P, m2.P)
    assert not np.array_equal(m.P[0], m.P[1])
    h = mdps.random_finite_horizon(4, 2, 6, stage_dependent=False, rng=1)
    assert h.P.shape == (4, 2, 4) and h.R.shape == (4, 2) and h.horizon == 6


# --------------------------------------------------------------------------------------- jao
@pytest.mark.parametrize("delta,eps,A", [(0.1, 0.05, 2), (0.3, 0.0, 4), (0.5, 0.5, 1)])
def test_jao_structure_and_gain(delta, eps, A):
    m = mdps.jao(delta, eps, A)
    assert m.criterion == "average" and m.P.shape == (2, A, 2)
    assert_valid(m)
    assert m.P[0, 0, 1] == pytest.approx(delta + eps)
    np.testing.assert_array_equal(m.P[0, 1:, 1], delta)
    np.testing.assert_array_equal(m.P[1, :, 0], delta)
    np.testing.assert_array_equal(m.R, [[0.0] * A, [1.0] * A])
    # Gain of "always action a" is the stationary mass of s1: p / (p + delta).
    for a in range(A):
        Pa = m.P[:, a, :]
        w, v = np.linalg.eig(Pa.T)
        mu = np.real(v[:, np.argmin(np.abs(w - 1))])
        mu /= mu.sum()
        p = Pa[0, 1]
        assert mu[1] == pytest.approx(p / (p + delta), rel=1e-12)
    assert (delta + eps) / (2 * delta + eps) >= 0.5  # documented g*


# --------------------------------------------------------------------------- tight VI instance
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_tight_vi_instance_error_is_exact(gamma):
    m = mdps.tight_vi_instance(gamma)
    V_star = 1.0 / (1.0 - gamma)
    V = np.zeros(1)
    for k in range(1, 60):
        V = np.max(m.R + gamma * m.P @ V, axis=1)
        assert abs(V[0] - V_star) == pytest.approx(gamma**k / (1 - gamma), rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------------ hard episodic tree
def test_hard_episodic_tree_structure():
    A, H, d, eps = 3, 6, 2, 0.2
    m = mdps.hard_episodic_tree(A, H, d, eps, wait=2, rng=5)
    n_tree = (A ** (d + 1) - 1) // (A - 1)
    S = n_tree + 2
    good, bad = n_tree, n_tree + 1
    assert m.P.shape == (H, S, A, S) and m.horizon == H
    assert_valid(m)
    leaves = slice(n_tree - A**d, n_tree)
    g = m.P[:, leaves, :, good]
    special = np.argwhere(g != 0.5)
    assert special.shape == (1, 3)
    assert g[tuple(special[0])] == pytest.approx(0.5 + eps)
    assert special[0, 0] >= d
    assert m.P[0, 0, 0, 0] == 1.0 and m.P[2, 0, 0, 1] == 1.0  # waits, then must descend
    np.testing.assert_array_equal(m.R[good], 1.0)
    np.testing.assert_array_equal(m.R[bad], 0.0)
    m2 = mdps.hard_episodic_tree(A, H, d, eps, wait=2, rng=5)
    np.testing.assert_array_equal(m.P, m2.P)


# ------------------------------------------------------------------------- bad arguments
BAD = [
    (lambda: mdps.garnet(0, 2, 1), ValueError, "n_states"),
    (lambda: mdps.garnet(5, 0, 1), ValueError, "n_actions"),
    (lambda: mdps.garnet(5, 2, 6), ValueError, "branching"),
    (lambda: mdps.garnet(5, 2, 0), ValueError, "branching"),
    (lambda: mdps.garnet(5.0, 2, 1), TypeError, "n_states"),
    (lambda: mdps.garnet(5, 2, 1, sparse="yes"), TypeError, "sparse"),
    (lambda: mdps.garnet(5, 2, 1, gamma=1.0), ValueError, "gamma"),
    (lambda: mdps.garnet(5, 2, 1, gamma=0.9, horizon=3), ValueError, "horizon"),
    (lambda: mdps.garnet(5, 2, 1, rng="seed"), TypeError, "seed|SeedSequence|Generator|int"),
    (lambda: mdps.river_swim(1), ValueError, "n_states"),
    (lambda: mdps.river_swim(True), TypeError, "n_states"),
    (lambda: mdps.chain(0), ValueError, "n_states"),
    (lambda: mdps.gridworld((3, 3), slip=1.5), ValueError, "slip"),
    (lambda: mdps.gridworld((3, 3), slip=-0.1), ValueError, "slip"),
    (lambda: mdps.gridworld((0, 3)), ValueError, "width"),
    (lambda: mdps.gridworld("3x3"), TypeError, "graph_or_shape"),
    (lambda: mdps.gridworld((3, 3), walls=[(5, 5)]), ValueError, "walls"),
    (lambda: mdps.gridworld((3, 3), goal=(9, 9)), ValueError, "goal"),
    (lambda: mdps.gridworld((3, 3), walls=[(2, 2)], goal=(2, 2)), ValueError, "goal"),
    (lambda: mdps.gridworld((3, 3), start=(7, 0)), ValueError, "start"),
    (lambda: mdps.gridworld(nx.DiGraph([(0, 1)])), TypeError, "graph_or_shape"),
    (lambda: mdps.random_finite_horizon(3, 2, 0), ValueError, "horizon"),
    (lambda: mdps.random_finite_horizon(3, 2, 2, stage_dependent=1), TypeError, "stage_dependent"),
    (lambda: mdps.jao(-0.1), ValueError, "delta"),
    (lambda: mdps.jao(0.0), ValueError, "delta"),
    (lambda: mdps.jao(0.1, -0.01), ValueError, "epsilon"),
    (lambda: mdps.jao(0.6, 0.5), ValueError, r"delta \+ epsilon"),
    (lambda: mdps.jao(0.1, 0.1, 0), ValueError, "n_actions"),
    (lambda: mdps.tight_vi_instance(1.0), ValueError, "gamma"),
    (lambda: mdps.hard_episodic_tree(1, 5, 1, 0.1), ValueError, "n_actions"),
    (lambda: mdps.hard_episodic_tree(2, 3, 2, 0.1), ValueError, "horizon"),
    (lambda: mdps.hard_episodic_tree(2, 6, 2, 0.6), ValueError, "epsilon"),
    (lambda: mdps.hard_episodic_tree(2, 6, 2, 0.1, wait=4), ValueError, "wait"),
]


@pytest.mark.parametrize("call,exc,word", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_arguments(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_sparse_garnet_builds_no_dense_kernel(monkeypatch):
    # The sparse path must never allocate an (S*A, S) array (2e7 entries here): forbid any
    # np.zeros within a factor 20 of that size (vectors of length S*A are fine).
    real_zeros = np.zeros

    def guarded(shape, *a, **k):
        size = int(np.prod(shape))
        assert size < 1_000_000, f"dense allocation of shape {shape}"
        return real_zeros(shape, *a, **k)

    monkeypatch.setattr(gen.np, "zeros", guarded)
    m = gen.garnet(2_000, 5, 3, sparse=True, rng=0)
    assert sp.issparse(m.P)


# -- hostile review D12: every rng argument is checked by mdps.validation.check_rng ----------------
RNG_CALLS = {
    "garnet": lambda rng: mdps.garnet(4, 2, 2, gamma=0.9, rng=rng),
    "gridworld": lambda rng: mdps.gridworld((2, 2), gamma=0.9, rng=rng),
    "random_finite_horizon": lambda rng: mdps.random_finite_horizon(3, 2, 2, rng=rng),
    "hard_episodic_tree": lambda rng: mdps.hard_episodic_tree(2, 5, 2, 0.1, rng=rng),
    "rollout": lambda rng: mdps.rollout(mdps.river_swim(3, horizon=2), np.ones(3, dtype=int), 2, rng=rng),
}


@pytest.mark.parametrize("bad, exc", [("abc", TypeError), (True, TypeError), (1.5, TypeError), (-1, ValueError),
                                      ([1, "x"], TypeError), (np.random.RandomState(0), TypeError)],
                         ids=["str", "bool", "float", "negative", "list", "RandomState"])
@pytest.mark.parametrize("name", RNG_CALLS)
def test_bad_rng_is_refused_naming_rng(name, bad, exc):
    """D12: rng='abc' gave numpy's SeedSequence message, which does not name the argument."""
    with pytest.raises(exc, match=r"^rng must be None, an integer >= 0"):
        RNG_CALLS[name](bad)


@pytest.mark.parametrize("name", RNG_CALLS)
def test_good_rng_forms_agree(name):
    """An int, its SeedSequence and a Generator seeded with it give the same instance."""
    def key(x):
        return x.states.tobytes() if hasattr(x, "states") else np.asarray(x.P if not sp.issparse(x.P) else x.P.toarray()).tobytes()

    ref = key(RNG_CALLS[name](7))
    assert key(RNG_CALLS[name](np.random.SeedSequence(7))) == ref
    assert key(RNG_CALLS[name](np.random.default_rng(7))) == ref
    assert key(RNG_CALLS[name](np.int64(7))) == ref
    RNG_CALLS[name](None)
