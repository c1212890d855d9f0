"""Online mirror descent / Hedge self-play / INPO's OMD step (algorithms.nash.omd, inpo): their
theorems through the bound functions beside the algorithm.

* Hedge self-play [der ✔, preference.md 2.6; Cesa-Bianchi & Lugosi 2006 Thm 2.2]: the average
  iterate has ``E_0 <= (log(1/min pi_0) + sum eta_t^2/8) / sum eta_t``
  (:func:`hedge_average_bound`), ``= sqrt(log K/(2T))`` (:func:`hedge_exploitability_bound`)
  for uniform ``pi_0`` and ``eta = sqrt(8 log K/T)`` (:func:`hedge_step`); the last iterate
  cycles (``KL(pi*, pi_t)`` non-decreasing for an interior Nash).
* Regularised OMD / INPO [der, preference.md 2.2-2.3]: near ``pi*_beta`` the logit map is
  linear with Jacobian of spectral radius ``rho = sqrt((1 - eta beta)^2 + eta^2 omega^2)``
  (:func:`omd_stability` gives ``omega``, :func:`omd_kl_factor` gives ``rho^2``), and KL
  contracts by exactly ``rho^2`` per iteration along the slowest mode; unstable beyond
  ``eta = 2 beta/(beta^2 + omega^2)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from algorithms.nash import (
    dno,
    hedge_average_bound,
    hedge_exploitability_bound,
    hedge_step,
    inpo,
    linearized_prox_step,
    omd_kl_factor,
    omd_stability,
    online_mirror_descent,
    spo,
)
from mdps.numerics import kl, softmax
from mdps.preference_generators import contextual, cycle, rock_paper_scissors, uniform_tournament
from tests._nash_helpers import seeded_game

# --------------------------------------------------------------------------------------------- Hedge


def test_hedge_functions_closed_forms():
    """hedge_step^2 T / 8 = log K; with it and a uniform start the general bound is the headline one."""
    for K, T in [(2, 1), (3, 100), (50, 10_000)]:
        eta = hedge_step(K, T)
        assert eta ** 2 * T / 8 == pytest.approx(math.log(K), rel=1e-14)
        general = hedge_average_bound(np.full(T, eta), np.full(K, 1.0 / K))
        assert general == pytest.approx(hedge_exploitability_bound(K, T), rel=1e-12)
    np.testing.assert_allclose(hedge_exploitability_bound(4, np.array([1, 2, 8])),
                               np.sqrt(math.log(4) / (2 * np.array([1, 2, 8]))), rtol=1e-15)
    with pytest.raises(ValueError, match="K must be >= 2"):
        hedge_step(1, 10)
    with pytest.raises(ValueError, match="T must be >= 1"):
        hedge_exploitability_bound(3, 0)
    with pytest.raises(ValueError, match="init must have full support"):
        hedge_average_bound([0.1], [1.0, 0.0])
    with pytest.raises(ValueError, match="step_sizes must be"):
        hedge_average_bound([0.1, -0.1], [0.5, 0.5])


def test_hedge_on_rock_paper_scissors_cycles_and_average_obeys_regret_bound():
    """Hedge self-play (OMD beta=0 = SPO exact = DNO exact):
    * last iterate: KL(uniform, pi_t) non-decreasing [der ✔, 2.6], so it never converges;
    * average iterate within :func:`hedge_average_bound` for constant and decaying steps; with
      uniform pi_0 and :func:`hedge_step`, within :func:`hedge_exploitability_bound`.
    """
    game = rock_paper_scissors(1.0)
    pi0 = np.array([0.5, 0.3, 0.2])
    uni = np.full(3, 1 / 3)
    for T in (100, 1000, 10000):
        eta = math.sqrt(8 * math.log(1 / pi0.min()) / T)
        for sched in ("constant", "decaying"):
            for fn in (lambda: online_mirror_descent(game, 0.0, eta, T, init=pi0, schedule=sched),
                       lambda: spo(game, eta, T, init=pi0, schedule=sched),
                       lambda: dno(game, eta, T, init=pi0, schedule=sched)):
                res = fn()
                e = res.settings.step_sizes
                bound = hedge_average_bound(e, pi0)
                assert bound == (math.log(1 / pi0.min()) + (e ** 2).sum() / 8) / e.sum()
                assert game.exploitability(res.average_policy) <= bound
        d = kl(uni, res.policies)
        assert np.all(np.diff(d) >= -1e-12) and d[-1] >= d[0] > 0.05
    # headline constant on uniform tournaments with uniform pi_0
    for seed in range(3):
        g = uniform_tournament(8, rng=seed)
        for T in (100, 2000):
            res = online_mirror_descent(g, 0.0, hedge_step(8, T), T)
            assert g.exploitability(res.average_policy) <= hedge_exploitability_bound(8, T)


# --------------------------------------------------------------------------------------------- OMD / INPO
GAMES = [seeded_game(s, K) for s, K in ((0, 8), (1, 6), (2, 9), (3, 5))] + [
    rock_paper_scissors(1.0, ref=[0.5, 0.3, 0.2]), cycle(5, 0.9)]


def _jacobian(game, beta, eta, star):
    """Central differences of the logit map z -> linearised prox(z, Pref softmax(z)) at log pi*."""
    K, lm = game.n_responses, np.log(game.ref)

    def T(z):
        return linearized_prox_step(z, lm, game.Pref @ softmax(z), eta, beta)

    z0, h = np.log(star), 1e-5
    J = np.empty((K, K))
    for j in range(K):
        e = np.zeros(K)
        e[j] = h
        J[:, j] = (T(z0 + e) - T(z0 - e)) / (2 * h)
    return J


@pytest.mark.parametrize("gi", range(len(GAMES)))
@pytest.mark.parametrize("beta", [0.05, 0.3])
def test_omd_kl_factor_is_the_jacobian_spectral_radius_and_the_observed_contraction(gi, beta):
    """(i) The finite-difference Jacobian of the actual OMD / INPO map at pi* has spectral radius^2
    = omd_kl_factor(eta, beta, omega) (the linearisation is exact: agreement to 1e-8, the
    central-difference error); (ii) started along its slowest mode, INPO's KL(pi*, pi_t) falls by
    that factor at every step (to 1e-3: the O(perturbation) nonlinearity, measured <= 7e-5, and
    KL round-off, compared only while KL > 1e-11)."""
    game = GAMES[gi]
    star, omega, limit = omd_stability(game, beta)
    eta = min(0.25 * limit, 1 / beta)
    rho2 = omd_kl_factor(eta, beta, omega)
    assert rho2 < 1
    J = _jacobian(game, beta, eta, star)
    ev, V = np.linalg.eig(J)
    i = int(np.argmax(np.abs(ev)))
    assert np.abs(ev[i]) ** 2 == pytest.approx(rho2, rel=1e-8)
    v = np.real(V[:, i])
    res = inpo(game, beta, eta, 400, init=softmax(np.log(star) + 1e-3 * v / np.abs(v).max()))
    d = kl(star, res.policies)
    live = np.flatnonzero((d[:-1] > 1e-11) & (d[1:] > 1e-11))
    assert live.size >= 2
    np.testing.assert_allclose(d[live + 1] / d[live], rho2, rtol=1e-3)


def test_omd_is_unstable_beyond_the_limit():
    """At 1.5 x the limit rho^2 = 1 + 1.5 eta_limit beta > 1, and KL grows from a small
    perturbation by 1e4 within log(1e4)/log(rho^2) iterations (up to the O(eta^2) slack of the
    linearisation). Games whose 1.5 x limit leaves the linearised step's domain eta beta <= 1 (a
    pure equilibrium has omega ~ 0) are not used; at least four are."""
    beta, used = 0.02, 0
    rng = np.random.default_rng(0)
    for game in GAMES:
        star, omega, limit = omd_stability(game, beta)
        eta = 1.5 * limit
        if eta * beta > 1:
            continue
        used += 1
        rho2 = omd_kl_factor(eta, beta, omega)
        assert rho2 == pytest.approx(1 + 1.5 * limit * beta, rel=1e-12)
        n = int(math.ceil(2 * math.log(1e4) / math.log(rho2)))
        res = inpo(game, beta, eta, n, init=softmax(np.log(star) + 1e-7 * rng.standard_normal(game.n_responses)))
        d = kl(star, res.policies)
        assert d[-1] > 1e4 * d[0]
    assert used >= 4


def test_omd_kl_factor_stability_boundary_is_exact():
    """(1 - eta beta)^2 + eta^2 omega^2 < 1  <=>  eta < 2 beta / (beta^2 + omega^2) (algebra)."""
    for beta, omega in [(0.05, 0.3), (0.3, 0.01), (1.0, 2.0)]:
        limit = 2 * beta / (beta ** 2 + omega ** 2)
        assert omd_kl_factor(limit, beta, omega) == pytest.approx(1.0, abs=1e-14)
        assert omd_kl_factor(0.99 * limit, beta, omega) < 1 < omd_kl_factor(1.01 * limit, beta, omega)
    with pytest.raises(ValueError, match="omega must be >= 0"):
        omd_kl_factor(0.1, 0.1, -1.0)


def test_omd_stability_contextual_is_the_slowest_context():
    games = [seeded_game(10 + x, 4) for x in range(3)]
    per = [omd_stability(g, 0.2) for g in games]
    star, omega, limit = omd_stability(contextual(games), 0.2)
    np.testing.assert_allclose(star, np.stack([p[0] for p in per]), atol=1e-14)
    assert omega == max(p[1] for p in per) and limit == min(p[2] for p in per)
    with pytest.raises(TypeError, match="game must be an mdps.PreferenceGame"):
        omd_stability(np.eye(3), 0.2)
