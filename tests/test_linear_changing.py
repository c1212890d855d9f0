"""Changing action sets for linear bandits: mdps.LinearBandit with a sequence or a generator of
sets, and OFUL / LinUCB's argmax over each round's own set (bit-identity with the fixed-set run,
batch = single runs, exact per-round regret, the Theorem 3 bound, bad input)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import linear
from algorithms.linear.oful import run_action_sets


def _unit_rows(gen, shape):
    A = gen.normal(size=shape)
    return A / np.linalg.norm(A, axis=-1, keepdims=True)


FIXED = _unit_rows(np.random.default_rng(0), (8, 3))
THETA = np.array([0.6, 0.8, 0.0])


# ------------------------------------------------------------------------------------- the bandit
def test_sequence_best_values_and_regret_are_exact():
    sets = [np.eye(2), np.array([[0.5, 0.5]]), np.array([[-1.0, 0.0], [0.3, 0.1], [0.0, -1.0]])]
    b = mdps.LinearBandit(sets, [0.2, 0.9], noise=0.0)
    assert b.changing and b.best_value is None and b.n_actions is None
    S, m = b.action_sets(10)
    assert S.shape == (3, 3, 2) and m.tolist() == [2, 1, 3]
    np.testing.assert_allclose(b.best_values(S, m), [0.9, 0.55, 0.15], atol=1e-15)
    # padding rows (zeros, mean 0) never count, even when every real row has a negative mean
    neg = mdps.LinearBandit([np.array([[-1.0, 0.0]]), np.array([[0.0, -1.0], [-1.0, -1.0]])], [1.0, 1.0])
    np.testing.assert_allclose(neg.best_values(*neg.action_sets(1)), [-1.0, -1.0])
    np.testing.assert_allclose(b.regret(np.array([[1.0, 0.0], [0.5, 0.5]]), best=[0.9, 0.55]), [0.7, 0.0])
    assert b.action_norm_bound == pytest.approx(1.0)


def test_iid_sets_draw_equals_successive_calls_and_are_unit():
    g = mdps.IIDActionSets(5, 3)
    a = g.draw(7, np.random.default_rng(4))
    gen = np.random.default_rng(4)
    b = np.stack([g(t, gen) for t in range(7)])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=2), 1.0, atol=1e-14)


def test_callable_sets_are_validated_when_drawn():
    b = mdps.LinearBandit(lambda t, rng: 2.0 * np.eye(2), [1.0, 0.0])
    with pytest.raises(ValueError, match="action_norm_bound"):
        b.action_sets(3, rng=0)
    ok = mdps.LinearBandit(lambda t, rng: 2.0 * np.eye(2), [1.0, 0.0], action_norm_bound=2.0)
    assert ok.action_sets(3, rng=0)[0].shape == (3, 2, 2)
    bad = mdps.LinearBandit(lambda t, rng: np.ones((2, 3)), [1.0, 0.0])
    with pytest.raises(ValueError, match=r"action set\[0\] must have shape \(m, 2\)"):
        bad.action_sets(2, rng=0)
    nan = mdps.LinearBandit(lambda t, rng: np.array([[np.nan, 0.0]]), [1.0, 0.0])
    with pytest.raises(ValueError, match="nan"):
        nan.action_sets(2, rng=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(actions=[np.ones((2, 3))], theta=[1.0, 0.0]), r"actions\[0\] must have shape \(m, 2\)"),
    (dict(actions=np.ones((2, 0, 2)), theta=[1.0, 0.0]), r"actions\[0\] must have shape \(m, 2\) with m >= 1"),
    (dict(actions=[np.array([[np.inf, 0.0]])], theta=[1.0, 0.0]), "inf"),
    (dict(actions=np.eye(2), theta=[1.0, 0.0], action_norm_bound=1.0), "action_norm_bound is only for a callable"),
    (dict(actions=lambda t, rng: np.eye(2), theta=[1.0, 0.0], action_norm_bound=0.0), "action_norm_bound"),
])
def test_bad_changing_bandits_are_refused_by_name(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mdps.LinearBandit(**kwargs)


def test_fixed_bandit_refuses_action_sets_and_changing_regret_needs_best():
    with pytest.raises(ValueError, match="action_sets needs changing"):
        mdps.LinearBandit(FIXED, THETA).action_sets(3)
    with pytest.raises(ValueError, match="best must be given"):
        mdps.LinearBandit([FIXED], THETA).regret(FIXED)


# ------------------------------------------------------------------------------------- OFUL
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_constant_sets_equal_the_fixed_set_run_bit_for_bit(seed):
    fixed = mdps.LinearBandit(FIXED, THETA, noise=0.3)
    ref = linear.linucb(fixed, n_rounds=3000, keep_actions=True, rng=seed)
    for changing in (mdps.LinearBandit(FIXED[None], THETA, noise=0.3),
                     mdps.LinearBandit(lambda t, rng: FIXED, THETA, noise=0.3)):
        run = linear.linucb(changing, n_rounds=3000, keep_actions=True, rng=seed)
        np.testing.assert_array_equal(run.regret, ref.regret)
        np.testing.assert_array_equal(run.actions, ref.actions)
        np.testing.assert_array_equal(run.played, ref.played)
        assert run.best_value is None


@pytest.mark.parametrize("make", [
    lambda: mdps.LinearBandit(mdps.IIDActionSets(6, 3), THETA, noise=0.2),
    lambda: mdps.LinearBandit([FIXED, FIXED[:3], -FIXED[2:]], THETA, noise=0.2),
])
def test_batch_equals_single_runs_and_regret_is_exact(make):
    bandit = make()
    batch = linear.linucb(bandit, n_rounds=800, n_runs=3, keep_actions=True, rng=11)
    for i, child in enumerate(np.random.SeedSequence(11).spawn(3)):
        alone = linear.linucb(bandit, n_rounds=800, keep_actions=True, rng=child)
        np.testing.assert_array_equal(alone.regret, batch.regret[i])
        np.testing.assert_array_equal(alone.actions, batch.actions[i])
        np.testing.assert_array_equal(alone.sets, batch.sets[i])
        one = batch.run(i)
        # exact regret from the offered sets, recomputed here, and each played row is in its set
        sets, sizes = one.sets, one.set_sizes
        k = np.arange(800) % sets.shape[0]
        best = bandit.best_values(sets, sizes)[k]
        np.testing.assert_allclose(one.regret, best - one.played @ THETA, atol=1e-15)
        assert (one.actions < sizes[k]).all() and (one.regret >= 0).all()
        np.testing.assert_array_equal(one.played, sets[k, one.actions])
    sets0, _ = run_action_sets(bandit, 800, batch.seeds[0])
    np.testing.assert_array_equal(sets0, batch.sets[0])


def test_iid_runs_see_different_sets_but_are_reproducible():
    b = mdps.LinearBandit(mdps.IIDActionSets(4, 3), THETA)
    r1 = linear.linucb(b, n_rounds=50, keep_actions=True, rng=1)
    r2 = linear.linucb(b, n_rounds=50, keep_actions=True, rng=2)
    assert not np.array_equal(r1.sets, r2.sets)
    np.testing.assert_array_equal(r1.sets, linear.linucb(b, n_rounds=50, keep_actions=True, rng=1).sets)
    assert linear.linucb(b, n_rounds=50, rng=1).sets is None


def test_regret_below_theorem3_bound_on_changing_sets():
    b = mdps.LinearBandit(mdps.IIDActionSets(10, 3), THETA, noise=0.1)
    run = linear.linucb(b, n_rounds=5000, n_runs=4, rng=3)
    ts = np.array([100, 1000, 5000])
    bound = linear.oful_regret_bound(ts, 3, noise_bound=0.1, action_norm_bound=1.0)
    assert (run.regret.cumsum(axis=1)[:, ts - 1] <= bound).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**31))
def test_property_regret_nonnegative_and_played_in_set(n_sets, d, m, seed):
    gen = np.random.default_rng(seed)
    sets = [gen.normal(size=(int(gen.integers(1, m + 1)), d)) for _ in range(n_sets)]
    theta = gen.normal(size=d)
    b = mdps.LinearBandit(sets, theta, noise=0.5)
    run = linear.linucb(b, n_rounds=40, keep_actions=True, theta_norm_bound=float(np.linalg.norm(theta)), rng=seed)
    k = np.arange(40) % n_sets
    best = np.array([(s @ theta).max() for s in sets])[k]
    np.testing.assert_allclose(run.regret, best - run.played @ theta, atol=1e-12)
    assert (run.regret >= -1e-12).all()
    for t in range(40):
        np.testing.assert_array_equal(run.played[t], sets[k[t]][run.actions[t]])
