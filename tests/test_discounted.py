"""Discounted planning (``mdps.discounted``): the theorems of Puterman 1994 ch. 6 as tests.

Tolerances: ``FP`` is round-off on values of size ``||V*|| <= Rmax/(1-gamma) <= 20`` (float64
eps times the value scale times a small operation count); ``LP_RTOL = 1e-7`` is the HiGHS
feasibility tolerance (theory note 0.3); everything else comes from the stated bound.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
import mdps.catalogue as cat
from tests.strategies import discounted_mdp, stochastic_policy, value_vector

FP = 1e-12
LP_RTOL = 1e-7


def fp(scale):
    """Round-off allowance on values of size ``scale``."""
    return FP * max(1.0, float(scale))


def _mdp(P, R, gamma, **kw):
    return mdps.TabularMDP(np.asarray(P, float), np.asarray(R, float), gamma=gamma, **kw)


def _rebuild(mdp, P=None, R=None, gamma=None):
    return mdps.TabularMDP(mdp.P if P is None else P, mdp.R if R is None else R,
                           gamma=mdp.gamma if gamma is None else gamma)


def _textbook(name):
    """``(mdp, V*, sigma*, Q*)`` of a catalogue entry (the derivations are in mdps.catalogue)."""
    entry = cat.get(name)
    return entry.build(), entry.answer.V, entry.answer.policy, entry.answer.Q


def deterministic_two_state():
    return _textbook("deterministic_two_state")


def puterman_two_state():
    return _textbook("puterman_two_state")


TEXTBOOK = {"deterministic_two_state": deterministic_two_state, "puterman_two_state": puterman_two_state}
SOLVERS = {
    "vi": lambda m: mdps.value_iteration(m, tol=1e-10),
    "pi": lambda m: mdps.policy_iteration(m),
    "mpi": lambda m: mdps.modified_policy_iteration(m, m=5, tol=1e-10),
    "lp": lambda m: mdps.linear_programming(m),
}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("method", SOLVERS)
@pytest.mark.parametrize("example", TEXTBOOK)
def test_textbook_examples(example, method, sparse):
    mdp, V_star, sigma_star, Q_star = TEXTBOOK[example]()
    if sparse:
        mdp = mdp.to_sparse()
    sol = SOLVERS[method](mdp)
    assert sol.method == method and sol.converged
    np.testing.assert_allclose(sol.V, V_star, rtol=0, atol=1e-9)
    if sigma_star is not None:
        np.testing.assert_array_equal(sol.policy, sigma_star)
    else:  # Puterman's s2 has one action (duplicated): ties go to the lowest index; a11 in s1
        np.testing.assert_array_equal(sol.policy, [0, 0])
    if Q_star is not None:
        np.testing.assert_allclose(sol.Q, Q_star, rtol=0, atol=1e-9)
    np.testing.assert_allclose(mdps.evaluate_policy(mdp, sol.policy), V_star, atol=fp(20))


# -- value iteration --------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_vi_tight_instance(gamma):
    """One state, one action, R = 1, V0 = 0: V_k = (1 - gamma^k)/(1 - gamma), so the error is
    exactly gamma^k / (1 - gamma) (theory note A.1) and the residual exactly gamma^k."""
    mdp = cat.tight_vi(gamma)
    v_star = np.array([1.0 / (1.0 - gamma)])
    sol = mdps.value_iteration(mdp, tol=1e-9, v_star=v_star)
    k = np.arange(sol.n_iter + 1)
    np.testing.assert_allclose(sol.errors, gamma ** k / (1 - gamma), rtol=0, atol=1e-12)
    np.testing.assert_allclose(sol.residuals, gamma ** k[:-1], rtol=0, atol=1e-12)
    # the rule fires at the first k with gamma/(1-gamma) * gamma^k <= tol (k counted from 0)
    coef = gamma / (1 - gamma)
    expected = next(j for j in range(10_000) if coef * gamma ** j <= 1e-9) + 1
    assert abs(sol.n_iter - expected) <= 1  # +-1: gamma^j computed two ways at the threshold
    assert sol.converged and sol.errors[-1] <= 1e-9


@given(discounted_mdp(), st.data())
@settings(max_examples=25)
def test_vi_a_priori_and_a_posteriori_bounds(mdp, data):
    v0 = data.draw(value_vector(mdp.n_states, bound=5.0))
    V_star = mdps.policy_iteration(mdp).V
    sol = mdps.value_iteration(mdp, tol=1e-9, v0=v0, v_star=V_star)
    g = mdp.gamma
    k = np.arange(sol.n_iter + 1)
    eps = fp(np.abs(V_star).max() + 5.0)
    # a priori: ||V_k - V*|| <= gamma^k ||V_0 - V*||
    assert np.all(sol.errors <= g ** k * sol.errors[0] + eps)
    # a posteriori: ||V_{k+1} - V*|| <= gamma/(1-gamma) ||V_{k+1} - V_k||
    assert np.all(sol.errors[1:] <= g / (1 - g) * sol.residuals + eps)
    # stopping rule: the returned value is within tol of V*
    assert sol.converged and sol.errors[-1] <= 1e-9 + eps
    np.testing.assert_array_equal(sol.errors[-1], np.abs(sol.V - V_star).max())


@given(discounted_mdp(max_states=5, max_actions=3), st.sampled_from([1e-2, 1e-5, 1e-9]))
@settings(max_examples=20)
def test_vi_stopping_rule_guarantee(mdp, tol):
    V_star = mdps.policy_iteration(mdp).V
    sol = mdps.value_iteration(mdp, tol=tol)
    assert sol.converged
    assert np.abs(sol.V - V_star).max() <= tol + fp(np.abs(V_star).max())
    # Singh-Yee: the greedy policy of the returned value loses at most 2 gamma tol / (1 - gamma)
    loss = np.abs(V_star - mdps.evaluate_policy(mdp, sol.policy)).max()
    assert loss <= 2 * mdp.gamma * tol / (1 - mdp.gamma) + fp(np.abs(V_star).max())


def test_vi_gamma_zero_is_one_sweep():
    mdp, _, _, _ = deterministic_two_state()
    mdp0 = _rebuild(mdp, gamma=0.0)
    sol = mdps.value_iteration(mdp0, v_star="exact")
    assert sol.n_iter == 1 and sol.converged
    np.testing.assert_array_equal(sol.V, mdp.R.max(axis=1))
    np.testing.assert_array_equal(sol.errors, [2.0, 0.0])


def test_vi_max_iter_reached_is_not_converged():
    mdp, V_star, _, _ = deterministic_two_state()
    sol = mdps.value_iteration(mdp, max_iter=3, v_star=V_star)
    assert sol.n_iter == 3 and not sol.converged
    assert sol.residuals.shape == (3,) and sol.errors.shape == (4,)
    assert sol.settings["max_iter"] == 3


def test_vi_default_max_iter_is_the_a_priori_count():
    mdp, _, _, _ = deterministic_two_state()
    sol = mdps.value_iteration(mdp, tol=1e-8)
    g, D0 = 0.9, 2.0 / 0.1
    k = math.ceil(math.log(2 * g * D0 / ((1 - g) * 1e-8)) / math.log(1 / g))
    assert sol.settings["max_iter"] == k + 10 >= sol.n_iter


def test_vi_errors_exact_reference_and_no_reference():
    mdp, V_star, _, _ = puterman_two_state()
    sol = mdps.value_iteration(mdp, v_star="exact")
    assert sol.errors.shape == (sol.n_iter + 1,)
    np.testing.assert_allclose(sol.errors[0], np.abs(V_star).max(), rtol=1e-12)
    assert mdps.value_iteration(mdp).errors.shape == (0,)


# -- policy iteration ---------------------------------------------------------------------------
@given(discounted_mdp(max_states=6, max_actions=4))
@settings(max_examples=25)
def test_pi_terminates_within_bound_and_matches_lp(mdp):
    sol = mdps.policy_iteration(mdp)
    assert sol.converged and sol.residuals[-1] == 0
    bound = sol.settings["iteration_bound"]
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    assert bound == 2 * S * (A - 1) * (1 + math.ceil(math.log(1 / (1 - g)) / (1 - g)))
    assert np.count_nonzero(sol.residuals) <= bound
    np.testing.assert_array_equal(sol.V, mdps.evaluate_policy(mdp, sol.policy))
    lp = mdps.linear_programming(mdp)
    scale = max(1.0, np.abs(lp.V).max())
    assert np.abs(sol.V - lp.V).max() <= LP_RTOL * scale
    # V^{pi_k} increases monotonically, so the exact errors decrease
    assert np.all(np.diff(sol.errors) <= fp(scale))
    assert sol.errors[-1] == 0.0 and sol.errors.shape == (sol.n_iter + 1,)
    # the optimal value is the fixed point of T
    np.testing.assert_allclose(mdps.bellman_operator(mdp, sol.V), sol.V, rtol=0, atol=10 * fp(scale))


def test_pi_ties_keep_current_action():
    """Two identical actions: PI must stop at once from either initial policy (finite termination)."""
    P = np.zeros((2, 2, 2))
    P[:, :, 0] = 1.0
    mdp = _mdp(P, np.ones((2, 2)), 0.9)
    for pi0 in ([0, 0], [1, 1], [0, 1]):
        sol = mdps.policy_iteration(mdp, pi0=np.array(pi0))
        assert sol.n_iter == 1 and sol.converged
        np.testing.assert_array_equal(sol.policy, pi0)


def test_pi_max_iter_and_settings():
    mdp, _, _, _ = deterministic_two_state()
    sol = mdps.policy_iteration(mdp, max_iter=1, pi0=np.array([0, 1]))
    assert sol.n_iter == 1 and not sol.converged and sol.residuals[0] > 0


# -- modified policy iteration ------------------------------------------------------------------
@given(discounted_mdp(max_states=5, max_actions=3), st.sampled_from([1, 2, 5, 20]))
@settings(max_examples=20)
def test_mpi_monotone_from_default_v0(mdp, m):
    """From v0 = min R/(1-gamma): T^k v0 <= v_k <= V* (Puterman 1994 sec 6.5), hence the VI bound."""
    V_star = mdps.policy_iteration(mdp).V
    sol = mdps.modified_policy_iteration(mdp, m=m, tol=1e-9, v_star=V_star)
    k = np.arange(sol.n_iter + 1)
    eps = fp(np.abs(V_star).max())
    assert np.all(sol.errors <= mdp.gamma ** k * sol.errors[0] + eps)
    assert np.all(sol.V <= V_star + eps)
    assert sol.converged and sol.errors[-1] <= 1e-9 + eps


@given(discounted_mdp(max_states=5, max_actions=3), st.data())
@settings(max_examples=20)
def test_mpi_with_m_one_is_value_iteration(mdp, data):
    v0 = data.draw(value_vector(mdp.n_states, bound=3.0))
    vi = mdps.value_iteration(mdp, tol=1e-8, v0=v0)
    mpi = mdps.modified_policy_iteration(mdp, m=1, tol=1e-8, v0=v0)
    np.testing.assert_array_equal(mpi.V, vi.V)
    np.testing.assert_array_equal(mpi.residuals, vi.residuals)
    assert mpi.n_iter == vi.n_iter


# -- operators: contraction, monotonicity, shift -----------------------------------------------
@given(discounted_mdp(), st.data())
@settings(max_examples=20)
def test_bellman_operator_properties(mdp, data):
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    U = data.draw(value_vector(S))
    V = data.draw(value_vector(S))
    c = data.draw(st.floats(-5, 5))
    pi = data.draw(stochastic_policy(S, A))
    sigma = np.array(data.draw(st.lists(st.integers(0, A - 1), min_size=S, max_size=S)))
    eps = fp(30)
    for p in (None, pi, sigma):
        TU, TV = mdps.bellman_operator(mdp, U, p), mdps.bellman_operator(mdp, V, p)
        assert np.abs(TU - TV).max() <= g * np.abs(U - V).max() + eps  # gamma-contraction
        np.testing.assert_allclose(mdps.bellman_operator(mdp, V + c, p), TV + g * c, rtol=0, atol=eps)
        W = np.minimum(U, V)  # W <= V  =>  T W <= T V
        assert np.all(mdps.bellman_operator(mdp, W, p) <= TV + eps)
    # T^pi V <= T V for every policy, with equality for the greedy one
    T = mdps.bellman_operator(mdp, V)
    assert np.all(mdps.bellman_operator(mdp, V, pi) <= T + eps)
    np.testing.assert_allclose(mdps.bellman_operator(mdp, V, mdps.greedy_policy(mdp, V)), T, atol=eps)
    np.testing.assert_allclose(mdps.q_values(mdp, V).max(axis=1), T, atol=eps)


@given(discounted_mdp(max_states=5, max_actions=3), st.data())
@settings(max_examples=25)
def test_policy_value_bounds_and_fixed_point(mdp, data):
    """0 <= V^pi <= Rmax/(1-gamma) for R in [0, 1], and V^pi = T^pi V^pi."""
    pi = data.draw(stochastic_policy(mdp.n_states, mdp.n_actions))
    V = mdps.evaluate_policy(mdp, pi)
    ub = mdp.R.max() / (1 - mdp.gamma)
    assert np.all(V >= -fp(ub)) and np.all(V <= ub + fp(ub))
    np.testing.assert_allclose(mdps.bellman_operator(mdp, V, pi), V, rtol=0, atol=10 * fp(ub))
    # a one-hot stochastic policy evaluates like its deterministic twin
    sigma = pi.argmax(axis=1)
    np.testing.assert_allclose(mdps.evaluate_policy(mdp, np.eye(mdp.n_actions)[sigma]),
                               mdps.evaluate_policy(mdp, sigma), rtol=0, atol=10 * fp(ub))


def test_greedy_ties_to_lowest_action():
    P = np.zeros((1, 3, 1))
    P[..., 0] = 1.0
    mdp = _mdp(P, [[0.0, 1.0, 1.0]], 0.5)
    np.testing.assert_array_equal(mdps.greedy_policy(mdp, np.zeros(1)), [1])
    assert mdps.greedy_policy(mdp, np.zeros(1)).dtype == np.int64


# -- metamorphic properties -----------------------------------------------------------------------
@given(discounted_mdp(max_states=5, max_actions=3), st.floats(0.01, 100.0), st.floats(-10.0, 10.0))
@settings(max_examples=20)
def test_reward_scaling_and_shift(mdp, c, k):
    V = mdps.policy_iteration(mdp).V
    scale = max(1.0, np.abs(V).max())
    Vc = mdps.policy_iteration(_rebuild(mdp, R=c * mdp.R)).V
    np.testing.assert_allclose(Vc, c * V, rtol=0, atol=1e-10 * c * scale)
    Vk = mdps.policy_iteration(_rebuild(mdp, R=mdp.R + k)).V
    np.testing.assert_allclose(Vk, V + k / (1 - mdp.gamma), rtol=0, atol=1e-10 * (scale + abs(k) / (1 - mdp.gamma)))


@given(discounted_mdp(max_states=6, max_actions=3), st.data())
@settings(max_examples=20)
def test_relabelling_states_permutes_solution(mdp, data):
    perm = np.array(data.draw(st.permutations(range(mdp.n_states))))
    P2 = mdp.P[perm][:, :, perm]
    relabelled = _rebuild(mdp, P=P2, R=mdp.R[perm])
    for solve in (mdps.policy_iteration, lambda m: mdps.value_iteration(m, tol=1e-11)):
        a, b = solve(mdp), solve(relabelled)
        np.testing.assert_allclose(b.V, a.V[perm], rtol=0, atol=1e-9)
        np.testing.assert_allclose(b.Q, a.Q[perm], rtol=0, atol=1e-9)


@given(discounted_mdp(max_states=5, max_actions=3), st.data())
@settings(max_examples=20)
def test_dominated_action_never_greedy(mdp, data):
    """Append a copy of action j with reward lower by delta > 0: same P, so its Q is lower by delta
    for every V, and no solver or greedy step ever picks it."""
    S, A = mdp.n_states, mdp.n_actions
    j = data.draw(st.integers(0, A - 1))
    delta = data.draw(st.floats(1e-3, 1.0))
    P = np.concatenate([mdp.P, mdp.P[:, j:j + 1]], axis=1)
    R = np.concatenate([mdp.R, mdp.R[:, j:j + 1] - delta], axis=1)
    big = _rebuild(mdp, P=P, R=R)
    for sol in (mdps.policy_iteration(big), mdps.value_iteration(big),
                mdps.modified_policy_iteration(big, m=3), mdps.linear_programming(big)):
        assert np.all(sol.policy != A), sol.method
    V = data.draw(value_vector(S))
    assert np.all(mdps.greedy_policy(big, V) != A)
    np.testing.assert_allclose(mdps.policy_iteration(big).V, mdps.policy_iteration(mdp).V, atol=1e-10)


# -- layouts ------------------------------------------------------------------------------------
@given(discounted_mdp(max_states=6, max_actions=3), st.data())
@settings(max_examples=10)
def test_dense_and_sparse_agree(mdp, data):
    sparse = mdp.to_sparse()
    S, A = mdp.n_states, mdp.n_actions
    V = data.draw(value_vector(S))
    pi = data.draw(stochastic_policy(S, A))
    atol = 1e-10
    np.testing.assert_allclose(mdps.q_values(sparse, V), mdps.q_values(mdp, V), atol=atol)
    np.testing.assert_allclose(mdps.bellman_operator(sparse, V), mdps.bellman_operator(mdp, V), atol=atol)
    np.testing.assert_allclose(mdps.bellman_operator(sparse, V, pi), mdps.bellman_operator(mdp, V, pi), atol=atol)
    np.testing.assert_allclose(mdps.evaluate_policy(sparse, pi), mdps.evaluate_policy(mdp, pi), atol=atol)
    for name, solve in SOLVERS.items():
        d, s = solve(mdp), solve(sparse)
        np.testing.assert_allclose(s.V, d.V, atol=atol if name != "lp" else LP_RTOL * 20, err_msg=name)


def test_sparse_evaluation_does_not_densify(monkeypatch):
    dense = deterministic_two_state()[0]
    mdp = dense.to_sparse()
    half = np.full((2, 2), 0.5)
    expected = mdps.evaluate_policy(dense, half)

    def boom(*a, **k):
        raise AssertionError("densified")

    monkeypatch.setattr(sp.csr_array, "toarray", boom)
    monkeypatch.setattr(sp.csr_array, "todense", boom)
    np.testing.assert_allclose(mdps.evaluate_policy(mdp, np.array([1, 0])), [18.0, 20.0], atol=1e-12)
    np.testing.assert_allclose(mdps.evaluate_policy(mdp, half), expected, atol=1e-12)


def test_lp_rho_with_zeros_uses_uniform_weights():
    mdp, V_star, _, _ = deterministic_two_state()
    m0 = mdps.TabularMDP(mdp.P, mdp.R, gamma=0.9, rho=[1.0, 0.0])
    sol = mdps.linear_programming(m0)
    assert sol.settings["weights"] == "uniform"
    np.testing.assert_allclose(sol.V, V_star, atol=1e-9)
    assert mdps.linear_programming(mdp).settings["weights"] == "rho"


def test_solutions_are_frozen():
    sol = mdps.value_iteration(deterministic_two_state()[0], v_star="exact")
    with pytest.raises(ValueError):
        sol.V[0] = 0.0
    with pytest.raises(ValueError):
        sol.errors[0] = 0.0
    with pytest.raises(AttributeError):
        sol.n_iter = 3


# -- bad arguments ------------------------------------------------------------------------------
MDP2 = deterministic_two_state()[0]
ALL = {
    "value_iteration": mdps.value_iteration,
    "policy_iteration": mdps.policy_iteration,
    "modified_policy_iteration": mdps.modified_policy_iteration,
    "linear_programming": mdps.linear_programming,
    "q_values": lambda m: mdps.q_values(m, np.zeros(2)),
    "bellman_operator": lambda m: mdps.bellman_operator(m, np.zeros(2)),
    "greedy_policy": lambda m: mdps.greedy_policy(m, np.zeros(2)),
    "evaluate_policy": lambda m: mdps.evaluate_policy(m, np.array([0, 0])),
}


@pytest.mark.parametrize("name", ALL)
def test_mdp_type_and_criterion_checked(name):
    with pytest.raises(TypeError, match="mdp must be a mdps.TabularMDP"):
        ALL[name]((MDP2.P, MDP2.R))
    with pytest.raises(ValueError, match="'average'"):
        ALL[name](mdps.TabularMDP(MDP2.P, MDP2.R))
    with pytest.raises(ValueError, match="'finite_horizon'"):
        ALL[name](mdps.TabularMDP(MDP2.P, MDP2.R, horizon=3))


BAD_CALLS = [
    (lambda: mdps.value_iteration(MDP2, tol=0.0), ValueError, "tol"),
    (lambda: mdps.value_iteration(MDP2, tol=float("nan")), ValueError, "tol"),
    (lambda: mdps.value_iteration(MDP2, tol="1e-8"), TypeError, "tol"),
    (lambda: mdps.modified_policy_iteration(MDP2, tol=-1.0), ValueError, "tol"),
    (lambda: mdps.value_iteration(MDP2, max_iter=0), ValueError, "max_iter"),
    (lambda: mdps.value_iteration(MDP2, max_iter=2.5), TypeError, "max_iter"),
    (lambda: mdps.policy_iteration(MDP2, max_iter=0), ValueError, "max_iter"),
    (lambda: mdps.modified_policy_iteration(MDP2, max_iter=True), TypeError, "max_iter"),
    (lambda: mdps.modified_policy_iteration(MDP2, m=0), ValueError, "m must be >= 1"),
    (lambda: mdps.value_iteration(MDP2, v0=np.zeros(3)), ValueError, "v0 must have shape (2,)"),
    (lambda: mdps.value_iteration(MDP2, v0=[0.0, np.nan]), ValueError, "v0[1]"),
    (lambda: mdps.modified_policy_iteration(MDP2, v0=[np.inf, 0.0]), ValueError, "v0[0]"),
    (lambda: mdps.value_iteration(MDP2, v_star="optimal"), ValueError, "v_star"),
    (lambda: mdps.value_iteration(MDP2, v_star=np.zeros(5)), ValueError, "v_star"),
    (lambda: mdps.q_values(MDP2, np.zeros((2, 1))), ValueError, "V"),
    (lambda: mdps.bellman_operator(MDP2, [1.0, np.nan]), ValueError, "V[1]"),
    (lambda: mdps.evaluate_policy(MDP2, np.array([0, 2])), ValueError, "pi[1] is 2"),
    (lambda: mdps.evaluate_policy(MDP2, np.array([-1, 0])), ValueError, "pi[0] is -1"),
    (lambda: mdps.evaluate_policy(MDP2, np.array([0, 0, 0])), ValueError, "pi as a deterministic policy must have shape (2,)"),
    (lambda: mdps.evaluate_policy(MDP2, np.array([0.0, 1.0])), TypeError, "a deterministic policy must be an integer array"),
    (lambda: mdps.evaluate_policy(MDP2, np.full((2, 3), 1 / 3)), ValueError, "pi as a stochastic policy must have shape (2, 2)"),
    (lambda: mdps.evaluate_policy(MDP2, [[0.5, 0.5], [0.7, 0.7]]), ValueError, "pi[1, :] sums to 1.4"),
    (lambda: mdps.evaluate_policy(MDP2, [[1.5, -0.5], [0.5, 0.5]]), ValueError, "pi[0, 1]"),
    (lambda: mdps.evaluate_policy(MDP2, [[np.nan, 1.0], [0.5, 0.5]]), ValueError, "pi[0, 0]"),
    (lambda: mdps.evaluate_policy(MDP2, np.array([True, False])), TypeError, "pi"),
    (lambda: mdps.evaluate_policy(MDP2, np.eye(2, dtype=int)), TypeError, "stochastic policy must be a float"),
    (lambda: mdps.bellman_operator(MDP2, np.zeros(2), pi=np.array([0, 5])), ValueError, "pi[1] is 5"),
    (lambda: mdps.policy_iteration(MDP2, pi0=np.array([0, 3])), ValueError, "pi0[1] is 3"),
    (lambda: mdps.policy_iteration(MDP2, pi0=np.full((2, 2), 0.5)), TypeError, "pi0 must be a deterministic policy"),
    (lambda: mdps.linear_programming(MDP2, solver="glpk"), ValueError, "solver"),
]


@pytest.mark.parametrize("call, exc, needle", BAD_CALLS, ids=[f"bad{i}" for i in range(len(BAD_CALLS))])
def test_bad_arguments_raise_clear_errors(call, exc, needle):
    with pytest.raises(exc) as info:
        call()
    assert needle in str(info.value), str(info.value)


def test_lp_failure_raises_runtime_error(monkeypatch):
    import types

    import mdps.discounted as disc

    def failing(*args, **kwargs):
        return types.SimpleNamespace(status=4, x=None, message="Numerical difficulties encountered")

    monkeypatch.setattr(disc, "linprog", failing)
    with pytest.raises(RuntimeError, match="status 4: Numerical difficulties"):
        mdps.linear_programming(MDP2)


@given(discounted_mdp(max_states=5, max_actions=3), st.sampled_from([1e-2, 1e-5, 1e-9]),
       st.sampled_from(["vi", 1, 5]))
@settings(max_examples=30)
def test_span_stopping_rule_is_certified(mdp, tol, m):
    # MacQueen's bounds (Puterman Thm 6.6.3): the midpoint returned by the span rule is within
    # tol of V*, for value iteration and modified policy iteration alike.
    V_star = mdps.policy_iteration(mdp).V
    if m == "vi":
        sol = mdps.value_iteration(mdp, tol=tol, stopping="span")
        sup = mdps.value_iteration(mdp, tol=tol)
    else:
        sol = mdps.modified_policy_iteration(mdp, m=m, tol=tol, stopping="span")
        sup = mdps.modified_policy_iteration(mdp, m=m, tol=tol)
    assert sol.converged and sol.settings["stopping"] == "span"
    assert np.abs(sol.V - V_star).max() <= tol + fp(np.abs(V_star).max())
    assert sol.n_iter <= sup.n_iter  # the span never exceeds twice the sup norm of the step


def test_span_stopping_stops_early_on_a_constant_shift():
    # every state earns the same: V_k - V* is a constant vector, the span is 0 after one sweep
    mdp = mdps.TabularMDP(np.full((3, 2, 3), 1 / 3), np.ones((3, 2)), gamma=0.99)
    sol = mdps.value_iteration(mdp, tol=1e-10, stopping="span")
    assert sol.n_iter == 1
    np.testing.assert_allclose(sol.V, 100.0, rtol=1e-12)


def test_stopping_must_be_known():
    mdp = mdps.tight_vi_instance(0.5)
    with pytest.raises(ValueError, match="stopping"):
        mdps.value_iteration(mdp, stopping="norm")
    with pytest.raises(ValueError, match="stopping"):
        mdps.modified_policy_iteration(mdp, stopping="")


# -- hostile review 2026-11-29: D4, D5, D6, D7, D13 ----------------------------------------------
def test_traces_grow_with_the_iterations_not_the_cap():
    """D4: VI/MPI preallocated np.empty(max_iter): at gamma = 1 - 1e-9 the default cap needed
    456 GiB and a generous max_iter was impossible. Started at V* the rule fires at once."""
    g = 1.0 - 1e-9
    mdp = mdps.tight_vi_instance(g)
    v_star = np.array([1.0 / (1.0 - g)])
    for sol in (mdps.value_iteration(mdp, v0=v_star),
                mdps.value_iteration(mdp, v0=v_star, max_iter=10**15, v_star=v_star),
                mdps.modified_policy_iteration(mdp, v0=v_star, max_iter=2**62, m=3)):
        assert sol.converged and sol.n_iter == 1
        assert sol.residuals.shape == (1,) and sol.settings["max_iter"] > 10**9


@pytest.mark.parametrize("R_scale, tol", [(1e300, 5e-324), (1e300, 1e-300), (1.0, 5e-324), (0.0, 5e-324)])
def test_iteration_cap_never_overflows(R_scale, tol):
    """D5: the a-priori cap overflowed (ZeroDivisionError / OverflowError / math domain error)."""
    base = mdps.garnet(5, 2, 3, gamma=0.9, rng=0)
    mdp = mdps.TabularMDP(base.P, base.R * R_scale, gamma=0.9)
    sol = mdps.value_iteration(mdp, tol=tol)
    cap = sol.settings["max_iter"]
    assert isinstance(cap, int) and 1 <= cap < 20_000 and sol.n_iter <= cap
    V_star = mdps.policy_iteration(mdp).V
    assert np.all(np.isfinite(sol.V))
    np.testing.assert_allclose(sol.V, V_star, rtol=1e-12, atol=0)
    if sol.converged:  # only by reaching the exact floating-point fixed point (residual 0)
        assert sol.residuals[-1] == 0.0


def test_iteration_cap_at_extreme_gamma_is_finite():
    for g in (5e-324, 1e-300, 1.0 - 2.0**-53):
        mdp = mdps.TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), gamma=g)
        sol = mdps.value_iteration(mdp, max_iter=3)
        assert np.all(np.isfinite(sol.V))
    import mdps.discounted as disc

    huge = disc._default_max_iter(mdps.tight_vi_instance(1.0 - 2.0**-53), np.full(1, 1e308), 5e-324)
    assert huge == disc._MAX_ITER_CEILING


@pytest.mark.parametrize("scale", [1e20, 1e100, 1e300])
@pytest.mark.parametrize("sparse", [False, True])
def test_lp_is_invariant_to_the_reward_scale(scale, sparse):
    """D6: |R| >= 1e20 made HiGHS fail ("Model error" / "unbounded"): it reads 1e20 as infinity."""
    base = mdps.garnet(6, 3, 3, gamma=0.9, rng=3)
    mdp = mdps.TabularMDP(base.P, base.R * scale, gamma=0.9)
    mdp = mdp.to_sparse() if sparse else mdp
    lp, pi = mdps.linear_programming(mdp), mdps.policy_iteration(mdp)
    np.testing.assert_allclose(lp.V, pi.V, rtol=LP_RTOL)
    np.testing.assert_array_equal(lp.policy, pi.policy)


@pytest.mark.parametrize("gamma", [1.0 - 1e-10, 1.0 - 1e-12, 1.0 - 2.0**-53])
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # PI's honest rcond ~ 1e-17 note
def test_lp_out_of_range_gamma_names_the_method_that_works(gamma):
    """D6: at gamma >= 1 - 1e-9 HiGHS reported "infeasible"; now a ValueError says why and what to use."""
    mdp = mdps.TabularMDP(mdps.garnet(5, 2, 2, gamma=0.9, rng=0).P, np.eye(5, 2), gamma=gamma)
    with pytest.raises(ValueError, match=r"gamma .* out of the LP's numerical range.*method='pi'"):
        mdps.linear_programming(mdp)
    with pytest.raises(ValueError, match="method='pi'"):
        mdps.solve(mdp, method="lp")
    V = mdps.solve(mdp, method="pi").V  # the method named works
    assert np.all(np.isfinite(V))


def test_lp_failure_near_one_is_a_value_error(monkeypatch):
    import types

    import mdps.discounted as disc

    monkeypatch.setattr(disc, "linprog", lambda *a, **k: types.SimpleNamespace(status=4, x=None, message="boom"))
    mdp = mdps.TabularMDP(MDP2.P, MDP2.R, gamma=1.0 - 1e-8)
    with pytest.raises(ValueError, match=r"status 4 \(boom\).*method='pi'"):
        mdps.linear_programming(mdp)


HUGE = mdps.TabularMDP(mdps.garnet(4, 2, 2, gamma=0.9, rng=1).P,
                       np.random.default_rng(0).random((4, 2)) * 1e308, gamma=0.9)


@pytest.mark.parametrize("solve", [
    mdps.policy_iteration, mdps.value_iteration, mdps.modified_policy_iteration, mdps.linear_programming,
    lambda m: mdps.evaluate_policy(m, np.zeros(4, dtype=np.int64)),
    lambda m: mdps.policy_iteration(m.to_sparse()),
], ids=["pi", "vi", "mpi", "lp", "evaluate", "pi_sparse"])
def test_values_beyond_float64_raise_instead_of_inf(solve):
    """D7: PI returned inf on finite input (rewards near 1e308) with only a RuntimeWarning."""
    with pytest.raises(ValueError, match="exceed the float64 range"):
        solve(HUGE)


def test_large_but_representable_values_are_finite():
    mdp = mdps.TabularMDP(HUGE.P, HUGE.R * 1e-2, gamma=0.5)  # |V*| <= 2e306
    for sol in (mdps.policy_iteration(mdp), mdps.value_iteration(mdp, tol=1e293),
                mdps.linear_programming(mdp)):
        assert np.all(np.isfinite(sol.V)) and np.all(np.isfinite(sol.Q))


def test_sparse_mpi_evaluation_sweeps_are_one_compiled_call(monkeypatch):
    """D13: sparse MPI with m = 1e7 on 3 states made a Python call per sweep (> 30 s). The m - 1
    sweeps are now one compiled call: the per-sweep entry point is never reached."""
    import mdps._backup as backup

    mdp = mdps.garnet(3, 2, 2, gamma=0.9, rng=0).to_sparse()
    reference = mdps.modified_policy_iteration(mdp, m=40)

    def per_sweep(*a, **k):
        raise AssertionError("a Python call per evaluation sweep")

    monkeypatch.setattr(backup, "policy_backup", per_sweep)
    sol = mdps.modified_policy_iteration(mdp, m=40)
    np.testing.assert_array_equal(sol.V, reference.V)
    big = mdps.modified_policy_iteration(mdp, m=10**7)
    np.testing.assert_allclose(big.V, mdps.policy_iteration(mdp).V, rtol=0, atol=1e-8)


def test_pi_iteration_bound_is_public_and_overflow_safe():
    assert mdps.pi_iteration_bound(10, 2, 0.9) == 2 * 10 * 1 * (1 + math.ceil(math.log(10) / 0.1))
    assert mdps.pi_iteration_bound(5, 1, 0.99) == 0  # one action: nothing to change
    assert mdps.pi_iteration_bound(3, 2, 0.0) == 2 * 3 * 1 * 1
    extreme = mdps.pi_iteration_bound(10**6, 10**3, 1.0 - 2.0**-53)
    assert isinstance(extreme, int) and extreme > 10**26
    sol = mdps.policy_iteration(MDP2)
    assert sol.settings["iteration_bound"] == mdps.pi_iteration_bound(2, 2, 0.9)
    for args, exc in [((0, 2, 0.9), ValueError), ((2, 2, 1.0), ValueError), ((2, 2.0, 0.5), TypeError),
                      ((2, 2, float("nan")), ValueError)]:
        with pytest.raises(exc):
            mdps.pi_iteration_bound(*args)
