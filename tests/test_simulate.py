"""Tests for the episodic simulator (:mod:`mdps.simulate`, :mod:`mdps._sim_kernels`).

* kernel vs NumPy reference: identical trajectories on the same uniforms (Hypothesis);
* reproducibility: same rng -> same trajectories, independent of chunking, dense == sparse,
  deterministic == one-hot stochastic;
* the round-off guard of inverse-CDF sampling;
* statistics: the empirical mean return matches the exact value (backward recursion written
  inline) within 5 exact standard errors, for seeds 0..4.
"""

from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
import mdps._sim_kernels as K
import mdps._sim_reference as ref
import mdps.simulate as simulate
from tests.strategies import finite_horizon_mdp, garnet_mdp, stochastic_policy

ONE_MINUS = np.nextafter(1.0, 0.0)  # the largest uniform Generator.random can return


def test_doctests():
    res = doctest.testmod(simulate, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


def dense_inputs(m, pi):
    S, A = m.n_states, m.n_actions
    P = np.asarray(m.to_dense().P).reshape(-1, S, A, S)
    R = np.asarray(m.R).reshape(-1, S, A)
    return P, pi.reshape(-1, S, A), np.asarray(m.rho), R


# --------------------------------------------------------------------- kernel vs reference
@st.composite
def mdp_policy_uniforms(draw):
    m = draw(finite_horizon_mdp(max_states=5, max_actions=3, max_horizon=4))
    H, S, A = m.horizon, m.n_states, m.n_actions
    if draw(st.booleans()):
        pi = np.stack([draw(stochastic_policy(S, A)) for _ in range(H)])
    else:
        pi = draw(stochastic_policy(S, A))
    n_ep = draw(st.integers(1, 4))
    edge = st.sampled_from([0.0, ONE_MINUS, 0.5, 0.1, 0.3])
    u = draw(st.lists(st.one_of(st.floats(0.0, 1.0, exclude_max=True), edge),
                      min_size=n_ep * (2 * H + 1), max_size=n_ep * (2 * H + 1)))
    return m, pi, np.array(u).reshape(n_ep, 2 * H + 1)


@settings(max_examples=40)
@given(case=mdp_policy_uniforms())
def test_kernel_matches_reference_exactly(case):
    m, pi, u = case
    H = m.horizon
    pi3 = pi.reshape(-1, m.n_states, m.n_actions)
    p_indptr, p_indices, p_cdf, n_p = simulate._transition_table(m)
    pi_tab = simulate._cdf_table(pi3.reshape(-1, m.n_actions))
    rho_tab = simulate._cdf_table(np.asarray(m.rho)[None])
    R = np.asarray(m.R).reshape(-1, m.n_states, m.n_actions)
    states = np.empty((u.shape[0], H + 1), dtype=np.int64)
    actions = np.empty((u.shape[0], H), dtype=np.int64)
    rewards = np.empty((u.shape[0], H))
    K.rollout(p_indptr, p_indices, p_cdf, n_p, *pi_tab, pi3.shape[0], *rho_tab, R, u,
              states, actions, rewards)
    s_ref, a_ref, r_ref = ref.rollout(*dense_inputs(m, pi3), u)
    np.testing.assert_array_equal(states, s_ref)
    np.testing.assert_array_equal(actions, a_ref)
    np.testing.assert_array_equal(rewards, r_ref)
    # every sampled transition has positive probability
    P = np.asarray(m.to_dense().P).reshape(-1, m.n_states, m.n_actions, m.n_states)
    for h in range(H):
        hp = h if P.shape[0] > 1 else 0
        assert np.all(P[hp, states[:, h], actions[:, h], states[:, h + 1]] > 0)
        assert np.all(pi3[h if pi3.shape[0] > 1 else 0, states[:, h], actions[:, h]] > 0)


@settings(max_examples=20)
@given(case=mdp_policy_uniforms(), seed=st.integers(0, 2**31))
def test_public_rollout_matches_reference_on_same_rng(case, seed):
    m, pi, u = case
    tr = mdps.rollout(m, pi, 3, rng=seed)
    u = np.random.default_rng(seed).random((3, 2 * m.horizon + 1))
    s_ref, a_ref, r_ref = ref.rollout(*dense_inputs(m, pi), u)
    np.testing.assert_array_equal(tr.states, s_ref)
    np.testing.assert_array_equal(tr.actions, a_ref)
    np.testing.assert_array_equal(tr.rewards, r_ref)


def test_row_cumsum_matches_reference():
    rng = np.random.default_rng(0)
    indptr = np.array([0, 3, 3, 7, 8], dtype=np.int64)
    data = rng.random(8)
    out = np.empty(8)
    K.row_cumsum(indptr, data, out)
    np.testing.assert_array_equal(out, ref.row_cumsum(indptr, data))


def test_roundoff_guard_maps_to_last_positive_state():
    p = np.array([0.1] * 10 + [0.0, 0.0])
    assert np.cumsum(p)[-1] < 1.0 and np.cumsum(p)[-1] <= ONE_MINUS  # the round-off case
    assert ref.sample(p, ONE_MINUS) == 9
    indptr, indices, cdf = simulate._cdf_table(p[None])
    assert K.csr_sample(indptr, indices, cdf, 0, ONE_MINUS) == 9
    assert K.csr_sample(indptr, indices, cdf, 0, 0.0) == 0
    # zero-probability outcomes are never drawn, even at u = 0
    q = np.array([0.0, 0.0, 1.0])
    assert ref.sample(q, 0.0) == 2
    assert K.csr_sample(*simulate._cdf_table(q[None]), 0, 0.0) == 2


# ------------------------------------------------------------------------- reproducibility
def test_same_rng_same_trajectories_and_chunking(monkeypatch):
    m = mdps.random_finite_horizon(6, 3, 5, rng=1)
    pi = np.full((6, 3), 1 / 3)
    a = mdps.rollout(m, pi, 50, rng=11)
    b = mdps.rollout(m, pi, 50, rng=np.random.default_rng(11))
    c = mdps.rollout(m, pi, 50, rng=12)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.states, c.states)
    head = mdps.rollout(m, pi, 20, rng=11)  # episode k depends on row k of the uniforms only
    np.testing.assert_array_equal(head.states, a.states[:20])
    monkeypatch.setattr(simulate, "_CHUNK_UNIFORMS", 25)  # 2 episodes per chunk
    chunked = mdps.rollout(m, pi, 50, rng=11)
    np.testing.assert_array_equal(chunked.states, a.states)
    np.testing.assert_array_equal(chunked.rewards, a.rewards)


def test_dense_equals_sparse_and_deterministic_equals_one_hot():
    dense = mdps.garnet(40, 4, 3, rng=2)
    sparse = mdps.garnet(40, 4, 3, sparse=True, rng=2)
    sigma = np.random.default_rng(0).integers(0, 4, size=(7, 40))
    a = mdps.rollout(dense, sigma, 30, horizon=7, rng=5)
    b = mdps.rollout(sparse, sigma, 30, horizon=7, rng=5)
    one_hot = np.eye(4)[sigma]
    c = mdps.rollout(dense, one_hot, 30, horizon=7, rng=5)
    for t in (b, c):
        np.testing.assert_array_equal(a.states, t.states)
        np.testing.assert_array_equal(a.actions, t.actions)
    np.testing.assert_array_equal(a.actions, sigma[np.arange(7), a.states[:, :-1]])


def test_trajectories_record():
    m = mdps.river_swim(4, horizon=6)
    tr = mdps.rollout(m, np.ones(4, dtype=int), 10, rng=0)
    assert tr.states.shape == (10, 7) and tr.actions.shape == (10, 6) and tr.rewards.shape == (10, 6)
    assert tr.states.dtype == np.int64 and tr.actions.dtype == np.int64
    assert tr.n_episodes == 10 and tr.horizon == 6
    np.testing.assert_array_equal(tr.states[:, 0], 0)  # rho = e_0
    with pytest.raises(dataclasses.FrozenInstanceError):
        tr.states = None
    with pytest.raises(ValueError):
        tr.rewards[0, 0] = 1.0
    np.testing.assert_allclose(tr.returns(0.5), (tr.rewards * 0.5 ** np.arange(6)).sum(1))
    np.testing.assert_array_equal(tr.returns(), tr.rewards.sum(1))
    np.testing.assert_array_equal(tr.returns(1.0), tr.rewards.sum(1))
    with pytest.raises(ValueError, match="gamma"):
        tr.returns(1.5)
    empty = mdps.rollout(m, np.ones(4, dtype=int), 0, rng=0)
    assert empty.states.shape == (0, 7)
    # discounted mdp: horizon is required and any horizon works
    d = mdps.river_swim(4, gamma=0.9)
    assert mdps.rollout(d, np.zeros(4, dtype=int), 3, horizon=9, rng=0).horizon == 9


# ------------------------------------------------------------------------------ statistics
def exact_return_moments(m, pi, H, gamma=1.0):
    """Mean and variance of the return sum_h gamma^h r_h from rho, by backward recursion.

    Rewards are deterministic given (s, a): G_h = r + gamma G_{h+1}, so
    E[G_h | s, a] = r + gamma P m1_{h+1} and E[G_h^2 | s, a] = r^2 + 2 gamma r P m1_{h+1}
    + gamma^2 P m2_{h+1}.
    """
    S, A = m.n_states, m.n_actions
    P = np.asarray(m.to_dense().P).reshape(-1, S, A, S)
    R = np.asarray(m.R).reshape(-1, S, A)
    pi = pi.reshape(-1, S, A)
    m1 = np.zeros(S)
    m2 = np.zeros(S)
    for h in reversed(range(H)):
        Ph, Rh, pih = P[h % P.shape[0]], R[h % R.shape[0]], pi[h % pi.shape[0]]
        Pm1, Pm2 = Ph @ m1, Ph @ m2
        q1 = Rh + gamma * Pm1
        q2 = Rh**2 + 2 * gamma * Rh * Pm1 + gamma**2 * Pm2
        m1, m2 = (pih * q1).sum(1), (pih * q2).sum(1)
    rho = np.asarray(m.rho)
    mean = rho @ m1
    return mean, rho @ m2 - mean**2


CASES = {
    "river_swim": lambda: (mdps.river_swim(5, horizon=12), np.tile([0.3, 0.7], (5, 1))),
    "stagewise": lambda: (mdps.random_finite_horizon(6, 3, 6, rng=7),
                          np.random.default_rng(7).dirichlet(np.ones(3), size=(6, 6))),
    "sparse_garnet": lambda: (mdps.garnet(50, 3, 4, horizon=10, sparse=True, rng=3),
                              np.random.default_rng(3).integers(0, 3, size=50)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("gamma", [1.0, 0.8])
def test_mean_return_matches_exact_value(name, seed, gamma):
    # CLT margin: |mean_K - V| <= 5 sigma / sqrt(K) with the exact sigma; holds for seeds 0..4.
    m, pi = CASES[name]()
    if pi.dtype.kind == "i":
        pi = np.eye(m.n_actions)[pi]
    n_ep = 20_000
    tr = mdps.rollout(m, pi, n_ep, rng=seed)
    mean, var = exact_return_moments(m, pi, m.horizon, gamma)
    assert abs(tr.returns(gamma).mean() - mean) <= 5 * np.sqrt(var / n_ep) + 1e-12


def test_start_state_distribution():
    # rho of a garnet is uniform; the count of each start state is Binomial(K, 1/S): 5 sigma.
    m = mdps.garnet(8, 2, 2, horizon=1, rng=0)
    n_ep = 40_000
    counts = np.bincount(mdps.rollout(m, np.zeros(8, dtype=int), n_ep, rng=4).states[:, 0], minlength=8)
    p = 1 / 8
    assert np.all(np.abs(counts - n_ep * p) <= 5 * np.sqrt(n_ep * p * (1 - p)))


# ----------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("policy,exc,word", [
    (np.zeros(3, dtype=int), ValueError, "deterministic policy must have shape"),
    (np.full(4, 2), ValueError, r"policy\[0\] is 2"),
    (np.full(4, -1), ValueError, r"policy\[0\] is -1"),
    (np.zeros(4, dtype=bool), TypeError, "policy"),
    (np.full((4, 2), 0.4), ValueError, r"policy\[0, :\] sums to"),
    (np.full((4, 3), 1 / 3), ValueError, "stochastic policy must have shape"),
    (np.full((5, 4, 2), 0.5), ValueError, "stochastic policy must have shape"),
    (np.array(["a"] * 4), TypeError, "policy"),
])
def test_bad_policy(policy, exc, word):
    m = mdps.river_swim(4, horizon=3)
    with pytest.raises(exc, match=word):
        mdps.rollout(m, policy, 2, rng=0)


def test_bad_arguments():
    m = mdps.river_swim(4, horizon=3)
    sigma = np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match="n_episodes"):
        mdps.rollout(m, sigma, -1)
    with pytest.raises(TypeError, match="n_episodes"):
        mdps.rollout(m, sigma, 2.5)
    with pytest.raises(ValueError, match="horizon is required"):
        mdps.rollout(mdps.river_swim(4, gamma=0.9), sigma, 2)
    with pytest.raises(ValueError, match="horizon"):
        mdps.rollout(m, sigma, 2, horizon=0)
    with pytest.raises(ValueError, match="horizon must equal"):
        mdps.rollout(mdps.random_finite_horizon(4, 2, 3, rng=0), sigma, 2, horizon=4)
    with pytest.raises(TypeError, match="mdp"):
        mdps.rollout("mdp", sigma, 2)


@settings(max_examples=15)
@given(m=garnet_mdp(criterion="finite_horizon"), seed=st.integers(0, 2**31))
def test_garnet_any_layout_matches_reference(m, seed):
    pi = np.full((m.n_states, m.n_actions), 1.0 / m.n_actions)
    tr = mdps.rollout(m, pi, 4, rng=seed)
    u = np.random.default_rng(seed).random((4, 2 * m.horizon + 1))
    s_ref, a_ref, r_ref = ref.rollout(*dense_inputs(m, pi), u)
    np.testing.assert_array_equal(tr.states, s_ref)
    np.testing.assert_array_equal(tr.actions, a_ref)
    np.testing.assert_array_equal(tr.rewards, r_ref)
