"""UCRL2, the span-bounded agent, extended value iteration and the exact diameter."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import average_reward as ar
from proofs_checks.average_reward.ucrl import rare_state


def _garnet(seed, S=5, A=2, b=3):
    return mdps.garnet(S, A, b, rng=seed)


# -- diameter ---------------------------------------------------------------------------------------
def test_diameter_closed_forms():
    P = np.array([[[0.0, 1.0]], [[0.5, 0.5]]])
    assert mdps.diameter(mdps.TabularMDP(P, np.zeros((2, 1)))) == pytest.approx(2.0, abs=1e-12)
    for eps in (0.5, 0.1, 0.01):
        assert mdps.diameter(rare_state(eps)) == pytest.approx(1.0 / eps, rel=1e-12)
    assert mdps.diameter(mdps.jao(0.1, 0.05)) == pytest.approx(10.0, rel=1e-12)


def test_diameter_infinite_when_not_communicating():
    P = np.zeros((2, 1, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0
    assert math.isinf(mdps.diameter(mdps.TabularMDP(P, np.zeros((2, 1)))))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 6), st.integers(1, 3))
def test_bias_span_at_most_diameter(seed, S, A):
    """Bartlett & Tewari (2009): sp(u*) <= D with rewards in [0, 1]."""
    mdp = _garnet(seed, S, A, min(S, 2))
    if not mdps.is_communicating(mdp):
        return
    D = mdps.diameter(mdp)
    assert np.ptp(mdps.average_reward_lp(mdp).bias) <= D * 1.0 + 1e-9
    # the hitting times are the exact SSP fixed point: D >= 1 whenever S >= 2
    assert D >= 1.0 - 1e-12


# -- extended value iteration ---------------------------------------------------------------------
def _inside_set(mdp, rng, radius):
    """An empirical model whose L1 ball of ``radius`` contains the true kernel, and r_tilde >= R."""
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.to_dense().P
    noise = rng.dirichlet(np.ones(S), size=(S, A))
    lam = rng.uniform(0.0, 0.5, size=(S, A, 1)) * np.minimum(1.0, radius / 2.0)
    P_hat = (1.0 - lam) * P + lam * noise  # |P_hat - P|_1 <= 2 lam <= radius
    r_tilde = np.minimum(1.0, mdp.R + rng.uniform(0.0, 0.2, size=(S, A)))
    return P_hat, r_tilde


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.6))
def test_evi_is_optimistic_when_the_true_model_is_in_the_set(seed, radius):
    mdp = _garnet(seed)
    if not mdps.is_communicating(mdp):
        return
    g_star = mdps.average_reward_lp(mdp).gain
    P_hat, r_tilde = _inside_set(mdp, np.random.default_rng(seed), radius)
    for tau in (1.0, 0.5):
        res = ar.extended_value_iteration(P_hat, r_tilde, radius, eps=1e-8, tau=tau)
        assert res.converged
        assert res.gain_upper >= g_star - 1e-10
        assert res.gain_lower >= g_star - 1e-8 - 1e-10


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.6), st.floats(1.0, 3.0))
def test_span_bounded_evi_keeps_the_span_and_stays_optimistic(seed, radius, factor):
    mdp = _garnet(seed)
    if not mdps.is_communicating(mdp):
        return
    sol = mdps.average_reward_lp(mdp)
    c = factor * float(np.ptp(sol.bias)) + 1e-9
    P_hat, r_tilde = _inside_set(mdp, np.random.default_rng(seed + 1), radius)
    res = ar.extended_value_iteration(P_hat, r_tilde, radius, eps=1e-8, span=c, tau=0.5)
    assert res.converged
    assert np.ptp(res.u) <= c * (1 + 1e-12) + 1e-12
    assert res.gain_upper >= sol.gain - 1e-10


def test_evi_radius_zero_is_relative_value_iteration():
    mdp = mdps.river_swim(6)
    res = ar.extended_value_iteration(mdp.to_dense().P, mdp.R, 0.0, eps=1e-10, tau=0.5)
    g = mdps.average_reward_lp(mdp).gain
    assert res.gain_lower - 1e-12 <= g <= res.gain_upper + 1e-12
    assert res.gain_upper - res.gain_lower < 1e-10


# -- the learning runs ------------------------------------------------------------------------------
@pytest.mark.parametrize("agent", ["ucrl2", "span"])
def test_run_record_and_exact_regret(agent):
    mdp = mdps.river_swim(6)
    T = 5000
    if agent == "ucrl2":
        run = ar.ucrl2(mdp, n_steps=T, rng=3)
    else:
        run = ar.span_bounded_ucrl(mdp, n_steps=T, span=10.0, rng=3)
    g = mdps.average_reward_lp(mdp).gain
    assert run.gain_star == pytest.approx(g, abs=1e-12)
    assert run.regret.shape == (T,)
    np.testing.assert_array_equal(run.regret, g - mdp.R[run.states, run.actions])
    np.testing.assert_array_equal(run.realised_regret, g - run.rewards)
    assert set(np.unique(run.rewards)) <= {0.0, 1.0}
    S, A = mdp.n_states, mdp.n_actions
    assert run.n_episodes <= S * A * math.log2(8 * T / (S * A)) + 1  # JOA 2010, Proposition 18
    assert run.episode_starts[0] == 1 and np.all(np.diff(run.episode_starts) > 0)
    assert run.evi_converged.all()


def test_expected_rewards_make_the_two_regrets_equal():
    run = ar.ucrl2(rare_state(0.2), n_steps=2000, rewards="expected", rng=1)
    np.testing.assert_array_equal(run.regret, run.realised_regret)


def test_determinism():
    mdp = rare_state(0.1)
    a = ar.ucrl2(mdp, n_steps=3000, rng=7)
    b = ar.ucrl2(mdp, n_steps=3000, rng=7)
    c = ar.ucrl2(mdp, n_steps=3000, rng=8)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.rewards, b.rewards)
    assert not np.array_equal(a.rewards, c.rewards)
    s1 = ar.span_bounded_ucrl(mdp, n_steps=3000, span=0.8, rng=np.random.SeedSequence(5))
    s2 = ar.span_bounded_ucrl(mdp, n_steps=3000, span=0.8, rng=np.random.SeedSequence(5))
    np.testing.assert_array_equal(s1.actions, s2.actions)


def test_regret_bound_formula():
    assert ar.ucrl2_regret_bound(10, 2, 3, 100, delta=0.1) == pytest.approx(34 * 10 * 2 * math.sqrt(300 * math.log(1000)))


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, word", [
    ({"n_steps": 0}, "n_steps"), ({"n_steps": 10, "delta": 0.0}, "delta"), ({"n_steps": 10, "delta": 1.0}, "delta"),
    ({"n_steps": 10, "rewards": "gaussian"}, "rewards"), ({"n_steps": 10, "tau": 0.0}, "tau"),
])
def test_bad_arguments_name_the_argument(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        ar.ucrl2(rare_state(0.1), **kwargs)


def test_span_below_the_bias_span_is_refused():
    with pytest.raises(ValueError, match="span"):
        ar.span_bounded_ucrl(rare_state(0.1), n_steps=10, span=0.5)
    with pytest.raises(ValueError, match="span"):
        ar.span_bounded_ucrl(rare_state(0.1), n_steps=10, span=-1.0)
    ar.span_bounded_ucrl(rare_state(0.1), n_steps=10, span=0.8)  # exactly sp(u*) is allowed


def test_wrong_criteria_and_models_are_refused():
    with pytest.raises(ValueError, match="mdp"):
        ar.ucrl2(mdps.river_swim(6, horizon=10), n_steps=10)
    with pytest.raises(ValueError, match="mdp"):
        ar.ucrl2(mdps.river_swim(6, gamma=0.9), n_steps=10)
    P = np.zeros((2, 1, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0
    with pytest.raises(ValueError, match="communicating"):
        ar.ucrl2(mdps.TabularMDP(P, np.zeros((2, 1))), n_steps=10)
    with pytest.raises(ValueError, match="mdp.R"):
        ar.ucrl2(mdps.TabularMDP(np.ones((1, 1, 1)), np.full((1, 1), 2.0)), n_steps=10)
    with pytest.raises(ValueError, match="delta"):
        ar.ucrl2_regret_bound(1.0, 2, 2, 10, delta=1.5)
    with pytest.raises(ValueError, match="T"):
        ar.ucrl2_regret_bound(1.0, 2, 2, 0, delta=0.1)


def test_evi_cap_warns():
    with pytest.warns(mdps.ConvergenceWarning, match="evi_max_iter"):
        run = ar.ucrl2(mdps.river_swim(6), n_steps=5000, evi_max_iter=1, rng=0)
    assert not run.evi_converged.all()
