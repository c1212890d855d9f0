"""Family conformance suite for the planners (style habit 4; POT's (i)-(iii)).

One catalogue of instances with known answers -- every ``"discounted"`` entry of
:mod:`mdps.catalogue` (answers by hand, closed form or from the literature) plus random
instances whose ``V*`` is the HiGHS LP cross-checked against an outside convex solver (cvxpy
with Clarabel, an interior-point method) -- and every discounted solver on both the dense and
the sparse layout. Each must (i) reproduce the known ``V*`` and the known optimal policy,
(ii) agree with every other solver, and (iii) return a policy whose *exact* value (a linear
solve) is ``V*``. Adding a solver is adding one line to ``SOLVERS``; adding an instance is
adding an entry to the catalogue.

The average-reward planners get the same treatment on the catalogue's ``"average"`` entries
(``AVERAGE_SOLVERS``), including the documented refusals on a multichain model.
"""

import functools

import cvxpy as cp
import numpy as np
import pytest

import mdps
import mdps.catalogue as cat

ATOL = 1e-6  # the suite's agreement tolerance (solver tolerances are 1e-10; LPs ~1e-8)
CROSS_RTOL = 1e-6  # HiGHS vs Clarabel on the same LP: interior-point accuracy ~1e-8 relative


def random_instance(seed, S, A, gamma):
    """Random kernel with exact zeros (sparse support); V* from the LP, cross-checked by cvxpy."""
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) * (rng.random((S, A, S)) < 0.5)
    P[..., 0] += P.sum(-1) == 0  # no empty row
    P /= P.sum(-1, keepdims=True)
    mdp = mdps.TabularMDP(P, rng.random((S, A)), gamma=gamma)
    return mdp, cat.Answer(V=_cross_checked_lp_value(mdp))


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


INSTANCES = {
    **{e.name: (lambda e=e: (e.build(), e.answer)) for e in cat.entries("discounted")},
    "random_s0_5x2_g0.5": lambda: random_instance(0, 5, 2, 0.5),
    "random_s1_8x3_g0.9": lambda: random_instance(1, 8, 3, 0.9),
    "random_s2_6x4_g0.95": lambda: random_instance(2, 6, 4, 0.95),
    "random_s3_10x2_g0.99": lambda: random_instance(3, 10, 2, 0.99),
}

#: Every discounted planner, one line each.
SOLVERS = {
    "vi": lambda m: mdps.value_iteration(m, tol=1e-10),
    "vi_span": lambda m: mdps.value_iteration(m, tol=1e-10, stopping="span"),
    "pi": lambda m: mdps.policy_iteration(m),
    "mpi_1": lambda m: mdps.modified_policy_iteration(m, m=1, tol=1e-10),
    "mpi_5": lambda m: mdps.modified_policy_iteration(m, m=5, tol=1e-10),
    "mpi_50": lambda m: mdps.modified_policy_iteration(m, m=50, tol=1e-10),
    "mpi_5_span": lambda m: mdps.modified_policy_iteration(m, m=5, tol=1e-10, stopping="span"),
    "lp": lambda m: mdps.linear_programming(m),
    "lp_dual_simplex": lambda m: mdps.linear_programming(m, solver="highs-ds"),
    "lp_interior_point": lambda m: mdps.linear_programming(m, solver="highs-ipm"),
    "solve_default": lambda m: mdps.solve(m),
}


@functools.lru_cache(maxsize=None)
def instance(name, layout):
    mdp, answer = INSTANCES[name]()
    return (mdp.to_sparse() if layout == "sparse" else mdp), answer


@functools.lru_cache(maxsize=None)
def solution(name, layout, solver):
    return SOLVERS[solver](instance(name, layout)[0])


def _exact_value_of(mdp, answer):
    """The reference V*: the known one, else the exact value of the known optimal policy."""
    return answer.V if answer.V is not None else mdps.evaluate_policy(mdp, answer.policy)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize("name", INSTANCES)
def test_solver_reproduces_known_answer(name, layout, solver):
    mdp, answer = instance(name, layout)
    V_star = _exact_value_of(mdp, answer)
    sol = solution(name, layout, solver)
    assert sol.converged
    assert sol.V.shape == (mdp.n_states,) and sol.Q.shape == (mdp.n_states, mdp.n_actions)
    assert sol.policy.shape == (mdp.n_states,) and sol.policy.dtype.kind == "i"
    scale = max(1.0, np.abs(V_star).max())
    np.testing.assert_allclose(sol.V, V_star, rtol=0, atol=ATOL * scale)
    if answer.policy is not None:  # a unique optimum: every solver must find it
        np.testing.assert_array_equal(sol.policy, answer.policy)
    if answer.Q is not None:
        np.testing.assert_allclose(sol.Q, answer.Q, rtol=0, atol=ATOL * scale)
    # the returned policy is optimal: its exact value is V*
    np.testing.assert_allclose(mdps.evaluate_policy(mdp, sol.policy), V_star, rtol=0, atol=ATOL * scale)
    # the returned Q is consistent with the returned V
    np.testing.assert_allclose(sol.Q, mdps.q_values(mdp, sol.V), rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("name", INSTANCES)
def test_all_solvers_and_layouts_agree(name):
    values = {(layout, s): solution(name, layout, s).V for layout in ("dense", "sparse") for s in SOLVERS}
    ref = values[("dense", "pi")]
    scale = max(1.0, np.abs(ref).max())
    for key, V in values.items():
        np.testing.assert_allclose(V, ref, rtol=0, atol=ATOL * scale, err_msg=str(key))
    # exact solvers agree across layouts far more tightly than the suite tolerance
    np.testing.assert_allclose(values[("sparse", "pi")], ref, rtol=0, atol=1e-10 * scale)


# -- average reward -----------------------------------------------------------------------------
#: Every average-reward planner, one line each: the optimal gain it reports (scalar or per state).
AVERAGE_SOLVERS = {
    "rvi": lambda m: mdps.relative_value_iteration(m, tol=1e-11).gain,
    "rvi_tau_0.9": lambda m: mdps.relative_value_iteration(m, tol=1e-11, tau=0.9).gain,
    "lp": lambda m: mdps.average_reward_lp(m).gain,
    "multichain_gain": lambda m: mdps.multichain_gain(m),
    "solve_default": lambda m: mdps.solve(m).gain,
}
#: Documented refusals: (solver, entry) pairs outside the solver's assumptions.
REFUSED = {("rvi", "three_absorbing"), ("rvi_tau_0.9", "three_absorbing"), ("lp", "three_absorbing"),
           ("solve_default", "three_absorbing")}


@pytest.mark.parametrize("solver", AVERAGE_SOLVERS)
@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize("entry", [pytest.param(e, id=e.name) for e in cat.entries("average")])
def test_average_solver_reproduces_known_gain(entry, layout, solver):
    mdp = entry.build()
    mdp = mdp.to_sparse() if layout == "sparse" else mdp
    if (solver, entry.name) in REFUSED:
        with pytest.raises(ValueError, match="weakly communicating"):
            AVERAGE_SOLVERS[solver](mdp)
        return
    gain = AVERAGE_SOLVERS[solver](mdp)
    np.testing.assert_allclose(np.broadcast_to(gain, (mdp.n_states,)),
                               np.broadcast_to(entry.answer.gain, (mdp.n_states,)), rtol=0, atol=1e-8)
