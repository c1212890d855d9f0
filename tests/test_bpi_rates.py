"""The helpers of the ``bpi.epsilon_rate`` check: the graded-gap instance, exact regularised
evaluation, the oracle time and the log-factor tolerance (exact facts, properties, bad input)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
import mdps
from algorithms import exploration
from proofs_checks.exploration import bpi_rates as br
from proofs_checks.exploration.demo_bpi import exact_values


# ------------------------------------------------------------------------------ the instance
def test_instance_values_are_the_arm_probabilities():
    mdp = br.instance()
    A = mdp.n_actions
    assert A == br.GAPS.size + 1
    sol = mdps.backward_induction(mdp)
    assert float(mdp.rho @ sol.V[0]) == pytest.approx(br.P_BEST, abs=1e-15)
    # the deterministic policy playing arm a at the start has value p_a = p_best - gap
    for a in range(A):
        pol = np.zeros((mdp.horizon, mdp.n_states, A))
        pol[:, :, a] = 1.0
        gap = 0.0 if a == 0 else br.GAPS[a - 1]
        assert float(exact_values(mdp, pol)) == pytest.approx(br.P_BEST - gap, abs=1e-15)


@pytest.mark.parametrize("gaps, p_best, match", [([], 0.6, "gaps"), ([0.0, 0.1], 0.6, "gaps"),
                                                 ([0.7], 0.6, "gaps"), ([0.1], 1.5, "p_best")])
def test_instance_rejects_bad_gaps(gaps, p_best, match):
    with pytest.raises(ValueError, match=match):
        br.instance(gaps, p_best)


# --------------------------------------------------------------------- exact regularised values
def test_reg_values_without_lambda_are_the_values():
    mdp = br.instance()
    pol = mdps.softmax(np.random.default_rng(0).normal(size=(7, mdp.horizon, mdp.n_states, mdp.n_actions)), axis=-1)
    ref = np.full(pol.shape[1:], 1.0 / mdp.n_actions)
    np.testing.assert_allclose(br.exact_reg_values(mdp, pol, ref, 0.0), exact_values(mdp, pol), atol=1e-14)


def test_reg_value_of_the_regularised_optimum_is_its_value():
    mdp = br.instance()
    ref = br.reference()
    for lam in (0.03, br.LAM, 1.0):
        opt = exploration.kl_regularized_optimum(mdp, ref, lam)
        assert float(br.exact_reg_values(mdp, opt.policy, ref, lam)) == pytest.approx(opt.value, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lam=st.floats(1e-3, 10.0))
def test_reg_values_equal_value_minus_lambda_trajectory_kl(seed, lam):
    gen = np.random.default_rng(seed)
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=seed)
    pol = mdps.softmax(gen.normal(size=(3, 3, 2)), axis=-1)
    ref = mdps.softmax(gen.normal(size=(3, 3, 2)), axis=-1)
    expected = float(exact_values(mdp, pol)) - lam * mdps.trajectory_kl(mdp, pol, ref)
    assert float(br.exact_reg_values(mdp, pol, ref, lam)) == pytest.approx(expected, abs=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lam=st.floats(1e-2, 5.0))
def test_no_policy_beats_the_regularised_optimum(seed, lam):
    mdp = br.instance()
    ref = br.reference()
    pol = mdps.softmax(np.random.default_rng(seed).normal(size=(5, 2, 3, mdp.n_actions)) * 3, axis=-1)
    opt = exploration.kl_regularized_optimum(mdp, ref, lam).value
    assert np.all(br.exact_reg_values(mdp, pol, ref, lam) <= opt + 1e-12)


def test_reg_values_bad_input():
    mdp = br.instance()
    ref = np.full((2, 3, mdp.n_actions), 1.0 / mdp.n_actions)
    with pytest.raises(ValueError, match="policies"):
        br.exact_reg_values(mdp, np.ones((2, 3, 2)), ref, 0.1)
    with pytest.raises(ValueError, match="lam"):
        br.exact_reg_values(mdp, ref, ref, -0.1)


# ----------------------------------------------------------------------------- the oracle time
def test_oracle_times_closed_form():
    ck = np.array([0, 9, 99, 999])
    gaps = np.array([0.5, 0.2, 0.05, 0.01])
    # eps = 0.3: every kept policy from episode 10 on; 0.1: from 100; 0.02: from 1000; 0.001: censored
    T = br.oracle_times(gaps, ck, [0.001, 0.02, 0.1, 0.3, 0.6], 1000)
    assert T.tolist() == [1001, 1000, 100, 10, 1]


def test_oracle_time_is_sustained_not_first_hit():
    ck = np.array([0, 1, 2, 3])
    T = br.oracle_times(np.array([0.5, 0.01, 0.5, 0.01]), ck, [0.1], 4)
    assert T.tolist() == [4]


@settings(max_examples=50, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
       eps=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=8))
def test_oracle_time_is_non_increasing_in_eps(gaps, eps):
    ck = np.arange(len(gaps)) * 3
    K = int(ck[-1]) + 1
    e = np.sort(np.asarray(eps))
    T = br.oracle_times(np.asarray(gaps), ck, e, K)
    assert np.all(np.diff(T) <= 0)
    assert np.all((T >= 1) & (T <= K + 1))


@pytest.mark.parametrize("eps, K, match", [([0.0], 10, "eps_grid"), ([-0.1], 10, "eps_grid"), ([], 10, "eps_grid"),
                                           ([0.1], 0, "n_episodes")])
def test_oracle_times_bad_input(eps, K, match):
    with pytest.raises(ValueError, match=match):
        br.oracle_times(np.array([0.1]), np.array([0]), eps, K)


# ------------------------------------------------------------------------- the log-factor slope
def test_log_factor_slope_two_points_closed_form():
    e1, e2 = 0.01, 0.1
    expected = (np.log(np.log(1 / e1)) - np.log(np.log(1 / e2))) / (np.log(e2) - np.log(e1))
    assert br.log_factor_slope([e1, e2]) == pytest.approx(expected, rel=1e-12)


def test_log_factor_slope_matches_a_fit_of_the_bound():
    eps = br.eps_grid("unregularized", False)
    bound = eps ** -2.0 * np.log(1.0 / eps)
    fit = labkit.fit_power_law(eps, bound, tail_decades=3.0)
    assert fit.estimate == pytest.approx(-2.0 - br.log_factor_slope(eps), abs=1e-12)


@pytest.mark.parametrize("eps", [[0.1], [0.0, 0.1], [0.5, 1.0]])
def test_log_factor_slope_bad_input(eps):
    with pytest.raises(ValueError, match="eps"):
        br.log_factor_slope(eps)


# ------------------------------------------------------------------------- the median power fit
def test_median_power_fit_is_exact_on_a_power_law_and_ignores_a_heavy_tail():
    x = np.geomspace(1, 100, 6)
    Y = np.tile(3.0 * x ** -1.5, (9, 1))
    Y[:3] *= 50.0  # a third of the seeds in a heavy upper tail: the median is untouched
    fit = labkit.fit_power_law(x, Y, tail_decades=2.0, center="median")
    assert fit.estimate == pytest.approx(-1.5, abs=1e-12)
    assert fit.ci_low == pytest.approx(-1.5, abs=1e-12) and fit.ci_high == pytest.approx(-1.5, abs=1e-12)


def test_power_fit_rejects_an_unknown_center():
    with pytest.raises(ValueError, match="center"):
        labkit.fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], center="mode")
