"""Nash Mirror Prox (algorithms.nash.mirror_prox): its theorem through the bound function
:func:`algorithms.nash.nash_mp_kl_envelope`, and the approximate-prox variant.

Tiapkin et al. 2025 (arXiv 2505.19731, v1) main theorem [abs]: ``KL(pi*, pi_k) <= (1 + 2 beta)^{-k}
KL(pi*, pi_0)`` at ``eta = 2``, i.e. ``(1 + 2 beta)^{-N/2}`` after ``N = 2k`` queries; general
form ``(1 + eta beta)^{-k}`` for ``eta <= 2`` and the per-step contraction ``KL_{k+1} <= KL_k /
(1 + eta beta)`` [der ✔, preference.md 2.2]. KL is compared only while above the float64 floor
1e-13 (preference.md 3.6).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.nash import nash_mirror_prox, nash_mp_kl_envelope
from mdps.numerics import kl
from mdps.preference_generators import rock_paper_scissors
from tests._nash_helpers import seeded_game
from tests.strategies import preference_game

KL_FLOOR = 1e-13


def test_envelope_closed_form_and_arguments():
    assert nash_mp_kl_envelope(0.5, 4) == 0.25  # (1 + 2 * 0.5)^(-4/2)
    assert nash_mp_kl_envelope(0.5, 0) == 1.0
    assert nash_mp_kl_envelope(0.3, 6, eta=1.0) == pytest.approx(1.3 ** -3, rel=1e-15)
    out = nash_mp_kl_envelope(np.array([0.1, 1.0]), np.array([[0], [2], [4]]))
    np.testing.assert_allclose(out, (1 + 2 * np.array([0.1, 1.0])) ** (-np.array([[0], [1], [2]])), rtol=1e-15)
    with pytest.raises(ValueError, match="eta must be <= 2"):
        nash_mp_kl_envelope(0.1, 2, eta=2.5)
    with pytest.raises(ValueError, match="queries must be >= 0"):
        nash_mp_kl_envelope(0.1, -2)
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        nash_mp_kl_envelope(np.array([0.1, 0.0]), 2)
    with pytest.raises(TypeError, match="beta must be a real number"):
        nash_mp_kl_envelope("0.1", 2)


@pytest.mark.parametrize("beta", [0.05, 0.2, 1.0])
def test_nash_mirror_prox_linear_rate(beta):
    """[abs] KL(pi*, pi_k) <= envelope(beta, N = 2k) KL(pi*, pi_0) at eta = 2; [der ✔] per step
    KL_{k+1} <= KL_k / (1 + eta beta) for eta in {0.5, 1, 2}."""
    games = [seeded_game(50, 5), seeded_game(51, 10), seeded_game(52, 30), rock_paper_scissors(1.0, ref=[0.5, 0.3, 0.2])]
    for game in games:
        star = game.regularized_nash(beta)
        for eta in (2.0, 1.0, 0.5):
            res = nash_mirror_prox(game, beta, eta, 60)
            d = kl(star, res.policies)
            live = d[:-1] > KL_FLOOR
            one_step = nash_mp_kl_envelope(beta, 2, eta=eta)  # (1 + eta beta)^-1
            assert np.all(d[1:][live] <= d[:-1][live] * one_step * (1 + 1e-9) + 1e-15)
            if eta == 2.0:
                k = np.arange(61)
                np.testing.assert_array_equal(res.queries, 2 * k)
                bound = nash_mp_kl_envelope(beta, res.queries) * d[0]
                assert np.all(d[d > KL_FLOOR] <= bound[d > KL_FLOOR] * (1 + 1e-9))


@settings(max_examples=30)
@given(game=preference_game(max_K=8), beta=st.floats(0.05, 2.0), eta=st.floats(0.1, 2.0))
def test_envelope_holds_on_random_games(game, beta, eta):
    """The envelope at any eta <= 2, on random games (exact 0, 1/2, 1 entries likely)."""
    star = game.regularized_nash(beta)
    res = nash_mirror_prox(game, beta, eta, 40)
    d = kl(star, res.policies)
    bound = nash_mp_kl_envelope(beta, res.queries, eta=eta) * d[0]
    live = d > KL_FLOOR
    assert np.all(d[live] <= bound[live] * (1 + 1e-9) + 1e-15)


def test_approximate_mirror_prox_converges_to_exact_as_inner_steps_grow():
    """Inner mirror ascent contracts at |1 - alpha (1 + eta beta)| per step (module docstring):
    many inner steps reproduce the exact trajectory; the final error decreases with m."""
    game, beta = seeded_game(6, 6), 0.2
    exact = nash_mirror_prox(game, beta, 2.0, 15)
    alpha = 0.5 / (1 + 2.0 * beta)
    errs = [np.abs(nash_mirror_prox(game, beta, 2.0, 15, inner_steps=m, inner_lr=alpha).policies
                   - exact.policies).max() for m in (1, 2, 4, 60)]
    assert errs[-1] < 1e-12
    assert errs[0] > errs[1] > errs[2] > errs[3]


def test_settings_record_the_prox():
    game = seeded_game(7, 4)
    res = nash_mirror_prox(game, 0.2, 2.0, 3, inner_steps=2, inner_lr=0.3)
    s = res.settings
    assert (s.inner_steps, s.inner_lr, s.inner_method, s.beta, s.eta, s.n_iter) == (2, 0.3, "mirror", 0.2, 2.0, 3)
    s = nash_mirror_prox(game, 0.2, 2.0, 3).settings
    assert (s.inner_steps, s.inner_lr, s.inner_method) == (None, None, None)
