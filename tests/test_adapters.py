"""Tests for :mod:`mdps.adapters`: exact round trips (Hypothesis), documented conventions
(expected rewards, terminal transitions, -inf rewards), and, when the peer libraries are
importable, agreement of their solvers with our exact values on converted instances."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
import mdps.adapters as ad
from tests.strategies import discounted_mdp, mdp_arrays


def same_mdp(a, b):
    np.testing.assert_array_equal(a.to_dense().P, b.to_dense().P)
    np.testing.assert_array_equal(a.R, b.R)
    assert a.gamma == b.gamma and a.horizon == b.horizon


def exact_policy_iteration(m):
    """Optimal V* of a discounted dense instance by exact policy iteration (linear solves)."""
    P, R, g = m.to_dense().P, m.R, m.gamma
    S = P.shape[0]
    sigma = np.zeros(S, dtype=int)
    for _ in range(1000):
        V = np.linalg.solve(np.eye(S) - g * P[np.arange(S), sigma], R[np.arange(S), sigma])
        Q = R + g * P @ V
        new = np.where(Q[np.arange(S), sigma] >= Q.max(1) - 1e-12, sigma, Q.argmax(1))
        if np.array_equal(new, sigma):
            return V
        sigma = new
    raise AssertionError("PI did not converge")


def test_doctests():
    res = doctest.testmod(ad, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


# --------------------------------------------------------------------------------- round trips
@settings(max_examples=30)
@given(m=discounted_mdp(), sparse=st.booleans())
def test_mdptoolbox_round_trip(m, sparse):
    if sparse:
        m = m.to_sparse()
    P, R = ad.to_mdptoolbox(m)
    assert R.shape == (m.n_states, m.n_actions)
    if sparse:
        assert isinstance(P, tuple) and len(P) == m.n_actions and all(sp.issparse(x) for x in P)
    else:
        assert P.shape == (m.n_actions, m.n_states, m.n_states)
        np.testing.assert_array_equal(P, np.transpose(m.P, (1, 0, 2)))
    back = ad.from_mdptoolbox(P, R, gamma=m.gamma)
    assert back.is_sparse == sparse
    same_mdp(back, m)


@settings(max_examples=30)
@given(m=discounted_mdp())
def test_quantecon_round_trip(m):
    R, Q, beta = ad.to_quantecon(m)
    assert beta == m.gamma and Q.shape == m.P.shape
    same_mdp(ad.from_quantecon(R, Q, beta), m)


@settings(max_examples=30)
@given(m=discounted_mdp())
def test_gymnasium_round_trip(m):
    table = ad.to_gymnasium(m)
    assert set(table) == set(range(m.n_states))
    for s in range(m.n_states):
        for a in range(m.n_actions):
            for p, nxt, r, done in table[s][a]:
                assert p > 0 and r == m.R[s, a] and done is False and p == m.P[s, a, nxt]
    same_mdp(ad.from_gymnasium(table, gamma=m.gamma), m)


@settings(max_examples=20)
@given(arrays=mdp_arrays(max_states=5, max_actions=3), H=st.integers(1, 5))
def test_finite_horizon_round_trips(arrays, H):
    m = mdps.TabularMDP(*arrays, horizon=H)
    same_mdp(ad.from_mdptoolbox(*ad.to_mdptoolbox(m), horizon=H), m)
    R, Q, beta = ad.to_quantecon(m)
    assert beta == 1.0
    same_mdp(ad.from_quantecon(R, Q, beta, horizon=H), m)
    same_mdp(ad.from_gymnasium(ad.to_gymnasium(m), horizon=H), m)


# ---------------------------------------------------------------------------------- mdptoolbox
@settings(max_examples=20)
@given(arrays=mdp_arrays(max_states=4, max_actions=3), data=st.data())
def test_from_mdptoolbox_reward_forms(arrays, data):
    P, R = arrays
    S, A = R.shape
    Ptb = np.transpose(P, (1, 0, 2))
    # (S,) state rewards are shared by every action
    r_state = R[:, 0]
    np.testing.assert_array_equal(ad.from_mdptoolbox(Ptb, r_state).R, np.repeat(r_state[:, None], A, 1))
    # (A, S, S) transition rewards give their expectation under P
    Rsas = data.draw(st.lists(st.floats(-1, 1), min_size=A * S * S, max_size=A * S * S))
    Rsas = np.array(Rsas).reshape(A, S, S)
    expected = np.einsum("ast,ast->sa", Ptb, Rsas)
    np.testing.assert_allclose(ad.from_mdptoolbox(Ptb, Rsas).R, expected, atol=1e-12)
    # list-of-matrices forms, dense and sparse, give the same instance
    as_list = ad.from_mdptoolbox([Ptb[a] for a in range(A)], [Rsas[a] for a in range(A)])
    as_sparse = ad.from_mdptoolbox([sp.csr_matrix(Ptb[a]) for a in range(A)],
                                   [sp.csr_matrix(Rsas[a]) for a in range(A)])
    np.testing.assert_allclose(as_list.R, expected, atol=1e-12)
    np.testing.assert_allclose(as_sparse.R, expected, atol=1e-12)
    np.testing.assert_array_equal(as_sparse.to_dense().P, P)
    np.testing.assert_array_equal(as_list.P, P)


def test_from_mdptoolbox_errors():
    P = np.transpose(mdps.river_swim(3).P, (1, 0, 2))
    with pytest.raises(ValueError, match="R must have shape"):
        ad.from_mdptoolbox(P, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"R of ndim 1"):
        ad.from_mdptoolbox(P, np.zeros(4))
    with pytest.raises(ValueError, match=r"P's matrices"):
        ad.from_mdptoolbox([np.eye(3), np.eye(2)], np.zeros(3))
    with pytest.raises(ValueError, match=r"empty"):
        ad.from_mdptoolbox([], np.zeros(3))
    with pytest.raises(ValueError, match=r"sums to"):
        ad.from_mdptoolbox(P * 0.5, np.zeros(3))
    with pytest.raises(ValueError, match=r"stage dependent"):
        ad.to_mdptoolbox(mdps.random_finite_horizon(2, 2, 2, rng=0))
    with pytest.raises(TypeError, match="mdp"):
        ad.to_mdptoolbox(P)


# ----------------------------------------------------------------------------------- quantecon
def test_from_quantecon_infeasible_and_bad_beta():
    R, Q, beta = ad.to_quantecon(mdps.river_swim(3, gamma=0.9))
    R = R.copy()
    R[2, 1] = -np.inf  # QuantEcon's infeasible action: mapped to the feasibility mask
    m = ad.from_quantecon(R, Q, beta)
    assert m.feasible.tolist() == [[True, True], [True, True], [True, False]]
    R[2, 0] = -np.inf
    with pytest.raises(ValueError, match="state 2 has no feasible action"):
        ad.from_quantecon(R, Q, beta)
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\), got 1.0"):
        ad.from_quantecon(np.zeros((3, 2)), Q, 1.0)
    with pytest.raises(ValueError, match="beta must be 1"):
        ad.from_quantecon(np.zeros((3, 2)), Q, 0.9, horizon=3)
    with pytest.raises(TypeError, match="beta"):
        ad.from_quantecon(np.zeros((3, 2)), Q, "0.9")
    with pytest.raises(ValueError, match="average reward"):
        ad.to_quantecon(mdps.river_swim(3))


# ----------------------------------------------------------------------------------- gymnasium
def test_from_gymnasium_terminal_conventions():
    table = {
        0: {0: [(0.25, 1, 0.0, False), (0.25, 1, 2.0, False), (0.5, 0, 1.0, True)],
            1: [(1.0, 1, 3.0, False)]},
        1: {0: [(1.0, 1, 0.0, True)], 1: [(0.5, 0, 1.0, False), (0.5, 0, 1.0, False)]},
    }
    m = ad.from_gymnasium(table, gamma=0.9, rho=[1.0, 0.0])
    assert m.n_states == 3 and m.n_actions == 2
    np.testing.assert_array_equal(m.P[0, 0], [0.0, 0.5, 0.5])  # duplicates merged, done -> 2
    np.testing.assert_array_equal(m.P[1, 1], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(m.P[2], np.array([[0, 0, 1.0], [0, 0, 1.0]]))
    np.testing.assert_allclose(m.R, [[0.25 * 2 + 0.5, 3.0], [0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(m.rho, [1.0, 0.0, 0.0])
    k = ad.from_gymnasium(table, gamma=0.9, terminal="keep")
    assert k.n_states == 2
    np.testing.assert_array_equal(k.P[0, 0], [0.5, 0.5])
    # a table without terminal transitions never gets the extra state
    assert ad.from_gymnasium({0: {0: [(1.0, 0, 1.0, False)]}}).n_states == 1


def test_from_gymnasium_errors():
    ok = [(1.0, 0, 0.0, False)]
    with pytest.raises(ValueError, match="terminal"):
        ad.from_gymnasium({0: {0: ok}}, terminal="drop")
    with pytest.raises(ValueError, match="keys must be the states"):
        ad.from_gymnasium({1: {0: ok}})
    with pytest.raises(ValueError, match="same actions"):
        ad.from_gymnasium({0: {0: ok, 1: ok}, 1: {0: [(1.0, 1, 0.0, False)]}})
    with pytest.raises(ValueError, match=r"P_dict\[0\]\[0\]\[0\] has next state 5"):
        ad.from_gymnasium({0: {0: [(1.0, 5, 0.0, False)]}})
    with pytest.raises(ValueError, match=r"probability"):
        ad.from_gymnasium({0: {0: [(-1.0, 0, 0.0, False), (2.0, 0, 0.0, False)]}})
    with pytest.raises(ValueError, match=r"sums to"):
        ad.from_gymnasium({0: {0: [(0.5, 0, 0.0, False)]}})
    with pytest.raises(TypeError, match="P_dict"):
        ad.from_gymnasium([[ok]])


def test_frozen_lake_absorbing_equals_keep():
    gym = pytest.importorskip("gymnasium")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = gym.make("FrozenLake-v1").unwrapped.P
    absorbing = ad.from_gymnasium(table, gamma=0.95)
    keep = ad.from_gymnasium(table, gamma=0.95, terminal="keep")
    assert absorbing.n_states == 17 and keep.n_states == 16
    # FrozenLake's terminal states loop on themselves with reward 0, so both conventions give
    # the same values on the 16 original states.
    np.testing.assert_allclose(exact_policy_iteration(absorbing)[:16], exact_policy_iteration(keep), atol=1e-12)
    assert exact_policy_iteration(keep)[0] > 0


# --------------------------------------------------------------------- peer solver cross-checks
@settings(max_examples=10)
@given(m=discounted_mdp(max_states=5, max_actions=3, gammas=(0.0, 0.9)))
def test_quantecon_solution_matches(m):
    qe = pytest.importorskip("quantecon")
    R, Q, beta = ad.to_quantecon(m)
    res = qe.markov.DiscreteDP(R, Q, beta).solve(method="policy_iteration")
    np.testing.assert_allclose(res.v, exact_policy_iteration(m), atol=1e-9)


@settings(max_examples=10)
@given(m=discounted_mdp(max_states=5, max_actions=3, gammas=(0.1, 0.9)))
def test_mdptoolbox_solution_matches(m):
    tb = pytest.importorskip("mdptoolbox.mdp")
    P, R = ad.to_mdptoolbox(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pi = tb.PolicyIteration(P, R, m.gamma)
        pi.run()
    np.testing.assert_allclose(np.array(pi.V), exact_policy_iteration(m), atol=1e-9)


def test_from_quantecon_non_numeric_reward():
    with pytest.raises(TypeError, match="R must be a numeric array"):
        ad.from_quantecon([["a"]], np.ones((1, 1, 1)), 0.5)
