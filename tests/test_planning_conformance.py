"""Family conformance suite for the discounted planners (style habit 4; POT's (i)-(iii)).

One catalogue of small instances with known optimal values, and every discounted solver --
value iteration, policy iteration, modified PI with m in {1, 5, 50}, the LP -- on both the dense
and the sparse layout must (i) reproduce the known V* to 1e-6, (ii) agree with every other
solver, and (iii) return a policy whose *exact* value (a linear solve) is V* to 1e-6.

Known answers come from: a hand derivation (stated in each builder's docstring), a closed
form, or -- for random instances -- the HiGHS LP cross-checked against an independent convex
solver (cvxpy with Clarabel, an interior-point method) on the same primal LP.
"""

import functools

import cvxpy as cp
import numpy as np
import pytest

import mdps
from tests.test_discounted import deterministic_two_state, puterman_two_state

ATOL = 1e-6  # the suite's agreement tolerance (solver tolerances are 1e-10; LPs ~1e-8)
CROSS_RTOL = 1e-6  # HiGHS vs Clarabel on the same LP: interior-point accuracy ~1e-8 relative


def tight_instance(gamma=0.9):
    """One state, one action, R = 1: V* = 1/(1 - gamma) (theory note A.1's tight VI instance)."""
    mdp = mdps.TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), gamma=gamma)
    return mdp, np.array([1.0 / (1.0 - gamma)])


def chain(S=5, gamma=0.8):
    """Deterministic chain, actions 0 = left, 1 = right, reward 1 only for 'right' in the last
    state (which stays put). The best plan walks right, so V*(s) = gamma^(S-1-s) / (1 - gamma):
    the reward stream is S-1-s zeros then ones forever."""
    P = np.zeros((S, 2, S))
    for s in range(S):
        P[s, 0, max(s - 1, 0)] = 1.0
        P[s, 1, min(s + 1, S - 1)] = 1.0
    R = np.zeros((S, 2))
    R[S - 1, 1] = 1.0
    return mdps.TabularMDP(P, R, gamma=gamma), gamma ** (S - 1 - np.arange(S)) / (1 - gamma)


def myopic(gamma=0.0):
    """gamma = 0: V* = max_a R(s, a) (the future does not count)."""
    rng = np.random.default_rng(7)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    R = rng.random((3, 2))
    return mdps.TabularMDP(P, R, gamma=gamma), R.max(axis=1)


def random_instance(seed, S, A, gamma):
    """Random kernel with exact zeros (sparse support); V* from the LP, cross-checked by cvxpy."""
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) * (rng.random((S, A, S)) < 0.5)
    P[..., 0] += P.sum(-1) == 0  # no empty row
    P /= P.sum(-1, keepdims=True)
    mdp = mdps.TabularMDP(P, rng.random((S, A)), gamma=gamma)
    return mdp, _cross_checked_lp_value(mdp)


def _cross_checked_lp_value(mdp):
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    V = cp.Variable(S)
    P2 = mdp.P.reshape(S * A, S)
    lhs = cp.reshape(cp.vstack([V] * A).T, (S * A,), order="C")  # V(s) repeated for each a
    prob = cp.Problem(cp.Minimize(mdp.rho @ V), [lhs >= mdp.R.ravel() + g * (P2 @ V)])
    prob.solve(solver=cp.CLARABEL)
    assert prob.status == cp.OPTIMAL, prob.status
    lp = mdps.linear_programming(mdp).V
    scale = max(1.0, np.abs(lp).max())
    assert np.abs(lp - V.value).max() <= CROSS_RTOL * scale, "HiGHS and Clarabel disagree"
    return lp


CATALOGUE = {
    "deterministic_two_state": lambda: deterministic_two_state()[:2],
    "puterman_two_state": lambda: puterman_two_state()[:2],
    "tight_0.9": lambda: tight_instance(0.9),
    "tight_0.99": lambda: tight_instance(0.99),
    "chain_5": lambda: chain(5, 0.8),
    "myopic_gamma0": myopic,
    "random_s0_5x2_g0.5": lambda: random_instance(0, 5, 2, 0.5),
    "random_s1_8x3_g0.9": lambda: random_instance(1, 8, 3, 0.9),
    "random_s2_6x4_g0.95": lambda: random_instance(2, 6, 4, 0.95),
    "random_s3_10x2_g0.99": lambda: random_instance(3, 10, 2, 0.99),
}

SOLVERS = {
    "vi": lambda m: mdps.value_iteration(m, tol=1e-10),
    "pi": lambda m: mdps.policy_iteration(m),
    "mpi_1": lambda m: mdps.modified_policy_iteration(m, m=1, tol=1e-10),
    "mpi_5": lambda m: mdps.modified_policy_iteration(m, m=5, tol=1e-10),
    "mpi_50": lambda m: mdps.modified_policy_iteration(m, m=50, tol=1e-10),
    "lp": lambda m: mdps.linear_programming(m),
}


@functools.lru_cache(maxsize=None)
def instance(name, layout):
    mdp, V_star = CATALOGUE[name]()
    return (mdp.to_sparse() if layout == "sparse" else mdp), V_star


@functools.lru_cache(maxsize=None)
def solution(name, layout, solver):
    return SOLVERS[solver](instance(name, layout)[0])


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize("name", CATALOGUE)
def test_solver_reproduces_known_value(name, layout, solver):
    mdp, V_star = instance(name, layout)
    sol = solution(name, layout, solver)
    assert sol.converged
    assert sol.V.shape == (mdp.n_states,) and sol.Q.shape == (mdp.n_states, mdp.n_actions)
    assert sol.policy.shape == (mdp.n_states,) and sol.policy.dtype.kind == "i"
    np.testing.assert_allclose(sol.V, V_star, rtol=0, atol=ATOL)
    # the returned policy is optimal: its exact value is V*
    np.testing.assert_allclose(mdps.evaluate_policy(mdp, sol.policy), V_star, rtol=0, atol=ATOL)
    # the returned Q is consistent with the returned V
    np.testing.assert_allclose(sol.Q, mdps.q_values(mdp, sol.V), rtol=0, atol=1e-12 * max(1, np.abs(V_star).max()))


@pytest.mark.parametrize("name", CATALOGUE)
def test_all_solvers_and_layouts_agree(name):
    values = {(layout, s): solution(name, layout, s).V for layout in ("dense", "sparse") for s in SOLVERS}
    ref = values[("dense", "pi")]
    for key, V in values.items():
        np.testing.assert_allclose(V, ref, rtol=0, atol=ATOL, err_msg=str(key))
    # exact solvers agree across layouts far more tightly than the suite tolerance
    np.testing.assert_allclose(values[("sparse", "pi")], ref, rtol=0, atol=1e-10)
