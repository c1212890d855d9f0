"""RPO, HyPO and the first-order solver on log-linear preference tasks: exact identities,
finite-difference gradients (Hypothesis), fixed points and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import preference_learning as pl
from proofs_checks.preference_learning._instances import DATA_POLICY, TRAP, dpo_member, trap_task


def _fd(f, th, e=1e-6):
    return np.array([(f(th + e * u)[0] - f(th - e * u)[0]) / (2 * e) for u in np.eye(th.size)])


@st.composite
def tasks(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    X, K, d = draw(st.integers(1, 3)), draw(st.integers(2, 5)), draw(st.integers(1, 4))
    beta = draw(st.floats(0.1, 2.0))
    task = mdps.LogLinearPreferenceTask.random(X, K, d, beta=beta, norm_bound=2.0, rng=rng)
    theta = rng.standard_normal(d)
    return task, pl.counts_law(task, task.outcome_distribution()), theta, rng


@settings(max_examples=40, deadline=None)
@given(tasks(), st.floats(0.0, 5.0))
def test_gradients_match_finite_differences(case, w):
    task, D, th, rng = case
    base = mdps.softmax(rng.standard_normal((task.n_contexts, task.n_responses)))
    for f in (lambda t: pl.dpo_objective(task, D, t),
              lambda t: pl.rpo_objective(task, D, t, eta=w),
              lambda t: pl.rpo_objective(task, D, t, eta=w, baseline=base),
              lambda t: pl.hypo_objective(task, D, t, lam=w)):
        g = f(th)[1]
        assert np.allclose(g, _fd(f, th), atol=1e-6 * (1 + np.abs(g).max()))


@settings(max_examples=30, deadline=None)
@given(tasks(), st.floats(0.01, 5.0))
def test_zero_weight_is_dpo_and_penalties_are_nonnegative(case, w):
    task, D, th, _ = case
    f0, g0 = pl.dpo_objective(task, D, th)
    for f, g in (pl.rpo_objective(task, D, th, eta=0.0), pl.hypo_objective(task, D, th, lam=0.0)):
        assert np.isclose(f, f0, rtol=1e-14, atol=0) and np.allclose(g, g0, rtol=1e-13, atol=1e-15)  # D renormalised
    assert pl.rpo_objective(task, D, th, eta=w)[0] >= f0
    assert pl.hypo_objective(task, D, th, lam=w)[0] >= f0 - 1e-15
    rho = D.sum(axis=(1, 2))
    kl_val = pl.kl_term(task, rho, th)[0]
    assert kl_val >= -1e-15
    assert np.isclose(kl_val, rho @ mdps.kl(task.policy(th), task.ref), atol=1e-12)


def test_kl_term_zero_iff_ref():
    task = mdps.LogLinearPreferenceTask.one_hot(2, 4, rng=0)
    rho = np.array([0.5, 0.5])
    v, g = pl.kl_term(task, rho, np.zeros(4))
    assert v == 0.0 and np.allclose(g, 0.0)
    v2 = pl.kl_term(task, rho, np.full(4, 3.0))[0]  # a constant shift of one-hot logits is pi = ref
    assert abs(v2) < 1e-14
    assert pl.kl_term(task, rho, np.array([1.0, 0, 0, 0]))[0] > 0


def test_dpo_rpo_hypo_fixed_point_full_coverage():
    task = mdps.LogLinearPreferenceTask.one_hot(1, 5, beta=0.5, rng=3)
    D = task.outcome_distribution()  # uniform sampler: full coverage
    pistar = task.optimal_policy()
    d = pl.dpo_fit(task, D, method="bfgs")
    assert np.allclose(d.policy, pistar, atol=1e-7)
    for eta in (0.1, 1.0, 10.0):  # baseline pi*: both terms are minimised there
        r = pl.rpo(task, D, eta, baseline=pistar)
        assert np.allclose(r.policy, pistar, atol=1e-7)
    # and pi* is a stationary point of the RPO objective
    g = pl.rpo_objective(task, D, task.theta_star, eta=3.0, baseline=pistar)[1]
    assert np.abs(g).max() < 1e-12


def test_gradient_descent_reaches_the_closed_form_dpo_member():
    task = trap_task()
    D = task.outcome_distribution(DATA_POLICY)
    init = np.zeros(10)
    init[TRAP] = [3.0, 1.0]
    for method in ("gd", "bfgs"):
        d = pl.dpo_fit(task, D, init=init, method=method)
        assert np.allclose(d.theta, dpo_member(init), atol=1e-7)
        assert np.array_equal(d.theta[TRAP], init[TRAP])
    assert d.steps[0] == 0 and d.objectives.shape == d.steps.shape


def test_hypo_population_minimiser_keeps_trap_in_ref_proportions():
    task = trap_task(1e-2)
    ref = task.ref.copy()
    D = task.outcome_distribution(DATA_POLICY)
    init = np.zeros(10)
    init[TRAP] = [4.0, -2.0]
    h = pl.hypo(task, D, 0.5, init=init)
    assert np.isclose(h.policy[0, 8] / h.policy[0, 9], ref[0, 8] / ref[0, 9], rtol=1e-6)
    assert np.abs(pl.hypo_objective(task, D, h.theta, lam=0.5)[1]).max() < 1e-8


def test_rpo_drives_unsupported_baseline_mass_down_and_keeps_chosen_likelihood():
    task = trap_task()
    data = task.sample(2000, rng=0, policy=DATA_POLICY)
    r = pl.rpo(task, data, 0.5)
    assert r.policy[0, TRAP].sum() < 1e-6
    d = pl.dpo_fit(task, data, init=np.where(np.isin(np.arange(10), TRAP), 3.0, 0.0))
    assert r.log_pi_chosen[-1] > d.log_pi_chosen[-1]


@pytest.mark.parametrize("kw, match", [
    ({"eta": -1.0}, "eta"), ({"eta": float("nan")}, "eta"), ({"eta": float("inf")}, "eta"),
    ({"eta": 1.0, "baseline": np.ones(10)}, "baseline"), ({"eta": 1.0, "baseline": np.ones(3) / 3}, "baseline"),
    ({"eta": 1.0, "init": np.zeros(3)}, "init"), ({"eta": 1.0, "method": "adam"}, "method"),
    ({"eta": 1.0, "method": "gd", "step": -1.0}, "step"),
])
def test_rpo_bad_input(kw, match):
    task = trap_task()
    with pytest.raises(ValueError, match=match):
        pl.rpo(task, task.outcome_distribution(DATA_POLICY), **kw)


@pytest.mark.parametrize("lam", [-0.1, float("nan"), float("inf")])
def test_hypo_bad_lam(lam):
    task = trap_task()
    with pytest.raises(ValueError, match="lam"):
        pl.hypo(task, task.outcome_distribution(DATA_POLICY), lam)


@pytest.mark.parametrize("counts, match", [
    (np.ones((1, 10, 9)), "shape"), (-np.ones((1, 10, 10)), ">= 0"), (np.zeros((1, 10, 10)), "positive total"),
    (np.ones((1, 10, 10)), "diagonal"),
])
def test_bad_counts(counts, match):
    task = trap_task()
    with pytest.raises(ValueError, match=match):
        pl.rpo(task, counts, 1.0)
    with pytest.raises(ValueError, match=match):
        pl.hypo(task, counts, 1.0)


def test_sampling_policy_with_zeros_is_accepted():
    task = trap_task()
    data = task.sample(500, rng=1, policy=DATA_POLICY)
    c = data.counts()
    assert c[:, TRAP, :].sum() == 0 and c[:, :, TRAP].sum() == 0


def test_hypo_check_population_derivatives_and_newton():
    """The check's independent HyPO derivatives match finite differences of the library's
    objective, and its Newton minimiser matches the library's BFGS on the population law."""
    from proofs_checks.preference_learning import hypo as H

    task = trap_task(1e-2)
    law = task.outcome_distribution(DATA_POLICY)
    rng = np.random.default_rng(3)
    th = rng.normal(size=10)
    g, Hs, G = H.population_derivatives(task, law, 0.1, th)
    obj = lambda t: pl.hypo_objective(task, law, t, lam=0.1)  # noqa: E731
    assert np.allclose(g, obj(th)[1], atol=1e-12)
    fd = np.array([(obj(th + 1e-6 * e)[1] - obj(th - 1e-6 * e)[1]) / 2e-6 for e in np.eye(10)])
    assert np.allclose(Hs, fd, atol=1e-7)
    assert np.allclose(G, G.T) and np.linalg.eigvalsh(G).min() > -1e-12
    theta_lam = H.population_hypo_truth(task, law, 0.1)
    assert np.max(np.abs(obj(theta_lam)[1])) < 1e-12
    h = pl.hypo(task, law, 0.1)
    assert np.allclose(task.policy(theta_lam), h.policy, atol=1e-8)
    F, trace = H.sandwich_error(task, law, 0.1, theta_lam)
    assert np.allclose(F @ np.ones(10), 0.0, atol=1e-14) and trace > 0
