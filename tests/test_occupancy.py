"""Occupancy measures: flow constraints (the dual-LP constraints) and value identities."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
import mdps.catalogue as cat
from mdps.occupancy import recurrent_classes
from tests.strategies import (
    discounted_mdp,
    finite_horizon_mdp,
    stochastic_policy,
    unichain_average_mdp,
)


def dense_P(mdp, h=0):
    P = mdp.P_stage(h)
    S, A = mdp.n_states, mdp.n_actions
    return P.toarray().reshape(S, A, S) if sp.issparse(P) else np.asarray(P)


def assert_distribution(x, atol=1e-12):
    assert np.all(x >= -atol)
    np.testing.assert_allclose(x.sum(), 1.0, atol=1e-10)


# -- discounted ---------------------------------------------------------------------------------
@settings(max_examples=40)
@given(discounted_mdp(), st.data())
def test_discounted_flow_and_value_identity(mdp, data):
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    pi = data.draw(stochastic_policy(S, A))
    d = mdps.occupancy_measure(mdp, pi)
    assert d.shape == (S, A)
    assert_distribution(d)
    P = dense_P(mdp)
    # flow: sum_a d(s', a) = (1 - gamma) rho(s') + gamma sum_{s,a} P(s'|s,a) d(s,a)
    np.testing.assert_allclose(d.sum(axis=1), (1 - g) * mdp.rho + g * np.einsum("sat,sa->t", P, d),
                               atol=1e-12)
    # V^pi(rho) = <d, R> / (1 - gamma), V^pi by our own linear solve
    P_pi = np.einsum("sa,sat->st", pi, P)
    V = np.linalg.solve(np.eye(S) - g * P_pi, (pi * mdp.R).sum(axis=1))
    np.testing.assert_allclose((d * mdp.R).sum() / (1 - g), mdp.rho @ V, rtol=1e-9, atol=1e-9)


def test_discounted_closed_form_and_sparse():
    # two-state swap chain from state 0: d_S = (1 - g) (1, g, g^2, ...) folded -> (1/(1+g), g/(1+g))
    P = cat.periodic_swap().P
    mdp = mdps.TabularMDP(P, np.zeros((2, 1)), gamma=0.5, rho=[1.0, 0.0])
    d = mdps.occupancy_measure(mdp, np.zeros(2, dtype=int))
    np.testing.assert_allclose(d.ravel(), [1 / 1.5, 0.5 / 1.5], atol=1e-15)
    rng = np.random.default_rng(3)
    m = mdps.TabularMDP(rng.dirichlet(np.full(7, 0.2), size=(7, 3)), rng.random((7, 3)), gamma=0.95)
    pi = rng.dirichlet(np.ones(3), size=7)
    np.testing.assert_allclose(mdps.occupancy_measure(m.to_sparse(), pi), mdps.occupancy_measure(m, pi),
                               atol=1e-13)


# -- finite horizon -----------------------------------------------------------------------------
@settings(max_examples=40)
@given(finite_horizon_mdp(), st.data())
def test_finite_horizon_forward_flow_and_value(mdp, data):
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pi = np.stack([data.draw(stochastic_policy(S, A)) for _ in range(H)])
    q = mdps.occupancy_measure(mdp, pi)
    assert q.shape == (H, S, A)
    np.testing.assert_allclose(q[0], mdp.rho[:, None] * pi[0], atol=1e-15)
    for h in range(H):
        assert_distribution(q[h])
    for h in range(H - 1):
        # sum_a q_{h+1}(s', a) = sum_{s,a} P_h(s'|s,a) q_h(s,a), and q_{h+1} = that * pi_{h+1}
        inflow = np.einsum("sat,sa->t", dense_P(mdp, h), q[h])
        np.testing.assert_allclose(q[h + 1].sum(axis=1), inflow, atol=1e-12)
        np.testing.assert_allclose(q[h + 1], inflow[:, None] * pi[h + 1], atol=1e-12)
    # V^pi_0(rho) = sum_h <q_h, R_h>
    value = sum((q[h] * mdp.R_stage(h)).sum() for h in range(H))
    np.testing.assert_allclose(value, mdp.rho @ mdps.evaluate_finite_horizon(mdp, pi)[0],
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=20)
@given(finite_horizon_mdp(stage_dependent=False))
def test_finite_horizon_optimal_occupancy_value(mdp):
    sol = mdps.backward_induction(mdp)
    q = mdps.occupancy_measure(mdp, sol.policy)
    value = sum((q[h] * mdp.R_stage(h)).sum() for h in range(mdp.horizon))
    np.testing.assert_allclose(value, mdp.rho @ sol.V[0], rtol=1e-12, atol=1e-12)
    q_sparse = mdps.occupancy_measure(mdp.to_sparse(), sol.policy)
    np.testing.assert_allclose(q_sparse, q, atol=1e-14)


# -- average reward -----------------------------------------------------------------------------
@settings(max_examples=40)
@given(unichain_average_mdp(), st.data())
def test_stationary_flow(mdp, data):
    S, A = mdp.n_states, mdp.n_actions
    pi = data.draw(stochastic_policy(S, A))
    x = mdps.occupancy_measure(mdp, pi)
    assert_distribution(x)
    np.testing.assert_allclose(x.sum(axis=1), np.einsum("sat,sa->t", dense_P(mdp), x), atol=1e-12)
    # gain = <x, R>
    np.testing.assert_allclose((x * mdp.R).sum(), mdps.gain_bias(mdp, pi).gain, atol=1e-12)


def test_stationary_distribution_examples():
    # periodic 2-cycle: the Cesaro distribution is uniform
    np.testing.assert_allclose(mdps.stationary_distribution(np.array([[0.0, 1.0], [1.0, 0.0]])), [0.5, 0.5])
    # transient state 1 gets exactly zero mass
    P = np.array([[0.5, 0.0, 0.5], [0.3, 0.3, 0.4], [0.2, 0.0, 0.8]])
    mu = mdps.stationary_distribution(P)
    assert mu[1] == 0.0
    np.testing.assert_allclose(mu @ P, mu, atol=1e-15)
    np.testing.assert_allclose(mu, [2 / 7, 0, 5 / 7], atol=1e-15)
    np.testing.assert_allclose(mdps.stationary_distribution(sp.csr_array(P)), mu, atol=1e-15)


@settings(max_examples=30)
@given(st.integers(1, 8), st.data())
def test_stationary_distribution_is_fixed_point(S, data):
    rows = [np.asarray(data.draw(stochastic_policy(1, S)))[0] for _ in range(S)]
    P = 0.9 * np.array(rows) + 0.1 / S
    mu = mdps.stationary_distribution(P)
    assert_distribution(mu)
    np.testing.assert_allclose(mu @ P, mu, atol=1e-13)


def test_recurrent_classes_and_multiple_class_error():
    P = np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0]])
    assert [c.tolist() for c in recurrent_classes(P)] == [[0], [2]]
    with pytest.raises(ValueError, match=r"P_pi has 2 recurrent classes \(\[0\], \[2\]\)"):
        mdps.stationary_distribution(P)
    # average occupancy of a two-class policy names pi
    mdp = mdps.TabularMDP(P[:, None, :], np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"pi is not unichain.*2 recurrent classes"):
        mdps.occupancy_measure(mdp, np.zeros(3, dtype=int))


@pytest.mark.parametrize("P,exc,pattern", [
    (np.ones((2, 3)) / 3, ValueError, r"P_pi must be a square"),
    (np.array([[0.5, 0.4], [0.0, 1.0]]), ValueError, r"P_pi\[0, :\] sums to 0.9"),
    (np.array([[1.2, -0.2], [0.0, 1.0]]), ValueError, r"P_pi\[0, 1\].*>= 0"),
    (np.ones(3), ValueError, r"P_pi must have 2 dimensions"),
])
def test_stationary_distribution_bad_input(P, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mdps.stationary_distribution(P)


# -- policy extraction --------------------------------------------------------------------------
@settings(max_examples=40)
@given(discounted_mdp(), st.data())
def test_policy_from_occupancy_round_trip(mdp, data):
    pi = data.draw(stochastic_policy(mdp.n_states, mdp.n_actions))
    d = mdps.occupancy_measure(mdp, pi)
    back = mdps.policy_from_occupancy(d)
    visited = d.sum(axis=1) > 0
    np.testing.assert_allclose(back[visited], pi[visited], atol=1e-9)
    np.testing.assert_allclose(back.sum(axis=1), 1.0, atol=1e-12)
    # the recovered policy has the same occupancy (unvisited states do not matter)
    np.testing.assert_allclose(mdps.occupancy_measure(mdp, back), d, atol=1e-9)


def test_policy_from_occupancy_uniform_on_zero_rows_and_stages():
    d = np.array([[[0.2, 0.6], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]])
    pi = mdps.policy_from_occupancy(d)
    np.testing.assert_allclose(pi, [[[0.25, 0.75], [0.5, 0.5]], [[0.5, 0.5], [1.0, 0.0]]])
    np.testing.assert_allclose(mdps.policy_from_occupancy([[1e-15, 0.0], [1.0, 3.0]], atol=1e-12),
                               [[0.5, 0.5], [0.25, 0.75]])
    with pytest.raises(ValueError, match=r"d\[0, 1\].*>= 0"):
        mdps.policy_from_occupancy([[1.0, -0.1]])
    with pytest.raises(ValueError, match=r"d must have 2 or 3 dimensions"):
        mdps.policy_from_occupancy([1.0, 2.0])


def test_occupancy_bad_inputs():
    mdp = mdps.TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), gamma=0.9)
    with pytest.raises(ValueError, match=r"pi\[1\] is 2"):
        mdps.occupancy_measure(mdp, np.array([0, 2]))
    with pytest.raises(ValueError, match=r"pi.*shape"):
        mdps.occupancy_measure(mdp, np.full((2, 2, 2), 0.5))  # (H, S, A) needs a horizon
    with pytest.raises(TypeError, match="mdp"):
        mdps.occupancy_measure(np.zeros(3), np.array([0, 0]))
