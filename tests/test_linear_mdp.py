"""mdps.LinearMDP (validation, exact tabular conversion, generators) and algorithms.linear.lsvi_ucb
(the one-hot identity with a tabular replay, exact regret, batch bit-identity, bad input)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import linear
from proofs_checks.linear.lsvi import greedy_mismatches, tabular_replay


@settings(max_examples=30, deadline=None)
@given(S=st.integers(1, 6), A=st.integers(1, 4), H=st.integers(1, 5), seed=st.integers(0, 2**31), stage=st.booleans())
def test_one_hot_round_trip_is_exact(S, A, H, seed, stage):
    tab = mdps.random_finite_horizon(S, A, H, rng=seed) if stage else mdps.river_swim(max(S, 2), horizon=H)
    lin = mdps.LinearMDP.from_tabular(tab)
    back = lin.to_tabular()
    np.testing.assert_allclose(back.to_dense().P, tab.to_dense().P, atol=1e-15)
    np.testing.assert_allclose(np.broadcast_to(back.R, lin.R.shape), np.broadcast_to(tab.R, lin.R.shape), atol=1e-15)
    np.testing.assert_allclose(mdps.backward_induction(back).V, mdps.backward_induction(tab).V, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(S=st.integers(1, 8), A=st.integers(1, 4), d=st.integers(1, 6), H=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_random_linear_mdps_are_valid_low_rank_models(S, A, d, H, seed):
    lin = mdps.LinearMDP.random(S, A, d, H, rng=seed)
    P = lin.P
    assert np.allclose(P.sum(axis=-1), 1.0) and (P >= 0).all()
    assert np.linalg.matrix_rank(P[0].reshape(S * A, S)) <= d
    assert (lin.R >= 0).all() and (lin.R <= 1).all()
    np.testing.assert_allclose(P[0], np.einsum("sad,dt->sat", lin.phi, lin.mu), atol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    (dict(phi=np.ones((2, 2)), mu=np.ones((1, 2)), theta=[0.5]), "phi"),
    (dict(phi=np.ones((2, 1, 1)), mu=np.ones((2, 2)), theta=[0.5]), r"mu must have shape"),
    (dict(phi=np.ones((2, 1, 1)), mu=np.full((1, 2), 0.5), theta=[0.5, 0.5]), r"theta must have shape"),
    (dict(phi=np.ones((2, 1, 1)), mu=np.array([[0.7, 0.7]]), theta=[0.5]), r"sums to 1.4"),
    (dict(phi=np.ones((2, 1, 1)), mu=np.array([[1.5, -0.5]]), theta=[0.5]), "is negative"),
    (dict(phi=np.ones((2, 1, 1)), mu=np.full((1, 2), 0.5), theta=[2.0]), r"\[0, 1\]"),
    (dict(phi=np.ones((2, 1, 1)), mu=np.full((1, 2), 0.5), theta=[np.nan]), "theta"),
])
def test_bad_linear_mdps_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mdps.LinearMDP(**kwargs, horizon=2)


def test_lsvi_on_one_hot_equals_the_tabular_replay():
    tab = mdps.river_swim(3, horizon=5)
    lin = mdps.LinearMDP.from_tabular(tab)
    for scale in (0.0, 0.05, 1.0):
        run = linear.lsvi_ucb(lin, n_episodes=200, bonus_scale=scale, lam=0.7, keep_policies=True,
                              keep_trajectories=True, rng=3)
        values, _, Qs = tabular_replay(tab, run.states, run.actions, 0.7, run.settings.beta)
        np.testing.assert_allclose(run.optimistic_values, values, rtol=0, atol=1e-12)
        assert greedy_mismatches(Qs, run.policies) == 0
        # and the actions are the played policy's
        for k in (0, 100, 199):
            assert all(run.actions[k, h] == run.policies[k, h, run.states[k, h]] for h in range(5))


def test_values_are_exact_and_batches_bit_identical():
    lin = mdps.LinearMDP.random(6, 3, 4, 4, rng=1)
    batch = linear.lsvi_ucb(lin, n_episodes=150, bonus_scale=0.1, n_runs=4, keep_policies=True, rng=9)
    tab = lin.to_tabular()
    for i in (0, 3):
        one = linear.lsvi_ucb(lin, n_episodes=150, bonus_scale=0.1, keep_policies=True,
                              rng=np.random.SeedSequence(9).spawn(4)[i])
        np.testing.assert_array_equal(one.values, batch.values[i])
        np.testing.assert_array_equal(one.policies, batch.run(i).policies)
    for k in (0, 75, 149):
        exact = tab.rho @ mdps.evaluate_finite_horizon(tab, batch.policies[2, k].astype(np.int64))[0]
        assert batch.values[2, k] == pytest.approx(exact, abs=1e-12)
    assert (batch.regret >= -1e-12).all()
    assert batch.v_star == pytest.approx(float(tab.rho @ mdps.backward_induction(tab).V[0]))


def test_theory_radius():
    assert linear.lsvi_beta(4, 5, 100, 0.05) == pytest.approx(4 * 5 * np.sqrt(np.log(2 * 4 * 500 / 0.05)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_episodes=0), "n_episodes"),
    (dict(n_episodes=5, lam=0.0), "lam"),
    (dict(n_episodes=5, delta=0.0), "delta"),
    (dict(n_episodes=5, bonus_scale=-0.1), "bonus_scale"),
    (dict(n_episodes=5, keep_policies="yes"), "keep_policies"),
    (dict(n_episodes=5, n_runs=0), "n_runs"),
])
def test_bad_arguments_are_refused_by_name(kwargs, match):
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=3))
    with pytest.raises((ValueError, TypeError), match=match):
        linear.lsvi_ucb(lin, **kwargs)
    with pytest.raises(TypeError, match="lmdp"):
        linear.lsvi_ucb(mdps.river_swim(3, horizon=3), n_episodes=5)
