"""Estimators of the DPO family on the log-linear task (algorithms.preference_learning.fit)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit

import mdps
from algorithms import preference_learning as pl


def _chain3(r):
    """One context, K = 3, one-hot features, uniform ref, beta = 1: theta_star = r."""
    return mdps.LogLinearPreferenceTask(np.eye(3)[None], np.ones(3) / 3, np.asarray(r, float), 1.0)


def _task2(delta):
    """One context, K = 2, phi = (1, 0), beta = 1: the margin of (0 over 1) is theta."""
    return mdps.LogLinearPreferenceTask(np.array([[[1.0], [0.0]]]), np.ones(2) / 2, np.array([delta]), 1.0)


# ----------------------------------------------------------------------------- population minimisers


@pytest.mark.parametrize("seed", range(5))
def test_clean_dpo_and_noisy_rdpo_recover_theta_star(seed):
    task = mdps.LogLinearPreferenceTask.random(3, 4, 3, theta_norm=1.5, rng=seed)
    for res in (pl.population_minimiser(task, "dpo"),
                pl.population_minimiser(task, "rdpo", eps=0.25, noise_eps=0.25),
                pl.population_minimiser(task, "rdpo", eps=0.0)):
        np.testing.assert_allclose(res.theta, task.theta_star, atol=1e-8, rtol=0)
        assert res.certificate.converged and res.certificate.kkt_residual <= 1e-10


def test_noisy_dpo_and_cdpo_are_biased():
    task = mdps.LogLinearPreferenceTask.random(3, 4, 3, theta_norm=1.5, rng=0)
    for loss, eps in (("dpo", None), ("cdpo", 0.2)):
        res = pl.population_minimiser(task, loss, eps=eps, noise_eps=0.2)
        assert np.linalg.norm(res.theta - task.theta_star) > 0.1
        assert np.linalg.norm(res.theta) < np.linalg.norm(task.theta_star)  # shrunk margins


@pytest.mark.parametrize("delta", [-2.0, 0.3, 1.0, 3.0])
@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_k2_closed_forms(delta, eps):
    # K = 2: the one pair decouples, so the population minimiser solves the per-pair first-order
    # condition with observed probability p = (1-eps) sigma(Delta) + eps sigma(-Delta):
    # DPO: sigma(z) = p; cDPO and rDPO below.
    task = _task2(delta)
    p = (1 - eps) * expit(delta) + eps * expit(-delta)
    dpo = pl.population_minimiser(task, "dpo", noise_eps=eps)
    assert dpo.theta[0] == pytest.approx(logit(p), abs=1e-9)
    # cDPO's gradient p (-sigma(-z) + e) + (1-p) (sigma(z) - e) = 0  <=>  sigma(z) = p + e (1 - 2p)
    e = 0.1
    cdpo = pl.population_minimiser(task, "cdpo", eps=e, noise_eps=eps)
    assert cdpo.theta[0] == pytest.approx(logit(p + e * (1 - 2 * p)), abs=1e-9)
    rdpo = pl.population_minimiser(task, "rdpo", eps=eps, noise_eps=eps)
    assert rdpo.theta[0] == pytest.approx(delta, abs=1e-9)


def test_cdpo_deterministic_label_minimiser_is_logit_one_minus_eps():
    # all comparisons one way (a deterministic clean label): cDPO's per-pair minimiser is logit(1-eps)
    task = _task2(0.0)
    C = np.array([[[0.0, 7.0], [0.0, 0.0]]])
    for e in (0.05, 0.2, 0.4):
        res = pl.fit(task, C, "cdpo", eps=e)
        assert res.theta[0] == pytest.approx(logit(1 - e), abs=1e-9)


def test_note_example_k3():
    # rDPO note's example: K = 3, all pairs, eps = 0.3, consecutive true gaps 0.5 and 1.0
    # (r = (1.5, 1, 0)); DPO's implicit gaps are 0.18 and 0.357 as stated to 3 digits (tolerance
    # 1e-3, the precision of the statement), rDPO recovers 0.5 and 1.0 to round-off.
    task = _chain3([1.5, 1.0, 0.0])
    th = pl.population_minimiser(task, "dpo", noise_eps=0.3).theta
    assert th[0] - th[1] == pytest.approx(0.18, abs=1e-3)
    assert th[1] - th[2] == pytest.approx(0.357, abs=1e-3)
    th = pl.population_minimiser(task, "rdpo", eps=0.3, noise_eps=0.3).theta
    assert th[0] - th[1] == pytest.approx(0.5, abs=1e-9)
    assert th[1] - th[2] == pytest.approx(1.0, abs=1e-9)


def test_one_hot_minimum_norm_and_covariance_on_identifiable_subspace():
    task = mdps.LogLinearPreferenceTask.one_hot(2, 4, rng=1)
    res = pl.population_minimiser(task, "dpo")
    centred = task.theta_star - task.theta_star.mean()  # theta_star modulo the all-ones direction
    np.testing.assert_allclose(res.theta, centred, atol=1e-9)
    np.testing.assert_allclose(res.policy, task.optimal_policy(), atol=1e-9)
    cov = pl.asymptotic_covariance(task, "rdpo", eps=0.1, noise_eps=0.1)
    np.testing.assert_allclose(cov @ np.ones(4), 0.0, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(cov)[1:] > 0)


# ----------------------------------------------------------------------------- solver and certificate


def test_radius_active_case_is_on_the_sphere_with_kkt():
    task = mdps.LogLinearPreferenceTask.random(2, 5, 3, theta_norm=2.0, rng=3)
    res = pl.population_minimiser(task, "rdpo", eps=0.1, noise_eps=0.1, radius=0.5)
    c = res.certificate
    assert c.active and c.multiplier > 0 and c.converged
    assert np.linalg.norm(res.theta) == pytest.approx(0.5, rel=1e-12)
    assert c.kkt_residual <= 1e-10 and c.gap_bound <= 1e-12
    # inactive radius: the unconstrained minimiser
    res2 = pl.population_minimiser(task, "rdpo", eps=0.1, noise_eps=0.1, radius=10.0)
    assert not res2.certificate.active and res2.certificate.multiplier == 0.0
    np.testing.assert_allclose(res2.theta, task.theta_star, atol=1e-8)


def test_radius_on_separable_data_and_ridge():
    task = _chain3([0.0, 0.0, 0.0])
    C = np.zeros((1, 3, 3))
    C[0, 0, 1], C[0, 1, 2], C[0, 0, 2] = 5, 3, 2
    res = pl.fit(task, C, "dpo", radius=3.0)
    assert res.certificate.active and np.linalg.norm(res.theta) == pytest.approx(3.0, rel=1e-12)
    assert res.theta[0] > res.theta[1] > res.theta[2]
    res = pl.fit(task, C, "dpo", ridge=0.1)
    assert res.certificate.kkt_residual <= 1e-10 and math.isfinite(res.certificate.gap_bound)


def _objective(task, C, loss, eps, theta, ridge=0.0):
    """Independent objective: the mean over all ordered (x, winner, loser) count cells."""
    X, K, d = task.features.shape
    tot = 0.0
    for x in range(X):
        for w in range(K):
            for l in range(K):
                if C[x, w, l] == 0:
                    continue
                h = float(theta @ (task.features[x, w] - task.features[x, l]))
                z = task.beta * h
                v = {"dpo": lambda: pl.losses.dpo(z), "cdpo": lambda: pl.losses.cdpo(z, eps),
                     "rdpo": lambda: pl.losses.rdpo(z, eps), "ipo": lambda: pl.losses.ipo(h, task.beta)}[loss]()
                tot += C[x, w, l] * float(v)
    return tot / C.sum() + 0.5 * ridge * float(theta @ theta)


@pytest.mark.parametrize("loss,eps", [("dpo", None), ("cdpo", 0.2), ("rdpo", 0.2), ("ipo", None)])
def test_loss_value_and_gradient_by_finite_differences(loss, eps):
    task = mdps.LogLinearPreferenceTask.random(2, 4, 3, beta=0.7, rng=5)
    data = task.sample(300, eps=0.2, rng=1)
    C = data.counts()
    res = pl.fit(task, data, loss, eps, radius=2.0, ridge=0.05)
    assert res.loss == pytest.approx(_objective(task, C, loss, eps, np.array(res.theta), 0.05), rel=1e-12)
    # the certificate's gradient: the KKT residual from an independent central-difference gradient
    t = np.array(res.theta)
    h = 1e-6
    g = np.array([(_objective(task, C, loss, eps, t + h * e, 0.05) - _objective(task, C, loss, eps, t - h * e, 0.05))
                  / (2 * h) for e in np.eye(3)])
    mu = res.certificate.multiplier
    assert np.linalg.norm(g + mu * t) <= 1e-6  # FD error ~ h^2 * third derivative + rounding / h
    assert res.certificate.grad_norm == pytest.approx(np.linalg.norm(g), abs=1e-6)


def test_two_stage_equals_dpo():
    task = mdps.LogLinearPreferenceTask.random(3, 5, 4, beta=0.5, theta_norm=1.0, rng=2)
    data = task.sample(2000, eps=0.1, rng=3)
    a = pl.fit(task, data, "dpo", radius=3.0)
    b = pl.two_stage(task, data, radius=3.0)
    np.testing.assert_allclose(b.theta, a.theta, atol=1e-12)
    np.testing.assert_allclose(b.policy, a.policy, atol=1e-12)
    assert b.loss == pytest.approx(a.loss, rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), loss=st.sampled_from(["dpo", "cdpo", "rdpo", "ipo"]),
       X=st.integers(1, 3), K=st.integers(2, 5), d=st.integers(1, 4),
       radius=st.sampled_from([None, 0.3, 2.0]), ridge=st.sampled_from([0.0, 0.01]),
       beta=st.floats(0.2, 2.0))
def test_returned_theta_is_a_minimiser(seed, loss, X, K, d, radius, ridge, beta):
    task = mdps.LogLinearPreferenceTask.random(X, K, d, theta_norm=1.0, beta=beta, rng=seed)
    data = task.sample(200, eps=0.15, rng=seed + 1)
    eps = 0.15 if loss in ("cdpo", "rdpo") else None
    try:
        res = pl.fit(task, data, loss, eps, radius, ridge)
    except ValueError as e:  # no minimiser: only allowed without radius and ridge
        assert radius is None and ridge == 0.0 and "radius" in str(e)
        return
    c = res.certificate
    assert c.converged and c.kkt_residual <= 1e-9
    if radius is not None:
        assert np.linalg.norm(res.theta) <= radius * (1 + 1e-12)
    C = data.counts()
    f0 = _objective(task, C, loss, eps, np.array(res.theta), ridge)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        t = np.array(res.theta) + rng.normal(scale=rng.choice([1e-3, 1e-1, 1.0]), size=d)
        if radius is not None and np.linalg.norm(t) > radius:
            t *= radius / np.linalg.norm(t)
        assert _objective(task, C, loss, eps, t, ridge) >= f0 - 1e-12 * (1 + abs(f0))


@pytest.mark.parametrize("seed", range(3))
def test_empirical_error_within_sandwich(seed):
    # Cov(theta_hat) ~ Sigma / n; the Mahalanobis distance n e^T Sigma^{-1} e is ~ chi2_d (d = 3):
    # P(chi2_3 > 25) ~ 1.5e-5, so the bound holds for seeds 0..2 up to that margin plus the O(1/n) bias.
    task = mdps.LogLinearPreferenceTask.random(4, 5, 3, theta_norm=1.0, rng=10 + seed)
    n = 10**5
    data = task.sample(n, eps=0.2, rng=seed)
    res = pl.fit(task, data, "rdpo", eps=0.2, radius=10.0)
    cov = pl.asymptotic_covariance(task, "rdpo", eps=0.2, noise_eps=0.2)
    e = np.array(res.theta) - task.theta_star
    m2 = n * e @ np.linalg.solve(cov, e)
    assert m2 < 25.0


def test_sandwich_at_theta_star_for_rdpo_is_population_default():
    task = mdps.LogLinearPreferenceTask.random(3, 4, 2, rng=4)
    a = pl.asymptotic_covariance(task, "rdpo", eps=0.2, noise_eps=0.2)
    b = pl.asymptotic_covariance(task, "rdpo", eps=0.2, noise_eps=0.2, at=task.theta_star)
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    # de-biasing costs variance: rDPO's covariance exceeds clean DPO's
    clean = pl.asymptotic_covariance(task, "dpo")
    assert np.all(np.linalg.eigvalsh(a - clean) > 0)


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs():
    task = mdps.LogLinearPreferenceTask.random(2, 3, 2, rng=0)
    data = task.sample(50, rng=0)
    C = data.counts().astype(float)
    with pytest.raises(ValueError, match="eps"):
        pl.fit(task, data, "rdpo", eps=0.5, radius=1)
    with pytest.raises(ValueError, match="eps"):
        pl.fit(task, data, "cdpo", eps=-0.1)
    with pytest.raises(ValueError, match="eps"):
        pl.fit(task, data, "rdpo", radius=1)  # missing
    with pytest.raises(ValueError, match="all win counts are 0"):
        pl.fit(task, np.zeros_like(C))
    with pytest.raises(ValueError, match="data"):
        pl.fit(task, np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 3\)"):
        pl.fit(task, np.ones((2, 4, 4)))
    bad = C.copy()
    bad[0, 0, 1] = -1
    with pytest.raises(ValueError, match="non-negative"):
        pl.fit(task, bad)
    bad[0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="data"):
        pl.fit(task, bad)
    bad = C.copy()
    bad[0, 1, 1] = 2
    with pytest.raises(ValueError, match="cannot beat itself"):
        pl.fit(task, bad)
    other = mdps.LogLinearPreferenceTask.random(2, 4, 2, rng=0)
    with pytest.raises(ValueError, match="n_responses"):
        pl.fit(task, other.sample(10, rng=0))
    for name in ("slic", "fdpo", "DPO"):
        with pytest.raises(ValueError, match="dpo.*cdpo.*rdpo.*ipo"):
            pl.fit(task, data, name)
    with pytest.raises(ValueError, match="radius"):
        pl.fit(task, data, radius=0.0)
    with pytest.raises(ValueError, match="ridge"):
        pl.fit(task, data, ridge=-1.0)
    with pytest.raises(TypeError, match="task"):
        pl.fit("task", data)


def test_no_minimiser_is_refused():
    # separable: every comparison of the pair goes one way -> the DPO MLE does not exist
    task = _task2(0.0)
    C = np.array([[[0.0, 5.0], [0.0, 0.0]]])
    for loss, eps in (("dpo", None), ("cdpo", 0.0), ("rdpo", 0.0), ("rdpo", 0.1)):
        with pytest.raises(ValueError, match="data.*radius.*ridge"):
            pl.fit(task, C, loss, eps)
    # rDPO unbounded below even with both outcomes seen: 9 wins, 1 loss, eps = 0.2 (0.2*9 > 0.8*1)
    C = np.array([[[0.0, 9.0], [1.0, 0.0]]])
    with pytest.raises(ValueError, match="unbounded below.*radius.*ridge"):
        pl.fit(task, C, "rdpo", 0.2)
    res = pl.fit(task, C, "rdpo", 0.2, radius=4.0)
    assert res.theta[0] == pytest.approx(4.0) and res.certificate.active
    # small sample rDPO without radius is fine when the minimiser exists (9 vs 3 at eps = 0.2)
    C = np.array([[[0.0, 9.0], [3.0, 0.0]]])
    res = pl.fit(task, C, "rdpo", 0.2)
    # per-pair condition with p = 3/4, c = eps/(1-2eps): d/dz {p[l(z) - c z] + (1-p)[l(-z) + c z]}
    # = sigma(z) - p - c (2p - 1) = 0, so sigma(z) = p + c (2p - 1) = 11/12 (< 1: it exists; with
    # p = 9/10 it would be 1.17 > 1, the unbounded case above)
    p, c = 0.75, 0.2 / 0.6
    assert res.theta[0] == pytest.approx(logit(p + c * (2 * p - 1)), abs=1e-9)
    assert res.certificate.kkt_residual <= 1e-10


@pytest.mark.parametrize("seed, X, K, d, loss, radius", [(0, 1, 5, 3, "dpo", 2.0), (0, 1, 5, 3, "rdpo", 2.0),
                                                          (1, 1, 4, 4, "cdpo", 0.3), (2, 1, 4, 4, "ipo", 0.3)])
def test_active_constraint_with_a_tiny_multiplier_converges(seed, X, K, d, loss, radius):
    # nearly separable data with the norm constraint barely active (multiplier ~1e-4): the search on
    # the multiplier alone stalled a few ulps off the sphere with a KKT residual ~1e-10 (412 of
    # 12000 random small fits); the joint Newton polish on (theta, mu) certifies them to 1e-13
    task = mdps.LogLinearPreferenceTask.random(X, K, d, theta_norm=1.0, beta=1.0, rng=seed)
    data = task.sample(200, eps=0.15, rng=seed + 1)
    res = pl.fit(task, data, loss, 0.15 if loss in ("cdpo", "rdpo") else None, radius)
    c = res.certificate
    assert c.active and c.converged and c.kkt_residual <= 1e-10
    assert abs(np.linalg.norm(res.theta) - radius) <= 1e-12 * radius
