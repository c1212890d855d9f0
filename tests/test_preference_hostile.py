"""Hostile and extreme inputs on preference games: regression tests of the review of 2026-11-29
(``reviews/2026-11-29-hostile.md``, defects D2, D3, D5, D8, D9, D10; issue 6 section 2).

Each test reproduces a reviewed failure and failed on the code before its fix (commit c445955):
D2 ``atol=inf`` rewrote ``Pref`` to 1/2; D3 numeric strings and complex numbers slipped through
scalar arguments; D5 ``tol=5e-324`` raised ZeroDivisionError; D8 ``exploitability`` raised
"please report" at ``beta = 1000``; D9 ``regularized_nash`` was "not certified" for
``beta >= 1e4`` and stalled for ``beta <= 1e-6``; D10 ``beta = 5e-324`` gave ``inf`` / NaN.

The certificate (mdps.preference module docstring) is scaled to ``beta``:
``E_beta(pi) <= 64 eps S`` with ``S = 1 + beta (2 max|log mu| + 3K)`` and residual
``<= 64 eps (max|log mu| + K/beta)``; ``E_beta(pi) >= beta KL(pi || pi*)`` turns the first into
a KL bound.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdps.numerics import kl
from mdps.preference import BETA_MAX, BETA_MIN, PreferenceGame, check_beta
from mdps.preference_generators import bradley_terry, clones, rock_paper_scissors, uniform_tournament
from tests.strategies import preference_game, simplex

EPS = np.finfo(np.float64).eps
INTRANSITIVE = [[0.5, 0.9, 0.3], [0.1, 0.5, 0.6], [0.7, 0.4, 0.5]]


def _random_game(seed, K=None):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 12)) if K is None else K
    return uniform_tournament(K, rng=rng, ref=rng.dirichlet(np.ones(K)))


def _scale(game, beta):
    """``S = 1 + beta (2 max|log mu| + 3K)``: the round-off scale of the closed form of E_beta."""
    return 1.0 + beta * (2 * np.abs(np.log(game.ref)).max() + 3 * game.n_responses)


# --------------------------------------------------------------------------------------------- D2
@pytest.mark.parametrize("atol, exc", [(np.inf, ValueError), (np.nan, ValueError), (-1.0, ValueError),
                                       (1e-2, ValueError), ("1e-9", TypeError), (True, TypeError),
                                       (1e-9 + 0j, TypeError)])
def test_atol_is_validated(atol, exc):
    """D2: atol=inf used to accept [[.5, .9], [.9, .5]] and silently store 1/2 everywhere; nan
    accepted anything; -1 rejected everything with a confusing message."""
    with pytest.raises(exc, match="atol must be"):
        PreferenceGame([[0.5, 0.9], [0.9, 0.5]], atol=atol)


def test_valid_atol_still_accepted():
    game = PreferenceGame([[0.5, 0.9 + 5e-5], [0.1, 0.5]], atol=1e-4)
    assert game.Pref[0, 1] == pytest.approx(0.9 + 2.5e-5, abs=1e-16)
    with pytest.raises(ValueError, match="expected 1 within 0"):
        PreferenceGame([[0.5, 0.9 + 5e-5], [0.1, 0.5]], atol=0.0)


# --------------------------------------------------------------------------------------------- D3
GAME = PreferenceGame(INTRANSITIVE, ref=[0.5, 0.3, 0.2])
CTX = PreferenceGame(np.stack([np.asarray(INTRANSITIVE)] * 2), weights=[0.5, 0.5])
PI = np.array([0.2, 0.3, 0.5])
C = PI + 0j

COMPLEX_OR_STRING = [
    ("Pref complex", lambda: PreferenceGame(np.asarray(INTRANSITIVE) + 0j), "Pref"),
    ("Pref strings", lambda: PreferenceGame([["0.5", "0.9"], ["0.1", "0.5"]]), "Pref"),
    ("ref complex", lambda: PreferenceGame(INTRANSITIVE, ref=C), "ref"),
    ("weights complex", lambda: PreferenceGame(np.stack([INTRANSITIVE] * 2), weights=np.array([0.5, 0.5]) + 0j),
     "weights"),
    ("win_rates", lambda: GAME.win_rates(C), "pi"),
    ("preference pi2", lambda: GAME.preference(PI, ["0.2", "0.3", "0.5"]), "pi2"),
    ("exploitability pi", lambda: GAME.exploitability(C, 0.1), "pi"),
    ("exploitability ref", lambda: GAME.exploitability(PI, 0.1, ref=C), "ref"),
    ("exploitability beta", lambda: GAME.exploitability(PI, 0.1 + 0j), "beta"),
    ("exploitability beta str", lambda: GAME.exploitability(PI, "0.1"), "beta"),
    ("residual", lambda: GAME.fixed_point_residual(C, 0.1), "pi"),
    ("regularized_nash ref", lambda: GAME.regularized_nash(0.1, ref=C), "ref"),
    ("regularized_nash tol str", lambda: GAME.regularized_nash(0.1, tol="1e-15"), "tol"),
    ("regularized_nash tol complex", lambda: GAME.regularized_nash(0.1, tol=1e-15 + 0j), "tol"),
    ("certificate", lambda: GAME.equilibrium_certificate(C, 0.1), "pi"),
    ("duel i", lambda: GAME.duel(np.array([0 + 0j]), 1, rng=0), "i"),
    ("duel context", lambda: CTX.duel(0, 1, context=["0"], rng=0), "context"),
    ("duel noise", lambda: GAME.duel(0, 1, rng=0, noise="0.1"), "noise"),
    ("empirical pi", lambda: GAME.empirical_win_rates(C, 5, rng=0), "pi"),
    ("empirical n", lambda: GAME.empirical_win_rates(PI, 5.0, rng=0), "n_samples"),
    ("scores", lambda: bradley_terry(np.array([1.0, 2.0]) + 0j), "scores"),
]


@pytest.mark.parametrize("name, call, arg", COMPLEX_OR_STRING, ids=[c[0] for c in COMPLEX_OR_STRING])
def test_complex_and_string_inputs_refused_naming_the_argument(name, call, arg):
    """D3: one style everywhere: TypeError naming the argument (before: tol="1e-15" raised a
    ValueError, atol="1e-9" was accepted)."""
    with pytest.raises(TypeError, match=rf"^{arg}\b"):
        call()


@pytest.mark.parametrize("rng", ["abc", 1.5, True, -1, [1.5]])
def test_bad_rng_named(rng):
    """D12 (for the preference games): numpy's own SeedSequence message did not name ``rng``."""
    with pytest.raises((TypeError, ValueError), match="^rng must be"):
        GAME.duel(0, 1, rng=rng)
    with pytest.raises((TypeError, ValueError), match="^rng must be"):
        uniform_tournament(4, rng=rng)


# --------------------------------------------------------------------------------------------- D5
def test_extreme_tol_is_safe():
    """D5: tol=5e-324 raised ZeroDivisionError and tol=1e300 OverflowError in the iteration cap."""
    pi = GAME.regularized_nash(0.1, tol=5e-324)
    assert GAME.equilibrium_certificate(pi, 0.1).certified
    with pytest.raises(RuntimeError, match="not certified"):  # stops after one iteration: honest failure
        GAME.regularized_nash(0.1, tol=1e300)
    for tol in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="tol must be finite and > 0"):
            GAME.regularized_nash(0.1, tol=tol)


@pytest.mark.parametrize("beta", [1e-10, 1e-9, 1e200, BETA_MAX])
def test_extreme_beta_iteration_caps_are_finite(beta):
    """D5: the default cap ``log(8 KL_0 / tol^2) / log(1 + 2 beta)`` overflowed at the beta extremes."""
    pi = GAME.regularized_nash(beta)
    assert np.all(np.isfinite(pi)) and GAME.equilibrium_certificate(pi, beta).certified


# --------------------------------------------------------------------------------------------- D8
def test_exploitability_at_beta_1000_does_not_raise():
    """D8: the round-off clip was an absolute 1e-14, but E_beta's round-off grows like eps * beta;
    at beta = 1000, exploitability(pi*_beta) raised "please report" on 248 of these 500 games."""
    beta = 1000.0
    for seed in range(500):
        game = _random_game(seed)
        pi = game.regularized_nash(beta)
        e = game.exploitability(pi, beta)
        assert 0.0 <= e <= 64 * EPS * _scale(game, beta)


@settings(max_examples=40)
@given(game=preference_game(max_K=8), beta=st.floats(1.0, 1e6), data=st.data())
def test_exploitability_clip_is_never_hit_on_valid_input(game, beta, data):
    """Any policy: E_beta >= beta KL(pi || pi*) >= 0 (theory 3.5), so no valid input may raise."""
    pi = data.draw(simplex(game.n_responses))
    e = game.exploitability(pi, beta)
    star = game.regularized_nash(beta)
    assert e >= beta * kl(pi, star) - 64 * EPS * _scale(game, beta)


# --------------------------------------------------------------------------------------------- D9
@pytest.mark.parametrize("beta", [1e4, 1e5, 1e6])
def test_large_beta_is_certified(beta):
    """D9: at beta >= 1e4 the absolute 1e-12 certificate refused answers whose residual was 5e-17
    (12, 45 and 53 of these 100 random 4x4 games at 1e4, 1e5, 1e6)."""
    for seed in range(100):
        rng = np.random.default_rng(seed)
        game = uniform_tournament(4, rng=rng, ref=rng.dirichlet(np.ones(4)))
        pi = game.regularized_nash(beta)
        cert = game.equilibrium_certificate(pi, beta)
        assert cert.certified and cert.kl_bound <= 64 * EPS * _scale(game, beta) / beta


@pytest.mark.parametrize("beta", [1e-6, 1e-8])
def test_small_beta_is_computed_and_certified(beta):
    """D9: beta <= 1e-6 stalled in Mirror Prox (contraction (1 + 2 beta)^-1 per iteration) and was
    not certified on 16-17 of 20 random games; now Newton continuation (seeds 0..19)."""
    for seed in range(20):
        game = _random_game(seed, K=4)
        pi = game.regularized_nash(beta)
        cert = game.equilibrium_certificate(pi, beta)
        assert cert.certified
        # the regularisation bias bound (theory 1.2): E_0(pi*_beta) <= beta log(1 / min mu)
        assert game.exploitability(pi) <= beta * np.log(1 / game.ref.min()) + 64 * EPS


@settings(max_examples=60, deadline=None)
@given(game=preference_game(max_K=8), log10_beta=st.floats(-8.0, 6.0), data=st.data())
def test_regularized_nash_certified_across_beta(game, log10_beta, data):
    """beta log-uniform in [1e-8, 1e6] on random games (exact 0, 1/2, 1 entries likely, so
    degenerate games included):

    * the certificate holds: E_beta(pi*) <= 64 eps S and the residual <= 64 eps (L + K/beta);
    * pi* is the minimiser of E_beta at the scale: E_beta(pi) >= beta KL(pi || pi*) - 64 eps S for
      a random pi supported where pi* is (theory 3.5), so E_beta(pi*) ~ 0 relative to the scale;
    * pi* = softmax(log mu + A pi* / beta) means log(pi*/mu) - A pi*/beta is constant on the
      support, hence span(log pi* - log mu) <= span(A pi*)/beta <= 1/beta;
    * bias bound E_0(pi*) <= beta log(1/min mu) (theory 1.2).
    """
    beta = 10.0 ** log10_beta
    pi = game.regularized_nash(beta)
    assert pi.shape == (game.n_responses,) and np.all(pi >= 0) and abs(pi.sum() - 1) <= 1e-12
    cert = game.equilibrium_certificate(pi, beta)
    S = _scale(game, beta)
    assert cert.certified and cert.exploitability <= 64 * EPS * S
    other = data.draw(simplex(game.n_responses))
    if np.all(pi[other > 0] > np.finfo(float).tiny):  # (masses that underflowed to 0 or subnormals: KL wrong)
        assert game.exploitability(other, beta) >= beta * kl(other, pi) - 64 * EPS * S
    pos = pi > 1e-300
    d = np.log(pi[pos]) - np.log(game.ref[pos])
    assert d.max() - d.min() <= (1 + 1e-9) / beta + 1e-12 * np.abs(d).max()
    assert game.exploitability(pi) <= beta * np.log(1 / game.ref.min()) + 64 * EPS


def test_small_beta_limit_is_the_kl_projection_on_a_degenerate_game():
    """Theory 1.2: rock duplicated (R1, R2, P, S) with mu = (.4, .1, .25, .25) has pi*_beta ->
    (4, 1, 5, 5)/15 (a non-unique Nash set; the limit is the KL projection of mu). At beta = 1e-8
    the distance is O(beta)."""
    game = clones(rock_paper_scissors(), [0], ref=[0.4, 0.25, 0.25, 0.1])
    pi = game.regularized_nash(1e-8)
    np.testing.assert_allclose(pi[[0, 3, 1, 2]], np.array([4, 1, 5, 5]) / 15, atol=1e-6)


def test_continuation_agrees_with_long_mirror_prox():
    """Below beta = 1e-2 the equilibrium comes from Newton continuation; an independent route is
    Nash Mirror Prox run for n iterations with (1 + 2 beta)^-n KL_0 <= 1e-30 (Tiapkin et al.'s
    contraction). Pinsker on both sides: |pi - mp|_1 <= sqrt(2 kl_bound) + sqrt(2e-30 KL_0)."""
    from algorithms.nash import nash_mirror_prox

    for seed in range(5):
        game = _random_game(100 + seed)
        for beta in (0.005, 0.001):
            pi = game.regularized_nash(beta)
            n = int(math.ceil(math.log(1e30) / math.log1p(2 * beta)))
            mp = nash_mirror_prox(game, beta, 2.0, n).policy
            kl0 = kl(pi, game.ref)
            bound = math.sqrt(2 * game.equilibrium_certificate(pi, beta).kl_bound) + math.sqrt(2e-30 * kl0)
            assert np.abs(pi - mp).sum() <= bound + 1e-13


# --------------------------------------------------------------------------------------------- D10
@pytest.mark.parametrize("beta", [5e-324, 1e-310, BETA_MIN / 2, 2 * BETA_MAX, 1e308])
def test_beta_outside_the_float_range_refused(beta):
    """D10: beta = 5e-324 gave exploitability inf and residual NaN silently."""
    for call in (lambda: GAME.exploitability(PI, beta), lambda: GAME.fixed_point_residual(PI, beta),
                 lambda: GAME.regularized_nash(beta), lambda: GAME.equilibrium_certificate(PI, beta)):
        with pytest.raises(ValueError, match=r"beta must lie in \[1e-300, 1e\+300\]"):
            call()


@pytest.mark.parametrize("beta", [BETA_MIN, 1e-200, 1e-20, 1e20, 1e200, BETA_MAX])
def test_finite_answers_at_the_ends_of_the_beta_range(beta):
    for pi in (PI, np.array([1.0, 0.0, 0.0]), GAME.ref):
        e = GAME.exploitability(pi, beta)
        r = GAME.fixed_point_residual(pi, beta)
        assert math.isfinite(e) and e >= 0 and math.isfinite(r)
    # the limits: E_beta -> E_0 (beta -> 0) and E_beta(ref) -> max_y (A ref)_y - E_ref[A ref] = E_0(ref)
    if beta <= 1e-20:
        assert GAME.exploitability(PI, beta) == pytest.approx(GAME.exploitability(PI), abs=1e-12)


def test_regularized_nash_refuses_beta_below_its_floor():
    with pytest.raises(ValueError, match=r"beta must be >= 1e-10 for regularized_nash"):
        GAME.regularized_nash(1e-11)


def test_check_beta_contract():
    assert check_beta(0.5) == 0.5 and check_beta(0, allow_zero=True) == 0.0
    with pytest.raises(TypeError, match="beta must be a real number"):
        check_beta(np.bool_(True))
    with pytest.raises(ValueError, match="eta must be finite and > 0"):
        check_beta(0.0, name="eta")
    assert check_beta(np.float32(0.25)) == 0.25


@pytest.mark.parametrize("beta", [1e-6, 1e4])
def test_contextual_equilibrium_at_extreme_beta_is_per_context(beta):
    """Contexts decouple (preference.md 0.2): the contextual solve equals the per-context solves,
    at both ends of the beta range (continuation per context; scaled certificate)."""
    from mdps.preference_generators import contextual

    games = [_random_game(200 + x, K=5) for x in range(3)]
    game = contextual(games, weights=[0.2, 0.3, 0.5])
    pi = game.regularized_nash(beta)
    for x, g in enumerate(games):
        np.testing.assert_allclose(pi[x], g.regularized_nash(beta), atol=1e-13, rtol=0)
    assert game.equilibrium_certificate(pi, beta).certified
