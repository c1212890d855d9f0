"""Average reward: RVI vs the gain LP, Odoni bracket, aperiodicity transform, span contraction,
discounted approximation, gain/bias of a fixed policy (Puterman 1994, ch. 8-9; Odoni 1969)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
import mdps.catalogue as cat
from mdps.average_reward import is_communicating, recurrent_classes
from tests.strategies import stochastic_policy, unichain_average_mdp

#: RVI stops when sp(T u - u) < tol, so |g_k - g*| < tol (Odoni); LP gain is an exact linear solve.
RVI_TOL = 1e-11
GAIN_ATOL = 1e-8


def random_unichain(seed, S=6, A=3):
    """Dense Dirichlet rows: full support, hence every policy irreducible and aperiodic."""
    rng = np.random.default_rng(seed)
    return mdps.TabularMDP(rng.dirichlet(np.ones(S), size=(S, A)), rng.random((S, A)))


INSTANCES = [pytest.param(lambda s=s: random_unichain(s), id=f"dirichlet{s}") for s in range(4)] + [
    pytest.param(lambda: random_unichain(10, S=12, A=4), id="dirichlet12x4"),
    pytest.param(lambda: cat.river_swim_average(6), id="riverswim6"),
    pytest.param(lambda: cat.river_swim_average(10), id="riverswim10"),
]


def optimality_residual(mdp, gain, bias):
    """sup_s |max_a (R + P u)(s) - g - u(s)|."""
    return np.abs((mdp.R + np.asarray(mdp.P) @ bias).max(axis=1) - gain - bias).max()


@pytest.mark.parametrize("make", INSTANCES)
@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_rvi_gain_equals_lp_gain(make, tau):
    mdp = make()
    lp = mdps.average_reward_lp(mdp)
    rvi = mdps.relative_value_iteration(mdp, tol=RVI_TOL, tau=tau, gain_star=lp.gain)
    assert rvi.converged and rvi.method == "rvi" and lp.method == "lp"
    assert abs(rvi.gain - lp.gain) < GAIN_ATOL
    assert abs(lp.settings["lp_objective"] - lp.gain) < 1e-7
    # both solve the optimality equation; the bias is unique up to a constant (unichain)
    assert optimality_residual(mdp, lp.gain, lp.bias) < 1e-9
    assert optimality_residual(mdp, rvi.gain, rvi.bias) < 1e-8
    np.testing.assert_allclose(rvi.bias - rvi.bias[0], lp.bias - lp.bias[0], atol=1e-7)
    assert rvi.bias[0] == 0.0
    # normalisations: LP bias is the Cesaro bias of its policy (mu @ u = 0)
    gb = mdps.gain_bias(mdp, lp.policy)
    np.testing.assert_allclose(gb.stationary @ lp.bias, 0.0, atol=1e-12)
    # the greedy RVI policy is gain optimal
    assert abs(mdps.gain_bias(mdp, rvi.policy).gain - lp.gain) < GAIN_ATOL
    np.testing.assert_allclose(rvi.Q, mdp.R + np.asarray(mdp.P) @ rvi.bias - rvi.gain, atol=1e-14)
    # errors / traces: one entry per sweep, original scale
    n = rvi.n_iter
    for arr in (rvi.errors, rvi.residuals, rvi.trace["gain"], rvi.trace["gain_lower"], rvi.trace["gain_upper"]):
        assert arr.shape == (n,)
    np.testing.assert_allclose(rvi.errors, np.abs(rvi.trace["gain"] - lp.gain), atol=0)
    np.testing.assert_allclose(rvi.residuals, tau * (rvi.trace["gain_upper"] - rvi.trace["gain_lower"]),
                               rtol=1e-12, atol=1e-15)
    assert rvi.residuals[-1] < RVI_TOL * tau


@pytest.mark.parametrize("make", INSTANCES)
def test_odoni_bracket_contains_optimal_gain(make):
    mdp = make()
    g = mdps.average_reward_lp(mdp).gain
    for tau in (0.3, 1.0):
        rvi = mdps.relative_value_iteration(mdp, tol=RVI_TOL, tau=tau)
        lo, hi = rvi.trace["gain_lower"], rvi.trace["gain_upper"]
        assert np.all(lo <= g + 1e-12) and np.all(g <= hi + 1e-12)
        assert np.all(lo <= rvi.trace["gain"]) and np.all(rvi.trace["gain"] <= hi)
        # the greedy policy of the final iterate earns at least the lower bracket
        assert mdps.gain_bias(mdp, rvi.policy).gain >= lo[-1] - 1e-12


@pytest.mark.parametrize("make", INSTANCES)
def test_span_residual_contracts_at_dobrushin_rate(make):
    mdp = make()
    tau = 0.5
    coeff = mdps.span_contraction_coefficient(mdps.aperiodic_transform(mdp, tau))
    assert 0.0 <= coeff <= 1.0
    res = mdps.relative_value_iteration(mdp, tol=1e-13, tau=tau).residuals
    # sp(T~u_{k+1} - u_{k+1}) <= gamma' sp(T~u_k - u_k), above the round-off floor
    keep = res[:-1] > 1e-11
    ratios = res[1:][keep] / res[:-1][keep]
    assert ratios.size > 0
    assert np.all(ratios <= coeff + 1e-9)


@pytest.mark.parametrize("make", INSTANCES)
@pytest.mark.parametrize("tau", [0.25, 0.7])
def test_aperiodic_transform_scales_gain_keeps_policy_and_bias(make, tau):
    mdp = make()
    tr = mdps.aperiodic_transform(mdp, tau)
    sol, sol_t = mdps.average_reward_lp(mdp), mdps.average_reward_lp(tr)
    assert abs(sol_t.gain - tau * sol.gain) < 1e-10
    # the original optimal policy is optimal for the transformed MDP and vice versa
    assert abs(mdps.gain_bias(tr, sol.policy).gain - sol_t.gain) < 1e-10
    assert abs(mdps.gain_bias(mdp, sol_t.policy).gain - sol.gain) < 1e-10
    # the bias of a fixed policy is unchanged (same stationary distribution, no tau factor)
    gb, gb_t = mdps.gain_bias(mdp, sol.policy), mdps.gain_bias(tr, sol.policy)
    np.testing.assert_allclose(gb_t.bias, gb.bias, atol=1e-10)
    np.testing.assert_allclose(gb_t.stationary, gb.stationary, atol=1e-12)


def test_aperiodic_transform_arrays():
    mdp = random_unichain(0, S=4, A=2)
    tr = mdps.aperiodic_transform(mdp, 0.4)
    expected = 0.4 * np.asarray(mdp.P) + 0.6 * np.eye(4)[:, None, :]
    np.testing.assert_allclose(np.asarray(tr.P), expected, atol=1e-15)
    np.testing.assert_allclose(tr.R, 0.4 * mdp.R)
    np.testing.assert_allclose(mdps.aperiodic_transform(mdp.to_sparse(), 0.4).to_dense().P, expected, atol=1e-15)
    np.testing.assert_array_equal(mdps.aperiodic_transform(mdp, 1.0).P, mdp.P)


def test_periodic_chain_needs_the_transform():
    swap = cat.periodic_swap()
    with pytest.warns(mdps.ConvergenceWarning, match=r"did not converge in max_iter=200.*bracket \[0, 1\]"):
        plain = mdps.relative_value_iteration(swap, tau=1.0, max_iter=200)
    assert not plain.converged and plain.n_iter == 200
    np.testing.assert_allclose(plain.residuals, 1.0)  # sp(Tu - u) cycles, never contracts
    damped = mdps.relative_value_iteration(swap, tau=0.5)
    assert damped.converged and abs(damped.gain - 0.5) < 1e-10
    np.testing.assert_allclose(damped.bias, [0.0, -0.5], atol=1e-10)


@pytest.mark.parametrize("make", INSTANCES[:3] + INSTANCES[-2:])
@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_discounted_approximation_bound(make, gamma):
    mdp = make()
    sol = mdps.average_reward_lp(mdp)
    P, R = np.asarray(mdp.P), mdp.R
    V = np.zeros(mdp.n_states)
    for _ in range(200_000):  # plain VI to 1e-12 (a posteriori bound gamma/(1-gamma) * step)
        V_new = (R + gamma * P @ V).max(axis=1)
        step = np.abs(V_new - V).max()
        V = V_new
        if step * gamma / (1 - gamma) < 1e-12:
            break
    bound = (1 - gamma) * (sol.bias.max() - sol.bias.min())
    assert np.all(np.abs((1 - gamma) * V - sol.gain) <= bound + 1e-11)


def test_rvi_sparse_equals_dense_and_exact_errors():
    mdp = random_unichain(5, S=8, A=3)
    d = mdps.relative_value_iteration(mdp, tol=RVI_TOL, gain_star="exact")
    s = mdps.relative_value_iteration(mdp.to_sparse(), tol=RVI_TOL, gain_star="exact")
    assert abs(d.gain - s.gain) < 1e-12
    np.testing.assert_allclose(s.bias, d.bias, atol=1e-10)
    np.testing.assert_array_equal(s.policy, d.policy)
    assert d.errors.shape == (d.n_iter,) and d.errors[-1] < RVI_TOL
    lp_s = mdps.average_reward_lp(mdp.to_sparse())
    assert abs(lp_s.gain - d.gain) < GAIN_ATOL
    assert mdps.relative_value_iteration(mdp).errors.size == 0


def test_s_ref_normalisation():
    mdp = random_unichain(6, S=5, A=2)
    a = mdps.relative_value_iteration(mdp, tol=RVI_TOL, s_ref=0)
    b = mdps.relative_value_iteration(mdp, tol=RVI_TOL, s_ref=3)
    assert b.bias[3] == 0.0 and abs(a.gain - b.gain) < 1e-9
    np.testing.assert_allclose(b.bias, a.bias - a.bias[3], atol=1e-8)


def test_weakly_communicating_multichain_model():
    """Communicating but not unichain: 'stay' in both states gives two recurrent classes."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0     # action 0: stay
    P[0, 1, 1] = P[1, 1, 0] = 1.0     # action 1: switch
    R = np.array([[0.5, 0.0], [1.0, 0.0]])
    mdp = mdps.TabularMDP(P, R)
    assert is_communicating(mdp)
    lp = mdps.average_reward_lp(mdp)
    assert abs(lp.gain - 1.0) < 1e-12
    np.testing.assert_array_equal(lp.policy, [1, 0])
    np.testing.assert_allclose(lp.bias, [-1.0, 0.0], atol=1e-12)
    assert optimality_residual(mdp, lp.gain, lp.bias) < 1e-12
    rvi = mdps.relative_value_iteration(mdp, tol=RVI_TOL)
    assert rvi.converged and abs(rvi.gain - 1.0) < 1e-10
    with pytest.raises(ValueError, match=r"pi is not unichain.*2 recurrent classes"):
        mdps.gain_bias(mdp, np.array([0, 0]))


def test_not_weakly_communicating_is_reported():
    P = np.zeros((2, 1, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0
    mdp = mdps.TabularMDP(P, np.array([[0.0], [1.0]]))
    assert not is_communicating(mdp)
    with pytest.raises(ValueError, match="not weakly communicating"):
        mdps.average_reward_lp(mdp)


# -- gain and bias of a fixed policy ------------------------------------------------------------
@settings(max_examples=40)
@given(unichain_average_mdp(), st.data())
def test_gain_bias_solves_poisson_equation(mdp, data):
    S, A = mdp.n_states, mdp.n_actions
    pi = data.draw(stochastic_policy(S, A))
    gb = mdps.gain_bias(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, np.asarray(mdp.P))
    r_pi = (pi * mdp.R).sum(axis=1)
    np.testing.assert_allclose(gb.gain + gb.bias, r_pi + P_pi @ gb.bias, atol=1e-10)
    np.testing.assert_allclose(gb.stationary @ P_pi, gb.stationary, atol=1e-12)
    assert abs(gb.stationary @ gb.bias) < 1e-10
    assert abs(gb.gain - gb.stationary @ r_pi) < 1e-14
    sigma = np.array(data.draw(st.lists(st.integers(0, A - 1), min_size=S, max_size=S)))
    a, b = mdps.gain_bias(mdp, sigma), mdps.gain_bias(mdp, np.eye(A)[sigma])
    assert abs(a.gain - b.gain) < 1e-14
    np.testing.assert_allclose(a.bias, b.bias, atol=1e-12)


def test_gain_bias_closed_form_and_frozen():
    swap = cat.get("periodic_swap")
    gb = mdps.gain_bias(swap.build(), np.zeros(2, dtype=int))
    assert gb.gain == swap.answer.gain
    np.testing.assert_allclose(gb.bias, swap.answer.bias)
    with pytest.raises(ValueError):
        gb.bias[0] = 1.0


def test_two_recurrent_class_policy_raises_naming_pi():
    P = np.zeros((3, 2, 3))
    P[0, :, 0] = 1.0
    P[2, :, 2] = 1.0
    P[1, 0] = [0.5, 0.0, 0.5]
    P[1, 1] = [0.0, 1.0, 0.0]
    mdp = mdps.TabularMDP(P, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"pi is not unichain.*\[0\], \[2\]"):
        mdps.gain_bias(mdp, np.array([0, 0, 0]))
    assert [c.tolist() for c in recurrent_classes(P[:, 0, :])] == [[0], [2]]


# -- span contraction coefficient ---------------------------------------------------------------
def test_span_contraction_coefficient_brute_force():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.full(4, 0.5), size=(4, 3))
    P2 = P.reshape(12, 4)
    brute = 1 - min(np.minimum(P2[i], P2[j]).sum() for i in range(12) for j in range(12))
    mdp = mdps.TabularMDP(P, rng.random((4, 3)))
    assert abs(mdps.span_contraction_coefficient(mdp) - brute) < 1e-15
    assert abs(mdps.span_contraction_coefficient(mdp.to_sparse()) - brute) < 1e-15
    same = mdps.TabularMDP(np.broadcast_to(P[0, 0], (4, 3, 4)).copy(), np.zeros((4, 3)))
    assert mdps.span_contraction_coefficient(same) < 1e-15


@settings(max_examples=25)
@given(unichain_average_mdp(), st.data())
def test_span_contraction_inequality(mdp, data):
    S = mdp.n_states
    u = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=S, max_size=S)))
    v = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=S, max_size=S)))
    P, R = np.asarray(mdp.P), mdp.R
    T = lambda w: (R + P @ w).max(axis=1)  # noqa: E731
    coeff = mdps.span_contraction_coefficient(mdp)
    d = T(u) - T(v)
    assert d.max() - d.min() <= coeff * (np.ptp(u - v)) + 1e-9


# -- bad inputs ---------------------------------------------------------------------------------
def test_wrong_criterion_suggests_with_criterion():
    disc = random_unichain(0).with_criterion(gamma=0.9)
    for f in (mdps.relative_value_iteration, mdps.average_reward_lp, mdps.span_contraction_coefficient,
              mdps.aperiodic_transform, is_communicating):
        with pytest.raises(ValueError, match=r"average-reward.*with_criterion"):
            f(disc)
    with pytest.raises(ValueError, match=r"criterion='finite_horizon'"):
        mdps.gain_bias(random_unichain(0).with_criterion(horizon=3), np.zeros(6, dtype=int))


@pytest.mark.parametrize("kwargs,exc,pattern", [
    ({"tau": 0.0}, ValueError, r"tau must be a finite number in \(0, 1\], got 0.0"),
    ({"tau": 1.5}, ValueError, r"tau must be a finite number in \(0, 1\], got 1.5"),
    ({"tau": "half"}, TypeError, r"tau must be a finite real number"),
    ({"tol": 0.0}, ValueError, r"tol must be finite and > 0, got 0.0"),
    ({"max_iter": 0}, ValueError, r"max_iter must be >= 1, got 0"),
    ({"s_ref": 6}, ValueError, r"s_ref must be <= 5, got 6"),
    ({"s_ref": 1.0}, TypeError, r"s_ref must be an integer"),
    ({"gain_star": "best"}, ValueError, r"gain_star must be None, a float or 'exact'"),
    ({"gain_star": float("nan")}, ValueError, r"gain_star"),
])
def test_rvi_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mdps.relative_value_iteration(random_unichain(0), **kwargs)


def test_bad_policy_and_tau_in_transform():
    mdp = random_unichain(0)
    with pytest.raises(ValueError, match=r"pi\[2\] is 3, expected an action in \[0, 2\]"):
        mdps.gain_bias(mdp, np.array([0, 0, 3, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"pi\[0, :\] sums to"):
        mdps.gain_bias(mdp, np.full((6, 3), 0.5))
    with pytest.raises(ValueError, match=r"tau must be a finite number in \(0, 1\]"):
        mdps.aperiodic_transform(mdp, -0.1)


# -- hostile review D11: multichain models, RVI's silent non-convergence ----------------------------
def three_absorbing():
    entry = cat.get("three_absorbing")  # g* = (1, 2, 3, 3) by hand
    return entry.build(), entry.answer.gain


def test_rvi_refuses_multichain_models_and_names_the_method_that_works():
    """D11: solve(method="rvi") returned gain 1.0 (true 1, 2, 3) with converged=False, no warning."""
    mdp, g_star = three_absorbing()
    for m in (mdp, mdp.to_sparse()):
        with pytest.raises(ValueError, match=r"multichain: 3 sets of states.*\[0\], \[1\], \[2\].*multichain_gain"):
            mdps.solve(m, method="rvi")
        np.testing.assert_allclose(mdps.multichain_gain(m), g_star, atol=1e-9)


def test_rvi_warns_whenever_it_does_not_converge():
    mdp = random_unichain(0)
    with pytest.warns(mdps.ConvergenceWarning, match="did not converge in max_iter=2"):
        sol = mdps.relative_value_iteration(mdp, max_iter=2)
    assert not sol.converged
    # one closed set, but a state that can stay apart forever with a better reward: not weakly
    # communicating, g* = (2, 1) is not constant, and RVI cannot converge (span stays 1)
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    mdp = mdps.TabularMDP(P, np.array([[2.0, 0.0], [1.0, 1.0]]))
    with pytest.warns(mdps.ConvergenceWarning):
        assert not mdps.relative_value_iteration(mdp, max_iter=500).converged
    np.testing.assert_allclose(mdps.multichain_gain(mdp), [2.0, 1.0], atol=1e-9)


@pytest.mark.parametrize("make", INSTANCES)
def test_multichain_gain_is_constant_lp_gain_on_weakly_communicating(make):
    mdp = make()
    np.testing.assert_allclose(mdps.multichain_gain(mdp), mdps.average_reward_lp(mdp).gain, atol=GAIN_ATOL)


@pytest.mark.parametrize("seed", range(3))
def test_multichain_gain_is_the_discounted_limit(seed):
    """Blackwell / Laurent: (1 - gamma) V*_gamma -> g* state by state, with error O(1 - gamma)."""
    rng = np.random.default_rng(seed)
    S, A = 7, 2
    P = rng.dirichlet(np.ones(3), size=(S, A))
    blocks = [[0, 1, 2], [3, 4], [5, 6]]  # three closed blocks, then 6 can jump to any of them
    full = np.zeros((S, A, S))
    for blk in blocks[:2]:
        for s in blk:
            full[s, :, blk] = rng.dirichlet(np.ones(len(blk)), size=A).T
    full[5, :, 5] = 1.0
    full[6, 0, [0, 3]] = [0.5, 0.5]
    full[6, 1, 5] = 1.0
    mdp = mdps.TabularMDP(full, rng.random((S, A)))
    g = mdps.multichain_gain(mdp)
    gamma = 1.0 - 1e-6
    V = mdps.policy_iteration(mdp.with_criterion(gamma=gamma)).V
    np.testing.assert_allclose((1.0 - gamma) * V, g, atol=1e-5)
    assert P.shape  # the Dirichlet draws above only seed the structure


def test_average_solvers_are_invariant_to_the_reward_scale():
    """D6 for the gain LP: HiGHS failed from |R| ~ 1e10 ("status 4"); it now sees R / 2**e."""
    mdp = random_unichain(2)
    g = mdps.average_reward_lp(mdp).gain
    for scale in (1e10, 1e20, 1e300):
        big = mdps.TabularMDP(mdp.P, mdp.R * scale)
        np.testing.assert_allclose(mdps.average_reward_lp(big).gain, g * scale, rtol=1e-9)
        np.testing.assert_allclose(mdps.multichain_gain(big), g * scale, rtol=1e-7)


def test_rvi_overflow_is_an_error_not_nan():
    """sp(T u - u) = 3.4e308 overflows: before, NaN spans ran to max_iter and returned NaN."""
    swap = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    mdp = mdps.TabularMDP(swap, np.array([[1.7e308], [-1.7e308]]))
    with pytest.raises(ValueError, match="float64 range"):
        mdps.relative_value_iteration(mdp)
    same_gain = mdps.TabularMDP(random_unichain(0).P, np.full((6, 3), 1e308))  # finite: g* = 1e308
    assert mdps.relative_value_iteration(same_gain).gain == 1e308


def test_rvi_kept_iterates_reproduce_its_traces():
    mdp = random_unichain(3)
    plain = mdps.relative_value_iteration(mdp, tol=1e-10)
    kept = mdps.relative_value_iteration(mdp, tol=1e-10, keep_iterates=True)
    U = kept.trace["iterates"]
    assert U.shape == (kept.n_iter, mdp.n_states) and "iterates" not in plain.trace
    np.testing.assert_array_equal(U[-1], kept.bias)
    np.testing.assert_array_equal(kept.bias, plain.bias)
    diffs = np.array([(mdp.R + np.asarray(mdp.P) @ u).max(axis=1) - u for u in U])  # T u_k - u_k
    np.testing.assert_allclose(diffs.min(axis=1), kept.trace["gain_lower"], atol=1e-12)
    np.testing.assert_allclose(diffs.max(axis=1), kept.trace["gain_upper"], atol=1e-12)
    with pytest.raises(TypeError, match="keep_iterates must be a bool"):
        mdps.relative_value_iteration(mdp, keep_iterates=1)
