"""Backward induction and exact finite-horizon evaluation (Puterman 1994, ch. 4)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from tests.strategies import finite_horizon_mdp, stochastic_policy


def make_fh(seed, S, A, H, *, stagewise=False, sparse_support=False):
    """Random finite-horizon instance built inline (Dirichlet rows, uniform rewards)."""
    rng = np.random.default_rng(seed)
    shape = (H, S, A) if stagewise else (S, A)
    alpha = 0.3 if sparse_support else 1.0
    P = rng.dirichlet(np.full(S, alpha), size=shape)
    R = rng.random(shape)
    return mdps.TabularMDP(P, R, horizon=H, rho=rng.dirichlet(np.ones(S)))


def brute_force_values(mdp):
    """V^sigma_0 for every deterministic Markov policy sigma, by plain recursion (no library code)."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    P = np.asarray(mdp.P) if not mdp.is_sparse else mdp.P.toarray().reshape(S, A, S)
    Ph = [P[h] if P.ndim == 4 else P for h in range(H)]
    Rh = [mdp.R[h] if mdp.R.ndim == 3 else mdp.R for h in range(H)]
    out = []
    states = np.arange(S)
    for flat in itertools.product(range(A), repeat=H * S):
        sigma = np.array(flat).reshape(H, S)
        V = np.zeros(S)
        for h in range(H - 1, -1, -1):
            V = Rh[h][states, sigma[h]] + Ph[h][states, sigma[h]] @ V
        out.append(V)
    return np.array(out)


@pytest.mark.parametrize("seed,S,A,H,stagewise", [
    (0, 3, 3, 2, False), (1, 2, 3, 3, True), (2, 3, 2, 3, True), (3, 3, 3, 3, False),
    (4, 1, 3, 3, True), (5, 3, 1, 2, False),
])
def test_backward_induction_equals_brute_force(seed, S, A, H, stagewise):
    mdp = make_fh(seed, S, A, H, stagewise=stagewise, sparse_support=seed % 2 == 1)
    sol = mdps.backward_induction(mdp)
    allV = brute_force_values(mdp)
    # the optimum over deterministic Markov policies is attained simultaneously in every state
    np.testing.assert_allclose(sol.V[0], allV.max(axis=0), rtol=0, atol=1e-12)
    # and the returned greedy policy attains it
    np.testing.assert_allclose(mdps.evaluate_finite_horizon(mdp, sol.policy)[0], sol.V[0], atol=1e-12)
    assert sol.method == "backward_induction" and sol.n_iter == H and sol.converged
    assert sol.V.shape == (H, S) and sol.Q.shape == (H, S, A) and sol.policy.shape == (H, S)
    assert sol.policy.dtype.kind == "i"


@pytest.mark.parametrize("stagewise", [False, True])
def test_q_recursion_and_bounds(stagewise):
    mdp = make_fh(7, 5, 3, 6, stagewise=stagewise)
    sol = mdps.backward_induction(mdp)
    H = mdp.horizon
    for h in range(H):
        Vn = sol.V[h + 1] if h + 1 < H else np.zeros(mdp.n_states)
        Q = mdp.R_stage(h) + np.asarray(mdp.P_stage(h)) @ Vn
        np.testing.assert_allclose(sol.Q[h], Q, atol=1e-13)
        np.testing.assert_array_equal(sol.policy[h], Q.argmax(axis=1))
        # rewards in [0, 1]: 0 <= V_h <= H - h
        assert np.all(sol.V[h] >= -1e-12) and np.all(sol.V[h] <= H - h + 1e-12)


def test_sparse_equals_dense():
    mdp = make_fh(11, 6, 3, 4, sparse_support=True)
    d, s = mdps.backward_induction(mdp), mdps.backward_induction(mdp.to_sparse())
    np.testing.assert_allclose(s.V, d.V, atol=1e-13)
    np.testing.assert_allclose(s.Q, d.Q, atol=1e-13)
    np.testing.assert_array_equal(s.policy, d.policy)
    pi = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    np.testing.assert_allclose(mdps.evaluate_finite_horizon(mdp.to_sparse(), pi),
                               mdps.evaluate_finite_horizon(mdp, pi), atol=1e-13)


def test_ties_go_to_lowest_action():
    P = np.ones((1, 3, 1))
    R = np.array([[0.5, 1.0, 1.0]])
    sol = mdps.backward_induction(mdps.TabularMDP(P, R, horizon=3))
    np.testing.assert_array_equal(sol.policy, [[1], [1], [1]])
    np.testing.assert_allclose(sol.V[:, 0], [3.0, 2.0, 1.0])


@settings(max_examples=30)
@given(finite_horizon_mdp(), st.data())
def test_greedy_policy_evaluates_to_optimal_value(mdp, data):
    sol = mdps.backward_induction(mdp)
    np.testing.assert_allclose(mdps.evaluate_finite_horizon(mdp, sol.policy), sol.V, atol=1e-12)
    # and no stochastic policy beats it (optimality over randomised Markov policies)
    pi = data.draw(stochastic_policy(mdp.n_states, mdp.n_actions))
    assert np.all(mdps.evaluate_finite_horizon(mdp, pi) <= sol.V + 1e-12)


@settings(max_examples=30)
@given(finite_horizon_mdp(), st.data())
def test_policy_forms_agree(mdp, data):
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pis = np.stack([data.draw(stochastic_policy(S, A)) for _ in range(H)])
    V = mdps.evaluate_finite_horizon(mdp, pis)
    # own recursion V_h = r_pi_h + P_pi_h V_{h+1}
    Vn = np.zeros(S)
    for h in range(H - 1, -1, -1):
        P_pi = np.einsum("sa,sat->st", pis[h], np.asarray(mdp.P_stage(h)))
        Vn = (pis[h] * mdp.R_stage(h)).sum(axis=1) + P_pi @ Vn
        np.testing.assert_allclose(V[h], Vn, atol=1e-12)
    # stationary (S, A) == broadcast (H, S, A); int (S,) and (H, S) == one-hot
    np.testing.assert_allclose(mdps.evaluate_finite_horizon(mdp, pis[0]),
                               mdps.evaluate_finite_horizon(mdp, np.broadcast_to(pis[0], (H, S, A))),
                               atol=1e-13)
    sigma = np.array(data.draw(st.lists(st.integers(0, A - 1), min_size=H * S, max_size=H * S))).reshape(H, S)
    onehot = np.eye(A)[sigma]
    np.testing.assert_allclose(mdps.evaluate_finite_horizon(mdp, sigma),
                               mdps.evaluate_finite_horizon(mdp, onehot), atol=1e-13)
    np.testing.assert_allclose(mdps.evaluate_finite_horizon(mdp, sigma[0]),
                               mdps.evaluate_finite_horizon(mdp, onehot[0]), atol=1e-13)


@settings(max_examples=20)
@given(finite_horizon_mdp(stage_dependent=False), st.floats(0.1, 10.0))
def test_reward_scaling_scales_values(mdp, c):
    sol = mdps.backward_induction(mdp)
    scaled = mdps.TabularMDP(mdp.P, c * mdp.R, horizon=mdp.horizon)
    sol_c = mdps.backward_induction(scaled)
    np.testing.assert_allclose(sol_c.V, c * sol.V, rtol=1e-12, atol=1e-12)


# -- bad inputs ---------------------------------------------------------------------------------
@pytest.fixture
def fh():
    return make_fh(0, 3, 2, 4)


def test_wrong_criterion_is_rejected(fh):
    disc = fh.with_criterion(gamma=0.9)
    with pytest.raises(ValueError, match="criterion.*horizon"):
        mdps.backward_induction(disc)
    with pytest.raises(ValueError, match="finite-horizon"):
        mdps.evaluate_finite_horizon(fh.with_criterion(), np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="mdp"):
        mdps.backward_induction("not an mdp")


@pytest.mark.parametrize("pi,exc,pattern", [
    (np.zeros((3, 3)), ValueError, r"pi.*shape"),                 # wrong A
    (np.zeros((5, 3, 2)), ValueError, r"pi.*shape"),              # wrong H
    (np.full((3, 2), 0.4), ValueError, r"pi\[0, :\] sums to 0.8"),
    (np.array([[1.5, -0.5]] * 3), ValueError, r"pi\[0, 1\].*>= 0"),
    (np.array([0, 2, 1]), ValueError, r"pi\[1\] is 2.*\[0, 1\]"),
    (np.array([[0, 1, 0]] * 3), ValueError, r"pi.*deterministic.*shape"),  # (3, 3) int, H=4
    (np.array([0.0, 1.0, 0.0]), TypeError, r"pi.*integer"),
    (np.array([True, False, True]), TypeError, r"pi.*bool"),
    (np.array([[np.nan, 1.0]] * 3), ValueError, r"pi\[0, 0\] is nan"),
])
def test_bad_policies_are_rejected(fh, pi, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mdps.evaluate_finite_horizon(fh, pi)
