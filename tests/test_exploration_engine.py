"""The compiled exploration engine: determinism across batches and threads, exact values,
the greedy control's first plan, the bonus's closed form, bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import exploration


@pytest.fixture(scope="module")
def river():
    return mdps.river_swim(4, horizon=8)


@pytest.mark.parametrize("bonus", ["hoeffding", "bernstein", "none"])
def test_batch_rows_equal_single_runs_bit_for_bit(river, bonus):
    big = exploration.ucbvi(river, n_episodes=300, bonus=bonus, bonus_scale=0.1, n_runs=5, rng=7)
    small = exploration.ucbvi(river, n_episodes=300, bonus=bonus, bonus_scale=0.1, n_runs=2, rng=7)
    np.testing.assert_array_equal(big.values[:2], small.values)
    np.testing.assert_array_equal(big.returns[:2], small.returns)
    for i, child in enumerate(np.random.SeedSequence(7).spawn(5)):
        one = exploration.ucbvi(river, n_episodes=300, bonus=bonus, bonus_scale=0.1, rng=child)
        np.testing.assert_array_equal(one.values, big.values[i])
        np.testing.assert_array_equal(one.returns, big.returns[i])


def test_psrl_batch_equals_single_runs(river):
    big = exploration.psrl(river, n_episodes=100, n_runs=3, rng=3)
    one = exploration.psrl(river, n_episodes=100, rng=np.random.SeedSequence(3).spawn(3)[2])
    np.testing.assert_array_equal(one.values, big.values[2])


_SCRIPT = """
import hashlib, mdps
from algorithms import exploration
b = exploration.ucbvi(mdps.random_finite_horizon(4, 3, 5, rng=2), n_episodes=400, bonus='bernstein',
                      bonus_scale=0.2, n_runs=6, rng=11)
print(hashlib.sha256(b.values.tobytes() + b.returns.tobytes()).hexdigest())
"""


def test_same_bits_with_one_or_two_threads():
    out = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        res = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True)
        out.append(res.stdout.strip().splitlines()[-1])
    assert out[0] == out[1]


@pytest.mark.parametrize("stage_dependent", [True, False])
def test_values_are_exact_policy_values(stage_dependent):
    mdp = mdps.random_finite_horizon(4, 3, 5, stage_dependent=stage_dependent, rng=5)
    run = exploration.ucbvi(mdp, n_episodes=60, bonus="bernstein", bonus_scale=0.05, keep_policies=True, rng=1)
    for k in range(0, 60, 7):
        v = float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, run.policies[k].astype(np.int64))[0])
        assert abs(v - run.values[k]) <= 1e-12
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    assert run.v_star == v_star
    np.testing.assert_array_equal(run.regret, v_star - run.values)
    assert (run.regret >= -1e-12).all()


def test_greedy_first_plan_is_certainty_equivalence():
    """Before any data the empirical kernel is uniform: the greedy plan is backward induction on
    the uniform-kernel MDP with the known rewards (ties to the lowest action in both)."""
    mdp = mdps.random_finite_horizon(5, 3, 4, rng=9)
    run = exploration.greedy(mdp, n_episodes=1, keep_policies=True, rng=0)
    S, A, H = 5, 3, 4
    ce = mdps.TabularMDP(np.full((H, S, A, S), 1.0 / S), mdp.R, horizon=H, rho=mdp.rho)
    np.testing.assert_array_equal(run.policies[0], mdps.backward_induction(ce).policy)


def test_hoeffding_bonus_closed_form_and_log_term():
    L = exploration.log_term(3, 2, 6, 100, 0.1, stage_dependent=False)
    assert L == pytest.approx(np.log(5 * 3 * 2 * 600 / 0.1), rel=1e-15)
    L2 = exploration.log_term(3, 2, 6, 100, 0.1, stage_dependent=True)
    assert L2 == pytest.approx(np.log(5 * 18 * 2 * 600 / 0.1), rel=1e-15)
    assert exploration.hoeffding_bonus(4, horizon=5, log_term=2.0, bonus_scale=0.5) == pytest.approx(0.5 * 7 * 5 * 2 / 2)
    assert exploration.hoeffding_bonus(0, horizon=5, log_term=2.0) == pytest.approx(7 * 5 * 2)


def test_theory_bonus_saturates_then_plays_action_zero():
    """With the theory Hoeffding bonus every Q is clipped at H - h on RiverSwim(3): the plan is
    all-left (ties to action 0) and each episode's regret is V* - V^{left}, exactly."""
    mdp = mdps.river_swim(3, horizon=6)
    run = exploration.ucbvi(mdp, n_episodes=50, bonus="hoeffding", keep_policies=True, rng=0)
    assert (run.policies == 0).all()
    left = float(mdps.evaluate_finite_horizon(mdp, np.zeros((6, 3), dtype=np.int64))[0, 0])
    np.testing.assert_allclose(run.values, left, rtol=0, atol=1e-15)


def test_bound_normaliser_stage_dependent():
    b1 = exploration.ucbvi_regret_bound(3, 2, 6, 1000, delta=0.1, stage_dependent=False)
    b2 = exploration.ucbvi_regret_bound(3, 2, 6, 1000, delta=0.1, stage_dependent=True)
    L = np.log(5 * 3 * 2 * 6000 / 0.1)
    assert b1 == pytest.approx(20 * 6 * L * np.sqrt(3 * 2 * 6000) + 250 * 36 * 9 * 2 * L**2)
    assert b2 > b1


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(n_episodes=0), ValueError, "n_episodes"),
    (dict(n_episodes=10, bonus_scale=-1.0), ValueError, "bonus_scale"),
    (dict(n_episodes=10, bonus="ucb"), ValueError, "bonus"),
    (dict(n_episodes=10, delta=0.0), ValueError, "delta"),
    (dict(n_episodes=10, rewards="maybe"), ValueError, "rewards"),
    (dict(n_episodes=10, n_runs=0), ValueError, "n_runs"),
    (dict(n_episodes=10, rng=-1), TypeError, "rng"),
])
def test_bad_input_names_the_argument(river, kwargs, exc, word):
    with pytest.raises(exc, match=word):
        exploration.ucbvi(river, **kwargs)


def test_discounted_mdp_is_refused():
    with pytest.raises((ValueError, TypeError), match="finite"):
        exploration.ucbvi(mdps.river_swim(3, gamma=0.9), n_episodes=10)


def test_rewards_outside_unit_interval_are_refused():
    mdp = mdps.TabularMDP(np.ones((1, 1, 1)), np.full((1, 1), 2.0), horizon=2)
    with pytest.raises(ValueError, match="mdp.R"):
        exploration.ucbvi(mdp, n_episodes=3)


def test_optimistic_values_are_the_plans_own_values(river):
    """Greedy's plan value is the certainty-equivalent optimum; UCBVI's stays in [V^pi_k, H]."""
    run = exploration.greedy(river, n_episodes=1, rng=0)
    # episode 0: no data, the empirical kernel is uniform: plan on it by backward induction
    H, S, A = river.horizon, river.n_states, river.n_actions
    uniform = mdps.TabularMDP(np.full((S, A, S), 1.0 / S), river.R, horizon=H, rho=river.rho)
    assert run.optimistic_values[0] == pytest.approx(river.rho @ mdps.backward_induction(uniform).V[0], abs=1e-12)
    b = exploration.ucbvi(river, n_episodes=30, n_runs=3, rng=1)
    assert b.optimistic_values.shape == (3, 30)
    assert (b.optimistic_values <= H + 1e-12).all() and (b.optimistic_values >= b.values - 1e-9).all()
    single = exploration.ucbvi(river, n_episodes=30, rng=np.random.SeedSequence(1).spawn(3)[2])
    assert np.array_equal(b.run(2).optimistic_values, single.optimistic_values)


def test_kept_trajectories_follow_the_played_policies(river):
    b = exploration.ucbvi(river, n_episodes=20, keep_policies=True, keep_trajectories=True, n_runs=2, rng=3)
    plain = exploration.ucbvi(river, n_episodes=20, n_runs=2, rng=3)
    assert np.array_equal(b.values, plain.values) and b.states.shape == (2, 20, river.horizon + 1)
    P = river.P
    for i in range(2):
        for k in range(20):
            st = b.states[i, k]
            assert st[0] == 0  # RiverSwim starts at the left bank
            for h in range(river.horizon):
                assert P[st[h], b.policies[i, k, h, st[h]], st[h + 1]] > 0
    with pytest.raises(TypeError, match="keep_trajectories"):
        exploration.ucbvi(river, n_episodes=2, keep_trajectories=1)


@settings(max_examples=25, deadline=None)
@given(S=st.integers(1, 4), A=st.integers(1, 3), H=st.integers(1, 4), stage=st.booleans(),
       scale=st.sampled_from([1.0, 0.1, 0.003]), seed=st.integers(0, 2**31))
def test_engine_plans_equal_the_numpy_rebuild_hypothesis(S, A, H, stage, scale, seed):
    """The compiled planner's reported plan values are Algorithm 4's backup rebuilt in NumPy from
    the trajectories (proofs_checks.exploration.ucbvi.optimistic_plans), clipped or not."""
    from proofs_checks.exploration.ucbvi import optimistic_plans

    mdp = mdps.random_finite_horizon(S, A, H, stage_dependent=stage, rng=seed % 1000)
    run = exploration.ucbvi(mdp, n_episodes=40, bonus="bernstein", bonus_scale=scale, keep_policies=True,
                            keep_trajectories=True, rng=seed)
    st_ = run.settings
    Vbar = optimistic_plans(mdp, run.states, run.policies, bonus_scale=st_.bonus_scale, log_term=st_.log_term,
                            stage_dependent=st_.stage_dependent_estimates)
    np.testing.assert_allclose(Vbar[:, 0, :] @ mdp.rho, run.optimistic_values, rtol=0, atol=1e-9)
    assert (run.optimistic_values <= H + 1e-12).all()
