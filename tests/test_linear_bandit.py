"""mdps.LinearBandit and algorithms.linear.linucb (OFUL): exact regret, the exact optimistic step on
the unit ball, rank-one statistics, batch bit-identity, the regret bound, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import linear
from algorithms.linear import _kernels as _k


# ------------------------------------------------------------------------------------- the bandit
def test_best_value_and_exact_regret():
    b = mdps.LinearBandit("unit_ball", [0.6, 0.8])
    assert b.best_value == pytest.approx(1.0) and b.n_actions is None and not b.finite
    np.testing.assert_allclose(b.regret(np.array([[1.0, 0.0], [0.6, 0.8]])), [0.4, 0.0], atol=1e-15)
    f = mdps.LinearBandit([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], [0.2, 0.9], noise=0.0)
    assert f.best_value == pytest.approx(0.9) and f.n_actions == 3 and f.action_norm_bound == pytest.approx(1.0)
    np.testing.assert_allclose(f.regret(f.actions), [0.7, 0.0, 0.35])


@pytest.mark.parametrize("kwargs, match", [
    (dict(actions="ball", theta=[1.0]), "actions must be"),
    (dict(actions=np.ones((3, 2)), theta=[1.0, 0.0, 0.0]), r"shape \(n_actions, 3\)"),
    (dict(actions=np.ones((0, 2)), theta=[1.0, 0.0]), r"shape \(n_actions, 2\)"),
    (dict(actions=np.array([[1.0, np.nan]]), theta=[1.0, 0.0]), r"actions\[0, 1\] is nan"),
    (dict(actions="unit_ball", theta=[np.inf, 0.0]), r"theta\[0\] is inf"),
    (dict(actions="unit_ball", theta=[]), "at least one coordinate"),
    (dict(actions="unit_ball", theta=[1.0], noise=-0.1), "noise"),
])
def test_bad_bandits_are_refused_by_name(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mdps.LinearBandit(**kwargs)


# ------------------------------------------------------------------- the optimistic step on the ball
def _index(theta_hat, V, beta, x):
    """OFUL's index <theta_hat, x> + beta ||x||_{V^-1}, for rows x."""
    Vinv = np.linalg.inv(V)
    return x @ theta_hat + beta * np.sqrt(np.einsum("ij,jk,ik->i", x, Vinv, x))


def _sphere(d, n, gen):
    x = gen.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@settings(max_examples=60, deadline=None)
@given(d=st.integers(2, 5), seed=st.integers(0, 2**31), beta=st.floats(0.01, 5.0), zero=st.booleans())
def test_ball_step_is_the_maximiser_of_the_index(d, seed, beta, zero):
    gen = np.random.default_rng(seed)
    M = gen.normal(size=(d, d))
    V = M @ M.T + 0.5 * np.eye(d)
    theta_hat = np.zeros(d) if zero else gen.normal(size=d)
    x = _k.ball_optimistic(theta_hat, V, beta)
    assert abs(np.linalg.norm(x) - 1.0) < 1e-12
    got = _index(theta_hat, V, beta, x[None])[0]
    # a dense random search of the sphere (plus local refinement around its best point) never beats it
    cand = _sphere(d, 20_000, gen)
    best = cand[np.argmax(_index(theta_hat, V, beta, cand))]
    local = best + 0.01 * gen.normal(size=(5_000, d))
    local /= np.linalg.norm(local, axis=1, keepdims=True)
    searched = max(_index(theta_hat, V, beta, cand).max(), _index(theta_hat, V, beta, local).max())
    assert got >= searched - 1e-9 * max(1.0, abs(searched))


def test_ball_step_hard_case_goes_along_the_least_curved_direction():
    # theta_hat = 0 and V with a unique smallest eigenvalue: the optimum is that eigenvector
    V = np.diag([3.0, 1.0, 2.0])
    x = _k.ball_optimistic(np.zeros(3), V, 1.0)
    np.testing.assert_allclose(np.abs(x), [0.0, 1.0, 0.0], atol=1e-12)


# --------------------------------------------------------------------------------------- OFUL runs
def test_runs_are_deterministic_and_batches_bit_identical():
    b = mdps.LinearBandit("unit_ball", [0.6, 0.8, 0.0], noise=0.3)
    batch = linear.linucb(b, n_rounds=500, n_runs=5, rng=11)
    small = linear.linucb(b, n_rounds=500, n_runs=3, rng=11)
    np.testing.assert_array_equal(batch.regret[:3], small.regret)
    children = np.random.SeedSequence(11).spawn(5)
    for i in (0, 4):
        alone = linear.linucb(b, n_rounds=500, rng=children[i])
        np.testing.assert_array_equal(alone.regret, batch.regret[i])
        assert alone.seed == batch.run(i).seed
    again = linear.linucb(b, n_rounds=500, rng=11)
    np.testing.assert_array_equal(again.regret, linear.linucb(b, n_rounds=500, rng=11).regret)


def test_regret_is_the_exact_regret_of_the_played_actions():
    gen = np.random.default_rng(3)
    A = _sphere(4, 12, gen)
    b = mdps.LinearBandit(A, [0.5, -0.2, 0.1, 0.3], noise=0.2)
    run = linear.linucb(b, n_rounds=300, keep_actions=True, rng=1)
    np.testing.assert_array_equal(run.played, A[run.actions])
    np.testing.assert_allclose(run.regret, b.regret(run.played), atol=1e-15)
    assert (run.regret >= -1e-15).all()
    ball = linear.linucb(mdps.LinearBandit("unit_ball", [0.6, 0.8]), n_rounds=100, keep_actions=True, rng=1)
    assert (ball.actions == -1).all() and np.allclose(np.linalg.norm(ball.played, axis=1), 1.0)


def test_noiseless_greedy_sticks_where_optimism_learns():
    # sigma = 0, theta = (0.3, -0.4, 1.2): greedy ridge regression starts at e_1, learns only that
    # coordinate and stays there (regret ||theta|| - 0.3 = 1 every round); OFUL's optimism explores
    # the other directions and its regret vanishes
    b = mdps.LinearBandit("unit_ball", [0.3, -0.4, 1.2], noise=0.0)
    greedy = linear.linucb(b, n_rounds=400, bonus_scale=0.0, rng=0)
    np.testing.assert_allclose(greedy.regret, 1.0, atol=1e-12)
    oful = linear.linucb(b, n_rounds=2000, rng=0)
    assert oful.regret[-100:].max() < 0.02 and oful.regret.sum() < 0.05 * greedy.regret.sum() * 5


def test_rank_one_statistics_match_a_direct_solve():
    # the kernel's Sherman-Morrison inverse and determinant-lemma log det, replayed in NumPy on the
    # played actions, give the radius a direct computation gives (through the greedy choice)
    gen = np.random.default_rng(5)
    A = _sphere(3, 8, gen)
    b = mdps.LinearBandit(A, [0.4, 0.1, -0.7], noise=0.0)
    run = linear.linucb(b, n_rounds=200, keep_actions=True, noise_bound=0.5, rng=2)  # deterministic y, sigma 0.5 in beta
    lam, V, y = 1.0, np.eye(3), A @ np.asarray(b.theta)
    B = np.zeros(3)
    for t in range(200):
        theta_hat = np.linalg.solve(V, B)
        logdet = np.linalg.slogdet(V)[1]
        beta = 0.5 * math.sqrt(max(2 * math.log(1 / 0.05) + logdet - 3 * math.log(lam), 0.0)) + math.sqrt(lam)
        idx = _index(theta_hat, V, beta, A)
        assert run.actions[t] == int(np.argmax(idx)) or idx.max() - idx[run.actions[t]] < 1e-9
        x = A[run.actions[t]]
        V = V + np.outer(x, x)
        B = B + y[run.actions[t]] * x


def test_regret_bound_function():
    assert linear.oful_regret_bound(0, 3) == 0.0
    n = np.array([10, 100, 1000])
    bnd = linear.oful_regret_bound(n, 4, noise_bound=0.1)
    assert np.all(np.diff(bnd) > 0)
    by_hand = 4 * math.sqrt(100 * 4 * math.log(1 + 100 / 4)) * (
        1 + 0.1 * math.sqrt(2 * math.log(20) + 4 * math.log(1 + 100 / 4)))
    assert bnd[1] == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(ValueError, match="n_rounds"):
        linear.oful_regret_bound(-1, 3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_rounds=0), "n_rounds"),
    (dict(n_rounds=10, lam=0.0), "lam"),
    (dict(n_rounds=10, delta=1.0), "delta"),
    (dict(n_rounds=10, bonus_scale=-1.0), "bonus_scale"),
    (dict(n_rounds=10, noise_bound=-1.0), "noise_bound"),
    (dict(n_rounds=10, keep_actions=1), "keep_actions"),
    (dict(n_rounds=10, n_runs=0), "n_runs"),
    (dict(n_rounds=10, rng=-1), "rng"),
])
def test_bad_arguments_are_refused_by_name(kwargs, match):
    b = mdps.LinearBandit("unit_ball", [1.0, 0.0])
    with pytest.raises((ValueError, TypeError), match=match):
        linear.linucb(b, **kwargs)
    with pytest.raises(TypeError, match="bandit"):
        linear.linucb("bandit", n_rounds=10)


def test_the_public_names_stay_functions_whatever_is_imported_first():
    # a submodule named like a function would replace the function on the package once imported
    import importlib

    import algorithms.linear as pkg

    for name in pkg._HOME:
        importlib.import_module(pkg._HOME[name])
    assert callable(pkg.linucb) and not isinstance(pkg.linucb, type(pkg))
    assert callable(pkg.lsvi_ucb) and callable(pkg.r2pvi) and not isinstance(pkg.r2pvi, type(pkg))
