"""Tests of mdps.preference_generators (theory/preference.md, section 1.4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import expit
from scipy.stats import norm

from mdps.preference import PreferenceGame
from mdps.preference_generators import (
    bradley_terry,
    bt_mixture,
    clones,
    contextual,
    cycle,
    flip,
    random_bradley_terry,
    rock_paper_scissors,
    thurstone,
    uniform_tournament,
)
from tests.strategies import finite, preference_game

scores_st = hnp.arrays(np.float64, st.integers(2, 12), elements=st.floats(-4, 4, **finite))


def assert_valid(game, K):
    assert isinstance(game, PreferenceGame) and game.n_responses == K
    P = game.Pref
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_array_equal(np.diagonal(P, axis1=-2, axis2=-1), 0.5)
    assert np.abs(P + np.swapaxes(P, -1, -2) - 1).max() <= 1e-16


@given(K=st.integers(2, 12), seed=st.integers(0, 2**32 - 1))
def test_uniform_tournament(K, seed):
    g = uniform_tournament(K, rng=seed)
    assert_valid(g, K)
    np.testing.assert_array_equal(g.Pref, uniform_tournament(K, rng=np.random.default_rng(seed)).Pref)
    assert not np.array_equal(g.Pref, uniform_tournament(K, rng=seed + 1).Pref)


def test_rps_and_cycle():
    g = rock_paper_scissors(0.8)
    np.testing.assert_allclose(g.Pref, [[0.5, 0.8, 0.2], [0.2, 0.5, 0.8], [0.8, 0.2, 0.5]], atol=1e-16)
    c = cycle(5, 0.9)
    assert_valid(c, 5)
    assert c.Pref[4, 0] == 0.9 and c.Pref[0, 2] == 0.5
    np.testing.assert_allclose((c.Pref - 0.5).sum(axis=0), 0, atol=1e-15)  # uniform is a NE
    with pytest.raises(ValueError, match="K must be >= 3"):
        cycle(2)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\], got 1.5"):
        cycle(3, 1.5)


@given(r=scores_st)
def test_bradley_terry_and_thurstone(r):
    K = r.size
    bt, th = bradley_terry(r), thurstone(r)
    assert_valid(bt, K)
    assert_valid(th, K)
    d = r[:, None] - r[None, :]
    np.testing.assert_allclose(bt.Pref, expit(d), atol=1e-15)
    np.testing.assert_allclose(th.Pref, norm.cdf(d / np.sqrt(2)), atol=1e-15)
    # transitive: the top-scored response beats (weakly) everyone
    assert np.all(bt.Pref[np.argmax(r)] >= 0.5) and np.all(th.Pref[np.argmax(r)] >= 0.5)


@given(K=st.integers(2, 10), scale=st.floats(0, 5), seed=st.integers(0, 100))
def test_random_bradley_terry(K, scale, seed):
    g = random_bradley_terry(K, scale=scale, rng=seed)
    r = scale * np.random.default_rng(seed).standard_normal(K)
    np.testing.assert_allclose(g.Pref, bradley_terry(r).Pref, atol=1e-16)


@given(r=scores_st)
def test_bt_mixture_reduces_to_bt(r):
    np.testing.assert_allclose(bt_mixture(r[None], [1.0]).Pref, bradley_terry(r).Pref, atol=1e-16)


def test_bt_mixture_condorcet_paradox():
    # three transitive raters with cyclic orders produce a cyclic majority: NE is uniform
    R = [[1, 0, -1], [0, -1, 1], [-1, 1, 0]]
    g = bt_mixture(R, np.full(3, 1 / 3))
    assert g.Pref[0, 1] > 0.5 and g.Pref[1, 2] > 0.5 and g.Pref[2, 0] > 0.5
    np.testing.assert_allclose(g.nash(), np.full(3, 1 / 3), atol=1e-9)
    with pytest.raises(ValueError, match=r"weights must have shape \(3,\)"):
        bt_mixture(R, [0.5, 0.5])


@settings(max_examples=30)
@given(game=preference_game(max_K=8), eps=st.floats(0, 0.5))
def test_flip(game, eps):
    f = flip(game, eps)
    np.testing.assert_allclose(f.Pref, (1 - eps) * game.Pref + eps * (1 - game.Pref), atol=1e-15)
    np.testing.assert_array_equal(f.ref, game.ref)
    np.testing.assert_array_equal(flip(game, 0.0).Pref, game.Pref)
    np.testing.assert_allclose(flip(game, 0.5).Pref, 0.5, atol=1e-16)


def test_flip_matches_noisy_duels():
    g = uniform_tournament(4, rng=3)
    n = 40_000
    i, j = np.repeat(np.arange(4), n), np.repeat(np.roll(np.arange(4), 1), n)
    freq = g.duel(i, j, rng=0, noise=0.3).reshape(4, n).mean(axis=1)
    p = flip(g, 0.3).Pref[np.arange(4), np.roll(np.arange(4), 1)]
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n))
    with pytest.raises(ValueError, match=r"eps must lie in \[0, 0.5\]"):
        flip(g, 0.6)


@settings(max_examples=30)
@given(game=preference_game(max_K=8), data=st.data())
def test_clones_structure_and_ref(game, data):
    K = game.n_responses
    idx = data.draw(st.lists(st.integers(0, K - 1), min_size=1, max_size=3))
    c = clones(game, idx)
    order = np.concatenate([np.arange(K), idx])
    assert_valid(c, K + len(idx))
    np.testing.assert_allclose(c.Pref, game.Pref[np.ix_(order, order)], rtol=0, atol=1e-16)
    mu = np.concatenate([game.ref, game.ref[idx]])
    np.testing.assert_allclose(c.ref, mu / mu.sum(), atol=1e-15)


def test_clones_invariance_and_errors():
    g = rock_paper_scissors(ref=[0.5, 0.3, 0.2])
    c = clones(g, [0])
    pi = c.regularized_nash(0.1)
    assert pi[0] == pytest.approx(pi[3], rel=1e-12)
    with pytest.raises(ValueError, match=r"idx\[0\] is 3, expected in \[0, 3\)"):
        clones(g, 3)
    with pytest.raises(TypeError, match="PreferenceGame"):
        clones(np.eye(3), 0)


def test_contextual_stacking():
    g1, g2 = rock_paper_scissors(0.9, ref=[0.5, 0.3, 0.2]), bradley_terry([1.0, 0.0, -1.0])
    c = contextual([g1, g2], weights=[0.2, 0.8])
    assert c.contextual and c.n_contexts == 2 and c.n_responses == 3
    np.testing.assert_array_equal(c.Pref, np.stack([g1.Pref, g2.Pref]))
    np.testing.assert_array_equal(c.ref, np.stack([g1.ref, g2.ref]))
    np.testing.assert_array_equal(c.weights, [0.2, 0.8])
    cc = clones(c, 1)
    assert cc.contextual and cc.Pref.shape == (2, 4, 4)
    np.testing.assert_array_equal(flip(c, 0.1).weights, c.weights)
    with pytest.raises(ValueError, match="same K"):
        contextual([g1, bradley_terry([0.0, 1.0])])
    with pytest.raises(ValueError, match="already contextual"):
        contextual([c])


def test_ref_is_passed_through_and_validated():
    mu = [0.2, 0.3, 0.5]
    assert np.allclose(bradley_terry([0, 1, 2], ref=mu).ref, mu)
    assert np.allclose(uniform_tournament(3, rng=0, ref=mu).ref, mu)
    with pytest.raises(ValueError, match=r"ref\[0\] is 0"):
        thurstone([0, 1, 2], ref=[0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="scores must have at least 2"):
        bradley_terry([1.0])
    with pytest.raises(ValueError, match="K must be >= 2"):
        uniform_tournament(1, rng=0)
