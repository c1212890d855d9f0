"""State-dependent action sets: ``TabularMDP(feasible=...)`` / ``-inf`` rewards in every planner.

The textbook instance is Puterman's inventory model (Puterman 1994, sections 3.2.1 and 4.6.1),
whose order sizes are limited by the free capacity: its finite-horizon values are the book's
exact fractions, and its discounted solution by every method and layout equals QuantEcon's
``DiscreteDP`` (product form with ``-inf`` and state-action-pair form, dense and sparse ``Q``).
Random masks (Hypothesis): all methods agree, nothing is NaN, no greedy or optimal action is
infeasible, ``Q`` is ``-inf`` exactly at the infeasible pairs. The feasible-everywhere path is
pinned bit for bit against a plain NumPy value iteration and against the unmasked kernels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdps
from mdps import _backup, _kernels, _reference

from .strategies import stochastic_kernel

INV_H3_V0 = np.array([67.0, 129.0, 194.0, 227.0]) / 16.0  # Puterman sec 4.6.1, u*_1(s)
INV_H3_V1 = np.array([32.0, 100.0, 160.0, 168.0]) / 16.0  # u*_2(s) = (2, 25/4, 10, 21/2)
INV_R = [[0.0, -1.0, -2.0, -5.0], [5.0, 0.0, -3.0, -np.inf], [6.0, -1.0, -np.inf, -np.inf],
         [5.0, -np.inf, -np.inf, -np.inf]]  # r(s, a) of Puterman's example (sec 3.2.1)


def _random_masked(seed, S=6, A=4, p_feasible=0.5, gamma=0.9, sparse=False):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.random((S, A))
    mask = rng.random((S, A)) < p_feasible
    mask[np.arange(S), rng.integers(0, A, S)] = True
    m = mdps.TabularMDP(P, np.where(mask, R, -np.inf), gamma=gamma)
    return (m.to_sparse() if sparse else m), mask


# --------------------------------------------------------------------- Puterman's inventory
def test_inventory_rewards_and_action_sets_are_puterman_s():
    m = mdps.inventory(horizon=3)
    np.testing.assert_array_equal(m.R_masked, np.array(INV_R))
    np.testing.assert_array_equal(m.feasible, np.add.outer(np.arange(4), np.arange(4)) <= 3)
    # next stock max(s + a - D, 0) with D in {0, 1, 2} w.p. (1/4, 1/2, 1/4)
    np.testing.assert_array_equal(m.P[0, 2], [0.25, 0.5, 0.25, 0.0])
    np.testing.assert_array_equal(m.P[1, 0], [0.75, 0.25, 0.0, 0.0])


@pytest.mark.parametrize("sparse", [False, True])
def test_inventory_finite_horizon_values_are_the_book_s(sparse):
    m = mdps.inventory(horizon=3)
    if sparse:
        m = mdps.TabularMDP(sp.csr_array(m.P.reshape(16, 4)), m.R_masked, horizon=3)
    sol = mdps.solve(m, method="vi")  # finite horizon: backward induction, exact
    np.testing.assert_allclose(sol.V[0], INV_H3_V0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sol.V[1], INV_H3_V1, rtol=0, atol=1e-12)
    assert sol.policy[0].tolist() == [3, 0, 0, 0] and sol.policy[1].tolist() == [2, 0, 0, 0]
    assert np.all(sol.Q[:, ~m.feasible] == -np.inf) and np.all(np.isfinite(sol.Q[:, m.feasible]))
    np.testing.assert_allclose(mdps.evaluate(m, sol.policy), sol.V, rtol=0, atol=1e-12)


def _quantecon():
    return pytest.importorskip("quantecon.markov")


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("method", ["vi", "pi", "mpi", "lp"])
@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_inventory_discounted_every_method_equals_quantecon(method, sparse, gamma):
    qe = _quantecon()
    m = mdps.inventory(gamma=gamma)
    ddp = qe.DiscreteDP(m.R_masked, np.array(m.P), gamma)
    ref = ddp.solve(method="policy_iteration")
    if sparse:
        m = m.to_sparse()
    kwargs = {"tol": 1e-10} if method in ("vi", "mpi") else {}
    sol = mdps.solve(m, method=method, **kwargs)
    np.testing.assert_allclose(sol.V, ref.v, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(sol.policy, ref.sigma)


@pytest.mark.parametrize("q_sparse", [False, True])
def test_inventory_state_action_pair_form_equals_product_form(q_sparse):
    qe = _quantecon()
    m = mdps.inventory(gamma=0.95)
    s, a = np.nonzero(m.feasible)
    Q = np.array(m.P[s, a])
    ddp = qe.DiscreteDP(m.R[s, a], sp.csr_matrix(Q) if q_sparse else Q, 0.95, s, a)
    m2 = mdps.from_quantecon(ddp)
    assert m2.is_sparse == q_sparse
    np.testing.assert_array_equal(m2.to_dense().P, m.P)
    np.testing.assert_array_equal(m2.R, m.R)
    np.testing.assert_array_equal(m2.feasible, m.feasible)
    ref = ddp.solve(method="policy_iteration")
    sol = mdps.solve(m2)
    np.testing.assert_allclose(sol.V, ref.v, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(sol.policy, ref.sigma)


def test_inventory_finite_horizon_equals_quantecon_backward_induction():
    qe = _quantecon()
    m = mdps.inventory(horizon=5)
    R, Q, beta = mdps.to_quantecon(m)
    with warnings.catch_warnings():  # QuantEcon notes that beta = 1 disables its infinite-horizon methods
        warnings.simplefilter("ignore", UserWarning)
        ddp = qe.DiscreteDP(R, Q, beta)
    vs, sigmas = qe.backward_induction(ddp, 5)
    sol = mdps.solve(m)
    np.testing.assert_allclose(sol.V, vs[:5], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(sol.policy, sigmas)


def test_inventory_average_reward_lp_and_rvi_agree():
    m = mdps.inventory()
    lp = mdps.solve(m, method="lp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rvi = mdps.solve(m, method="rvi", tol=1e-12, tau=0.5)
    assert abs(lp.gain - rvi.gain) <= 1e-9
    np.testing.assert_allclose(mdps.multichain_gain(m), lp.gain, rtol=0, atol=1e-8)
    for sol in (lp, rvi):
        assert m.feasible[np.arange(4), sol.policy].all()
        assert np.all(sol.Q[~m.feasible] == -np.inf)
    # the gain of the LP policy, recomputed from its stationary law
    gb = mdps.gain_bias(m, lp.policy)
    assert abs(gb.gain - lp.gain) <= 1e-12


# --------------------------------------------------------------------------- random masks
@st.composite
def masked_arrays(draw, max_states=5, max_actions=4):
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    P = draw(stochastic_kernel(S, A))
    R = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=S * A, max_size=S * A))).reshape(S, A)
    mask = np.array(draw(st.lists(st.booleans(), min_size=S * A, max_size=S * A))).reshape(S, A)
    keep = np.array(draw(st.lists(st.integers(0, A - 1), min_size=S, max_size=S)))
    mask[np.arange(S), keep] = True
    return P, np.where(mask, R, -np.inf), mask


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masked_arrays(), st.sampled_from([0.0, 0.5, 0.9]), st.booleans())
def test_random_masks_all_discounted_methods_agree(arrays, gamma, sparse):
    P, R, mask = arrays
    m = mdps.TabularMDP(P, R, gamma=gamma)
    if sparse:
        m = m.to_sparse()
    S = m.n_states
    ref = mdps.solve(m, method="pi")
    for method, kw in [("vi", {"tol": 1e-10}), ("mpi", {"tol": 1e-10}), ("lp", {}),
                       ("vi", {"tol": 1e-10, "stopping": "span"})]:
        sol = mdps.solve(m, method=method, **kw)
        assert not np.isnan(sol.V).any() and not np.isnan(sol.Q).any()
        np.testing.assert_allclose(sol.V, ref.V, rtol=0, atol=1e-8)
        assert mask[np.arange(S), sol.policy].all()
        assert np.all(sol.Q[~mask] == -np.inf) and np.all(np.isfinite(sol.Q[mask]))
    # fixed point of the masked Bellman operator; greedy policy feasible
    np.testing.assert_allclose(mdps.bellman_operator(m, ref.V), ref.V, rtol=0, atol=1e-10)
    assert mask[np.arange(S), mdps.greedy_policy(m, ref.V)].all()
    # V* = max over feasible a of Q*, computed here from R, P (no solver output trusted)
    Q = np.asarray(R) + gamma * np.asarray(P) @ ref.V
    np.testing.assert_allclose(np.max(np.where(mask, Q, -np.inf), axis=1), ref.V, atol=1e-10)
    # the optimal occupancy measure lives on feasible pairs and sums to 1
    d = mdps.occupancy_measure(m, ref.policy)
    assert np.all(d[~mask] == 0.0) and abs(d.sum() - 1.0) <= 1e-12


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masked_arrays(max_states=4, max_actions=3), st.integers(1, 4))
def test_random_masks_finite_horizon_and_simulator(arrays, H):
    P, R, mask = arrays
    m = mdps.TabularMDP(P, R, horizon=H)
    sol = mdps.solve(m)
    S = m.n_states
    assert mask[np.arange(S), sol.policy].all()
    assert not np.isnan(sol.Q).any() and np.all(sol.Q[:, ~mask] == -np.inf)
    # brute force over all feasible deterministic Markov policies at H = 1, and self-consistency
    np.testing.assert_allclose(mdps.evaluate(m, sol.policy), sol.V, rtol=0, atol=1e-12)
    if H == 1:
        np.testing.assert_allclose(sol.V[0], np.where(mask, R, -np.inf).max(axis=1), rtol=0, atol=0)
    unif = np.where(mask, 1.0, 0.0) / mask.sum(axis=1, keepdims=True)
    tr = mdps.rollout(m, unif, 50, rng=0)
    assert mask[tr.states[:, :-1], tr.actions].all()
    q = mdps.occupancy_measure(m, unif)
    assert np.all(q[:, ~mask] == 0.0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masked_arrays(max_states=5, max_actions=3))
def test_random_masks_average_reward_lp_and_rvi_agree(arrays):
    P, R, mask = arrays
    S = P.shape[0]
    m = mdps.TabularMDP(0.9 * P + 0.1 / S, R)  # full support: every policy unichain, aperiodic
    lp = mdps.solve(m, method="lp")
    rvi = mdps.solve(m, method="rvi", tol=1e-11)
    assert abs(lp.gain - rvi.gain) <= 1e-8
    for sol in (lp, rvi):
        assert mask[np.arange(S), sol.policy].all() and not np.isnan(sol.Q).any()
    np.testing.assert_allclose(mdps.multichain_gain(m), lp.gain, rtol=0, atol=1e-7)


# --------------------------------------------- the feasible-everywhere path is unchanged
@pytest.mark.parametrize("seed", range(5))
def test_feasible_everywhere_value_iteration_is_plain_numpy_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    S, A, gamma = 12, 4, 0.9
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.random((S, A))
    m = mdps.TabularMDP(P, R, gamma=gamma, feasible=np.ones((S, A), dtype=bool))
    assert m.action_mask is None
    sol = mdps.value_iteration(m, tol=1e-6)
    V = np.zeros(S)
    for _ in range(sol.n_iter):  # the pre-mask code path: BLAS product, then a max per state
        Q = R + gamma * np.dot(P.reshape(S * A, S), V).reshape(S, A)
        V = Q.max(axis=1)
    np.testing.assert_array_equal(sol.V, V)
    np.testing.assert_array_equal(sol.policy, (R + gamma * np.dot(P.reshape(S * A, S), V).reshape(S, A)).argmax(axis=1))


@pytest.mark.parametrize("seed", range(5))
def test_kernels_with_an_all_true_mask_match_the_unmasked_kernels_bitwise(seed):
    rng = np.random.default_rng(seed)
    S, A = 7, 3
    P2 = rng.dirichlet(np.ones(S), size=S * A)
    R, V = rng.random((S, A)), rng.random(S)
    ones = np.ones((S, A), dtype=bool)
    PV = P2 @ V
    out = [(np.empty(S), np.empty(S, dtype=np.int64)) for _ in range(5)]
    _kernels.greedy_max(PV, R, 0.9, *out[0])
    _kernels.greedy_max(PV, R, 0.9, *out[1], ones)
    csr = sp.csr_array(P2)
    _kernels.csr_bellman_max_serial(csr.indptr, csr.indices, csr.data, R, V, 0.9, *out[2])
    _kernels.csr_bellman_max_serial(csr.indptr, csr.indices, csr.data, R, V, 0.9, *out[3], ones)
    _kernels.csr_bellman_max(csr.indptr, csr.indices, csr.data, R, V, 0.9, *out[4], ones)
    for (Vo, so), (Vr, sr) in [(out[1], out[0]), (out[3], out[2]), (out[4], out[2])]:
        np.testing.assert_array_equal(Vo, Vr)
        np.testing.assert_array_equal(so, sr)


@settings(max_examples=40, deadline=None)
@given(masked_arrays(max_states=5, max_actions=4), st.floats(0.0, 0.99))
def test_masked_kernels_match_the_numpy_reference(arrays, gamma):
    P, R, mask = arrays
    S, A = mask.shape
    m = mdps.TabularMDP(P, R, gamma=max(gamma, 0.0))
    V = np.linspace(-1.0, 1.0, S)
    PV = m.P_matrix() @ V
    V_ref, s_ref = _reference.greedy_max(PV, m.R, gamma, mask)
    V_out, s_out = np.empty(S), np.empty(S, dtype=np.int64)
    _kernels.greedy_max(PV, m.R, gamma, V_out, s_out, mask)
    np.testing.assert_array_equal(s_out, s_ref)
    np.testing.assert_allclose(V_out, V_ref, rtol=0, atol=1e-15)
    csr = sp.csr_array(m.P_matrix())
    V_cs, s_cs = np.empty(S), np.empty(S, dtype=np.int64)
    _kernels.csr_bellman_max_serial(csr.indptr, csr.indices, csr.data, m.R, V, gamma, V_cs, s_cs, mask)
    np.testing.assert_array_equal(s_cs, s_ref)
    assert mask[np.arange(S), s_cs].all()
    Q = _backup.q_values(m.P_matrix(), m.R, V, gamma, mask)
    assert np.all(Q[~mask] == -np.inf) and np.all(np.isfinite(Q[mask]))


# ------------------------------------------------------------------- the container's rules
def test_infeasible_rows_are_self_loops_and_rewards_placeholders():
    P = np.full((3, 2, 3), 1.0 / 3.0)
    P[0, 1] = 0.0  # QuantEcon's pair form leaves a missing pair's row empty
    R = np.array([[1.0, -np.inf], [-2.0, 2.0], [-np.inf, 1.0]])
    for m in (mdps.TabularMDP(P, R, gamma=0.9), mdps.TabularMDP(sp.csr_array(P.reshape(6, 3)), R, gamma=0.9)):
        Pd = m.to_dense().P
        np.testing.assert_array_equal(Pd[0, 1], [1.0, 0.0, 0.0])
        np.testing.assert_array_equal(Pd[2, 0], [0.0, 0.0, 1.0])
        np.testing.assert_array_equal(Pd[1, 0], P[1, 0])
        np.testing.assert_array_equal(m.R, [[1.0, -2.0], [-2.0, 2.0], [-2.0, 1.0]])  # min feasible reward
        np.testing.assert_array_equal(m.R_masked, R)
        assert "2 infeasible pairs" in repr(m)
        for other in (m.to_dense(), m.to_sparse(), m.with_criterion(horizon=2), m.with_criterion()):
            np.testing.assert_array_equal(other.feasible, m.feasible)
    avg = mdps.TabularMDP(P, R)
    np.testing.assert_array_equal(mdps.aperiodic_transform(avg).feasible, avg.feasible)


def test_explicit_mask_overrides_finite_rewards():
    rng = np.random.default_rng(0)
    P, R = rng.dirichlet(np.ones(3), size=(3, 2)), rng.random((3, 2))
    mask = np.array([[True, False], [True, True], [False, True]])
    m = mdps.TabularMDP(P, R, gamma=0.8, feasible=mask)
    m2 = mdps.TabularMDP(P, np.where(mask, R, -np.inf), gamma=0.8)
    np.testing.assert_array_equal(mdps.solve(m).V, mdps.solve(m2).V)


def test_stage_dependent_rewards_need_minus_inf_at_every_stage():
    P = np.full((2, 2, 2), 0.5)
    R = np.zeros((3, 2, 2))
    R[:, 0, 1] = -np.inf
    m = mdps.TabularMDP(P, R, horizon=3)
    assert m.feasible.tolist() == [[True, False], [True, True]]
    R[1, 0, 1] = 0.5
    with pytest.raises(ValueError, match=r"R\[:, 0, 1\] is -inf at some stages only \(R\[1, 0, 1\] = 0.5\)"):
        mdps.TabularMDP(P, R, horizon=3)


P3 = np.full((3, 2, 3), 1.0 / 3.0)
BAD_CONTAINER = [
    ("no feasible action", dict(R=np.array([[0.0, 1.0], [-np.inf, -np.inf], [0.0, 0.0]])), ValueError,
     "state 1 has no feasible action"),
    ("mask all False in a row", dict(R=np.zeros((3, 2)), feasible=np.array([[1, 1], [1, 1], [0, 0]], dtype=bool)),
     ValueError, "state 2 has no feasible action"),
    ("mask not bool", dict(R=np.zeros((3, 2)), feasible=np.ones((3, 2))), TypeError,
     "feasible must be a bool array of shape (S, A), got dtype float64"),
    ("mask shape", dict(R=np.zeros((3, 2)), feasible=np.ones((2, 3), dtype=bool)), ValueError,
     "feasible must have shape (S, A) = (3, 2), got (2, 3)"),
    ("-inf marked feasible", dict(R=np.array([[0.0, -np.inf], [0.0, 0.0], [0.0, 0.0]]),
                                  feasible=np.ones((3, 2), dtype=bool)), ValueError,
     "feasible[0, 1] is True but R[0, 1] is -inf"),
    ("+inf reward", dict(R=np.array([[0.0, np.inf], [0.0, 0.0], [0.0, 0.0]])), ValueError,
     "R[0, 1] is inf, expected a finite number"),
    ("nan reward", dict(R=np.array([[0.0, np.nan], [0.0, 0.0], [0.0, 0.0]])), ValueError, "R[0, 1] is nan"),
]


@pytest.mark.parametrize("desc, kwargs, exc, needle", BAD_CONTAINER, ids=[b[0] for b in BAD_CONTAINER])
def test_container_refuses_bad_feasibility(desc, kwargs, exc, needle):
    with pytest.raises(exc) as info:
        mdps.TabularMDP(P3, gamma=0.9, **kwargs)
    assert needle in str(info.value)


def _policy_users():
    m, mask = _random_masked(3, S=4, A=3)
    bad_s = int(np.flatnonzero(~mask.all(axis=1))[0])
    bad_a = int(np.flatnonzero(~mask[bad_s])[0])
    sigma = np.argmax(mask, axis=1).astype(np.int64)
    sigma[bad_s] = bad_a
    pi = np.where(mask, 1.0, 0.0) / mask.sum(axis=1, keepdims=True)
    pi[bad_s] = 0.0
    pi[bad_s, bad_a] = 1.0
    fh, avg = m.with_criterion(horizon=3), m.with_criterion()
    calls = {
        "evaluate": lambda p: mdps.evaluate(m, p),
        "bellman_operator": lambda p: mdps.bellman_operator(m, np.zeros(4), p),
        "policy_iteration pi0": lambda p: mdps.policy_iteration(m, pi0=p),
        "evaluate finite horizon": lambda p: mdps.evaluate(fh, p),
        "gain_bias": lambda p: mdps.gain_bias(avg, p),
        "occupancy_measure": lambda p: mdps.occupancy_measure(m, p),
        "rollout": lambda p: mdps.rollout(fh, p, 3, rng=0),
    }
    return calls, sigma, pi, bad_s, bad_a


@pytest.mark.parametrize("user", list(_policy_users()[0]))
@pytest.mark.parametrize("form", ["deterministic", "stochastic"])
def test_every_policy_taker_refuses_an_infeasible_action(user, form):
    calls, sigma, pi, s, a = _policy_users()
    if user == "policy_iteration pi0" and form == "stochastic":
        pytest.skip("pi0 is a deterministic policy")
    with pytest.raises(ValueError, match=rf"uses action {a}, which is infeasible in state {s}"):
        calls[user](sigma if form == "deterministic" else pi)


def test_env_refuses_an_infeasible_action():
    env = mdps.TabularEnv(mdps.inventory(horizon=4))
    env.reset(seed=0)
    while env.state == 0:  # state 0 has every order size; a positive stock has fewer
        env.reset()
    s = int(env.state)
    with pytest.raises(ValueError, match=rf"action 3 is infeasible in state {s}"):
        env.step(3)
    env.step(0)  # a feasible action still steps


# ------------------------------------------------------------------------------ QuantEcon
def test_quantecon_round_trips_with_infeasible_actions():
    for sparse in (False, True):
        m, mask = _random_masked(7, sparse=sparse)
        back = mdps.from_quantecon(*mdps.to_quantecon(m))
        np.testing.assert_array_equal(back.P, m.to_dense().P)
        np.testing.assert_array_equal(back.R, m.R)
        np.testing.assert_array_equal(back.feasible, mask)
        R, Q, beta, s, a = mdps.to_quantecon(m, sa_pairs=True)
        assert sp.issparse(Q) == sparse and len(R) == mask.sum()
        pair = mdps.from_quantecon(R, Q, beta, s, a, n_actions=m.n_actions)
        assert pair.is_sparse == sparse
        np.testing.assert_array_equal(pair.to_dense().P, m.to_dense().P)
        np.testing.assert_array_equal(pair.R, m.R)


BAD_QE = [
    ("one index array", dict(s_indices=[0, 1]), ValueError, "give both s_indices and a_indices"),
    ("duplicate pair", dict(s_indices=[0, 0], a_indices=[1, 1]), ValueError,
     "state-action pair (s=0, a=1) appears twice (positions 0 and 1"),
    ("float indices", dict(s_indices=[0.0, 1.0], a_indices=[0, 0]), TypeError, "s_indices must be a 1-d integer array"),
    ("state out of range", dict(s_indices=[0, 2], a_indices=[0, 0]), ValueError, "s_indices[1] is 2, expected in [0, 1]"),
    ("negative action", dict(s_indices=[0, 1], a_indices=[0, -1]), ValueError, "a_indices[1] is -1, expected >= 0"),
    ("length", dict(s_indices=[0, 1, 1], a_indices=[0, 0, 1]), ValueError, "s_indices must have length L = 2"),
    ("state without pair", dict(s_indices=[0, 0], a_indices=[0, 1]), ValueError, "state 1 has no feasible action"),
    ("n_actions too small", dict(s_indices=[0, 1], a_indices=[0, 2], n_actions=2), ValueError,
     "n_actions = 2 but a_indices has action 2"),
]


@pytest.mark.parametrize("desc, kwargs, exc, needle", BAD_QE, ids=[b[0] for b in BAD_QE])
def test_from_quantecon_pair_form_errors(desc, kwargs, exc, needle):
    with pytest.raises(exc) as info:
        mdps.from_quantecon([1.0, 2.0], np.eye(2), 0.9, **kwargs)
    assert needle in str(info.value)


def test_from_quantecon_discrete_dp_alone():
    qe = _quantecon()
    ddp = qe.DiscreteDP(np.array([[1.0, -np.inf], [0.0, 2.0]]), np.full((2, 2, 2), 0.5), 0.9)
    assert mdps.from_quantecon(ddp).feasible.tolist() == [[True, False], [True, True]]
    with pytest.raises(TypeError, match="takes a DiscreteDP alone"):
        mdps.from_quantecon(ddp, np.full((2, 2, 2), 0.5), 0.9)
    with pytest.raises(TypeError, match="needs R, Q and beta"):
        mdps.from_quantecon(np.zeros((2, 2)))


# ----------------------------------------------------------------------- smaller pieces
@pytest.mark.parametrize("kwargs, exc, needle", [
    (dict(capacity=0), ValueError, "capacity"),
    (dict(demand=(0.5, 0.6)), ValueError, "demand must be a probability vector"),
    (dict(demand=(-0.5, 1.5)), ValueError, "demand must be a probability vector"),
    (dict(price="8"), TypeError, "price"),
])
def test_inventory_bad_input(kwargs, exc, needle):
    with pytest.raises(exc, match=needle):
        mdps.inventory(**kwargs)


@pytest.mark.parametrize("M", [1, 2, 5])
def test_inventory_action_sets_and_kernel(M):
    m = mdps.inventory(M, gamma=0.9)
    assert m.n_states == m.n_actions == M + 1
    np.testing.assert_array_equal(m.feasible.sum(axis=1), M + 1 - np.arange(M + 1))
    np.testing.assert_allclose(np.asarray(m.P).sum(axis=-1), 1.0, rtol=0, atol=1e-15)


def test_validation_pieces():
    from mdps.validation import as_float_array, check_policy

    x = as_float_array([[0.0, -np.inf]], "R", allow_neg_inf=True)
    assert x[0, 1] == -np.inf
    for bad in (np.inf, np.nan):
        with pytest.raises(ValueError, match=r"R\[0, 1\] is"):
            as_float_array([[0.0, bad]], "R", allow_neg_inf=True)
    with pytest.raises(ValueError, match=r"R\[0, 1\] is -inf, expected a finite number"):
        as_float_array([[0.0, -np.inf]], "R")
    mask = np.array([[True, False], [True, True]])
    assert check_policy([0, 1], 2, 2, feasible=mask).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"sigma\[0\] = 1 uses action 1, which is infeasible in state 0 .* "
                                         r"feasible actions there: \[0\]"):
        check_policy([1, 1], 2, 2, feasible=mask, name="sigma")
    with pytest.raises(ValueError, match=r"pi\[1, 0, 1\] = 0.5 > 0 uses action 1, which is infeasible in state 0"):
        check_policy(np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]]), 2, 2, horizon=2, feasible=mask)


def test_span_contraction_coefficient_uses_feasible_pairs_only():
    P = np.zeros((2, 2, 2))
    P[:, 0] = [0.5, 0.5]   # a feasible action that mixes perfectly: coefficient 0
    P[0, 1] = [1.0, 0.0]
    P[1, 1] = [0.0, 1.0]   # the other action would make the coefficient 1 ...
    R = np.array([[0.0, -np.inf], [0.0, -np.inf]])  # ... but it is infeasible
    assert mdps.span_contraction_coefficient(mdps.TabularMDP(P, R)) == 0.0
    assert mdps.span_contraction_coefficient(mdps.TabularMDP(P, np.zeros((2, 2)))) == 1.0


def test_robust_mdp_refuses_infeasible_actions():
    with pytest.raises(ValueError, match=r"RobustMDP does not support infeasible actions yet: mdp.feasible\[1, 3\]"):
        mdps.RobustMDP(mdps.inventory(gamma=0.9), radius=0.1)


@pytest.mark.parametrize("fn", ["to_mdptoolbox", "to_gymnasium"])
def test_exports_without_an_infeasibility_convention_refuse(fn):
    with pytest.raises(ValueError, match=rf"{fn}\(\) cannot express infeasible actions: mdp.feasible\[1, 3\] is False"):
        getattr(mdps, fn)(mdps.inventory(gamma=0.9))
