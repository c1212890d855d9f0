"""StepMix and EpsMix (algorithms.exploration.conservative): exact mixture values, edge cases,
determinism across batch sizes, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import mdps
from algorithms import exploration
from proofs_checks.exploration.conservative import audited_values, exact_values


@pytest.fixture(scope="module")
def mdp():
    return mdps.random_finite_horizon(4, 3, 3, rng=3)


def test_exact_values_match_the_library(mdp):
    rng = np.random.default_rng(0)
    pols = rng.dirichlet(np.ones(3), size=(6, 3, 4))
    got = exact_values(mdp, pols)
    want = [float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, p)[0]) for p in pols]
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("agent", ["stepmix", "epsmix"])
def test_recorded_values_are_the_exact_mixture_values(mdp, agent):
    pib = exploration.baseline_with_quality(mdp, 0.8)
    b = getattr(exploration, agent)(mdp, baseline=pib, kappa=0.2, n_episodes=300, bonus_scale=0.01,
                                    keep_policies=True, n_runs=3, rng=1)
    np.testing.assert_allclose(audited_values(mdp, b), b.values, atol=1e-12)
    assert ((b.weights >= 0) & (b.weights <= 1)).all()


def test_epsmix_value_is_the_weighted_average(mdp):
    pib = exploration.baseline_with_quality(mdp, 0.8)
    b = exploration.epsmix(mdp, baseline=pib, kappa=0.2, n_episodes=200, bonus_scale=0.01, keep_policies=True, rng=2)
    vo = np.array([float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, p.astype(np.int64))[0]) for p in b.policies])
    np.testing.assert_allclose(b.values, b.weights * vo + (1 - b.weights) * b.v_baseline, atol=1e-12)


def test_stepmix_mixture_endpoints(mdp):
    pib = exploration.baseline_with_quality(mdp, 0.8)
    pi_o = np.zeros((3, 4), dtype=np.int64)
    v0 = exact_values(mdp, exploration.mixture_policy(pi_o, pib, 0.0)[None])[0]
    v1 = exact_values(mdp, exploration.mixture_policy(pi_o, pib, 1.0)[None])[0]
    assert v0 == pytest.approx(float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, pib)[0]), abs=1e-12)
    assert v1 == pytest.approx(float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, pi_o)[0]), abs=1e-12)


def test_baseline_quality_is_exact(mdp):
    for c in (0.7, 0.9):
        pib = exploration.baseline_with_quality(mdp, c, floor="worst")
        v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
        assert float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, pib)[0]) == pytest.approx(c * v_star, abs=1e-8)


@pytest.mark.parametrize("agent", ["stepmix", "epsmix"])
def test_safe_with_a_tiny_kappa(mdp, agent):
    pib = exploration.baseline_with_quality(mdp, 0.9)
    b = getattr(exploration, agent)(mdp, baseline=pib, kappa=1e-6, n_episodes=200, bonus_scale=0.01, n_runs=4, rng=0)
    assert (b.margin >= -1e-9).all()


def test_optimal_baseline_costs_nothing_beyond_the_slack(mdp):
    # an optimal baseline: every played episode is within kappa V* of the optimum, so the regret of
    # each episode is at most kappa V* (the constraint), and the baseline branch has zero regret.
    pib = exploration.baseline_with_quality(mdp, 1.0)
    for agent in ("stepmix", "epsmix"):
        b = getattr(exploration, agent)(mdp, baseline=pib, kappa=0.05, n_episodes=300, bonus_scale=0.01, n_runs=4,
                                        rng=0)
        assert (b.regret <= 0.05 * b.v_star + 1e-9).all()


@pytest.mark.parametrize("agent", ["stepmix", "epsmix"])
def test_batch_rows_equal_single_runs(mdp, agent):
    pib = np.full((4, 3), 1 / 3)
    f = getattr(exploration, agent)
    batch = f(mdp, baseline=pib, kappa=0.3, n_episodes=100, bonus_scale=0.01, n_runs=3, rng=7)
    children = np.random.SeedSequence(7).spawn(3)
    for i, child in enumerate(children):
        one = f(mdp, baseline=pib, kappa=0.3, n_episodes=100, bonus_scale=0.01, rng=child)
        np.testing.assert_array_equal(one.values, batch.values[i])
        np.testing.assert_array_equal(one.weights, batch.weights[i])


def test_estimated_baseline_value_is_safe(mdp):
    pib = exploration.baseline_with_quality(mdp, 0.9)
    b = exploration.stepmix(mdp, baseline=pib, kappa=0.1, n_episodes=300, bonus_scale=0.01,
                            baseline_value="estimated", n_runs=4, rng=0)
    assert (b.margin >= -1e-9).all()


@pytest.mark.parametrize("kwargs, name", [
    ({"kappa": 0.0}, "kappa"), ({"kappa": 1.0}, "kappa"), ({"kappa": -0.1}, "kappa"),
    ({"n_episodes": 0}, "n_episodes"), ({"baseline": np.full((4, 3), 0.5)}, "baseline"),
    ({"baseline": np.full((4, 2), 0.5)}, "baseline"), ({"baseline_value": "maybe"}, "baseline_value"),
    ({"pessimism_scale": -1.0}, "pessimism_scale"),
])
def test_bad_input_names_the_argument(mdp, kwargs, name):
    args = {"baseline": np.full((4, 3), 1 / 3), "kappa": 0.1, "n_episodes": 10}
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        exploration.stepmix(mdp, **args)


def test_discounted_mdp_is_refused():
    m = mdps.garnet(4, 2, 2, gamma=0.9, rng=0)
    with pytest.raises((ValueError, TypeError), match="finite"):
        exploration.epsmix(m, baseline=np.full((4, 2), 0.5), kappa=0.1, n_episodes=5)
