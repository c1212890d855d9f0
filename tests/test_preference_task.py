"""The log-linear preference task (mdps.preference_task): exact ground-truth identities, the
sampled datasets against their exact laws, coverage, and input validation.

Identities checked exactly (to round-off): ``J(pi*) - J(pi) = beta * sum_x w_x KL(pi_x || pi*_x)``
for random policies (zeros included); ``J(pi*) >= J(pi)``; ``pi_theta*`` is a stationary maximum
(perturbation in every direction lowers ``J``); the DPO reparametrisation
``beta log(pi*/ref) = r* + const(x)``; complementarity ``P(i > j) + P(j > i) = 1`` for both models
with and without flips; coverage is exactly 1 when target = sampler (the pair laws coincide) and
``>= 1`` otherwise, ``inf`` only when a needed pair is missing; the outcome law sums to 1 and
its marginals are the weights and the pair law.

Statistical checks use binomial margins of 5 standard deviations on stated seeds (the chance of
a false alarm is below 1e-5 for all cells and seeds together); they are deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from mdps.preference_task import LogLinearPreferenceTask, PreferenceData

Task = LogLinearPreferenceTask
Z = 5.0  # binomial margin in standard deviations


# -- strategies (local) ----------------------------------------------------------------------------
@st.composite
def tasks(draw):
    X = draw(st.integers(1, 4))
    K = draw(st.integers(2, 6))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    beta = draw(st.floats(0.05, 10.0))
    g = np.random.default_rng(seed)
    phi = g.standard_normal((X, K, d))
    theta = g.standard_normal(d) * draw(st.floats(0.0, 3.0))
    ref = g.dirichlet(np.ones(K), size=X) + 1e-3
    ref /= ref.sum(axis=1, keepdims=True)
    w = g.dirichlet(np.ones(X))
    return Task(phi, ref, theta, beta, weights=w)


def _policy(seed, X, K, zeros=True):
    """A random (X, K) policy, with some zero entries but at least two positive ones per row."""
    g = np.random.default_rng(seed)
    p = g.dirichlet(np.full(K, 0.7), size=X)
    if zeros and K > 2:
        mask = g.random((X, K)) < 0.3
        mask[:, :2] = False
        p = np.where(mask, 0.0, p)
        p /= p.sum(axis=1, keepdims=True)
    return p


# -- exact identities ------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(tasks(), st.integers(0, 2**32 - 1))
def test_suboptimality_is_beta_weighted_kl_to_optimum(task, seed):
    pi = _policy(seed, task.n_contexts, task.n_responses)
    gap = task.optimal_value() - task.value(pi)
    sub = task.suboptimality(pi)
    scale = 1.0 + np.abs(task.reward()).max() + task.beta * (np.abs(np.log(task.ref)).max() + 1.0)
    assert sub >= 0.0
    assert abs(gap - sub) <= 1e-12 * scale * task.n_responses
    # the identity written out with the KL to pi*
    w = task.weights
    kls = mdps.kl(pi, task.optimal_policy())
    assert abs(sub - task.beta * float(w @ kls)) <= 1e-12 * scale * task.n_responses
    assert task.optimal_value() >= task.value(pi) - 1e-12 * scale * task.n_responses


@settings(max_examples=40, deadline=None)
@given(tasks(), st.integers(0, 2**32 - 1))
def test_optimal_policy_is_the_log_linear_policy_and_a_maximum(task, seed):
    pistar = task.optimal_policy()
    np.testing.assert_allclose(pistar, task.policy(task.theta_star), rtol=0, atol=1e-15)
    assert task.suboptimality(pistar) <= 1e-14 * task.beta
    assert task.value(pistar) == pytest.approx(task.optimal_value(), rel=1e-12, abs=1e-12)
    # perturbations of the logits in random directions never increase J
    g = np.random.default_rng(seed)
    base = task.value(pistar)
    for t in (1e-3, 1e-1, 1.0):
        v = g.standard_normal(pistar.shape)
        pert = mdps.softmax(np.log(pistar) + t * v)
        assert task.value(pert) <= base + 1e-12 * (1.0 + abs(base))
        # and the loss of value is the KL identity again (second order in t)
        assert task.suboptimality(pert) >= 0.0


def test_dpo_reparametrisation_and_kl_to_ref():
    task = Task.random(3, 5, 4, theta_norm=2.0, beta=0.7, rng=3)
    implicit = task.beta * (np.log(task.optimal_policy()) - np.log(task.ref))
    diff = implicit - task.reward()
    np.testing.assert_allclose(diff - diff[:, :1], 0.0, atol=1e-13)
    assert task.kl_to_ref(task.ref) == 0.0
    # J(pi*) = <pi*, r*> - beta KL(pi* || ref) from the definition equals the closed form
    assert task.value(task.optimal_policy()) == pytest.approx(task.optimal_value(), rel=1e-13)
    # reward(theta) is linear and matches the definition
    th = np.arange(4.0)
    np.testing.assert_allclose(task.reward(th), 0.7 * task.features @ th, rtol=1e-15)


@settings(max_examples=40, deadline=None)
@given(tasks(), st.sampled_from(["bt", "thurstone"]), st.floats(0.0, 0.49), st.floats(0.0, 0.49))
def test_preference_probabilities_are_complementary(task, model, eps, eps_minus):
    X, K = task.n_contexts, task.n_responses
    x, i, j = np.meshgrid(np.arange(X), np.arange(K), np.arange(K), indexing="ij")
    P = task.preference_probability(x, i, j, model=model)
    np.testing.assert_allclose(P + np.swapaxes(P, 1, 2), 1.0, atol=2e-16)
    np.testing.assert_allclose(task.preference_matrix(model), np.where(i == j, 0.5, P), atol=0)
    for flips, em in (("symmetric", None), ("asymmetric", eps_minus)):
        M = task.preference_matrix(model, eps=eps, flips=flips, eps_minus=em)
        np.testing.assert_allclose(M + np.swapaxes(M, 1, 2), 1.0, atol=4e-16)
        assert np.all((M >= 0) & (M <= 1))
    Ms = task.preference_matrix(model, eps=eps)
    np.testing.assert_allclose(Ms, (1 - eps) * np.where(i == j, 0.5, P) + eps * (1 - np.where(i == j, 0.5, P)),
                               atol=1e-15)


def test_model_values_and_scale_convention():
    phi = np.array([[[0.0], [1.0], [-2.0]]])
    task = Task(phi, [1 / 3] * 3, [1.0], beta=1.5)
    d = 1.5 * (0.0 - 1.0)
    assert task.preference_probability(0, 0, 1) == pytest.approx(1 / (1 + math.exp(-d)), rel=1e-15)
    # Thurstone: unit-variance noise per response, so Phi(d / sqrt 2) = (1 + erf(d / 2)) / 2
    assert task.preference_probability(0, 0, 1, model="thurstone") == pytest.approx(
        0.5 * (1 + math.erf(d / 2)), rel=1e-14)
    assert task.preference_probability(0, 2, 2) == 0.5
    assert isinstance(task.preference_probability(0, 0, 1), float)


# -- datasets against their exact laws ------------------------------------------------------------
def _binomial_ok(k, n, p):
    return abs(k - n * p) <= Z * math.sqrt(n * p * (1 - p)) + 1e-9


@pytest.mark.parametrize("model", ["bt", "thurstone"])
@pytest.mark.parametrize("seed", range(3))
def test_clean_win_frequencies_match_the_model(model, seed):
    task = Task.random(2, 3, 2, theta_norm=1.5, rng=11)
    data = task.sample(60_000, rng=seed, model=model)
    clean_l = data.winners + data.losers - data.clean_winners
    P = task.preference_matrix(model)
    for x in range(2):
        for i in range(3):
            for j in range(i + 1, 3):
                m = (data.contexts == x) & (np.minimum(data.clean_winners, clean_l) == i) & \
                    (np.maximum(data.clean_winners, clean_l) == j)
                n = int(m.sum())
                k = int((data.clean_winners[m] == i).sum())
                assert n > 1000 and _binomial_ok(k, n, P[x, i, j]), (x, i, j, k, n, P[x, i, j])


@pytest.mark.parametrize("seed", range(3))
def test_pairs_contexts_and_symmetric_flips_match_their_laws(seed):
    task = Task.random(3, 4, 3, rng=5)
    pol = np.array([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [0.0, 0.7, 0.2, 0.1]])
    w = np.array([0.2, 0.0, 0.8])
    task = Task(task.features, task.ref, task.theta_star, weights=w)
    n, eps = 40_000, 0.15
    data = task.sample(n, eps=eps, rng=seed, policy=pol)
    assert np.all(data.winners != data.losers)
    assert not np.any(data.contexts == 1)  # zero weight
    assert _binomial_ok(int((data.contexts == 0).sum()), n, 0.2)
    q = task.pair_distribution(pol)
    np.testing.assert_allclose(q.sum(axis=(1, 2)), 1.0, atol=1e-15)
    # ordered pair frequencies are not observable after labelling, unordered ones are: q(i,j)+q(j,i)
    lo, hi = np.minimum(data.winners, data.losers), np.maximum(data.winners, data.losers)
    for x in (0, 2):
        nx = int((data.contexts == x).sum())
        for i in range(4):
            for j in range(i + 1, 4):
                k = int(((data.contexts == x) & (lo == i) & (hi == j)).sum())
                p = q[x, i, j] + q[x, j, i]
                if p == 0:
                    assert k == 0
                else:
                    assert _binomial_ok(k, nx, p), (x, i, j, k, nx, p)
    assert _binomial_ok(int(data.flipped.sum()), n, eps)
    C = data.counts()
    assert C.shape == (3, 4, 4) and C.sum() == n and np.all(np.diagonal(C, axis1=1, axis2=2) == 0)
    assert data.n_pairs == n


@pytest.mark.parametrize("seed", range(3))
def test_asymmetric_flips_are_class_conditional(seed):
    task = Task.random(1, 4, 2, theta_norm=3.0, rng=2)
    eps, em = 0.1, 0.35
    n = 60_000
    data = task.sample(n, eps=eps, flips="asymmetric", eps_minus=em, rng=seed)
    r = task.reward()[0]
    clean_l = data.winners + data.losers - data.clean_winners
    agree = r[data.clean_winners] >= r[clean_l]
    assert _binomial_ok(int(data.flipped[agree].sum()), int(agree.sum()), eps)
    assert _binomial_ok(int(data.flipped[~agree].sum()), int((~agree).sum()), em)
    # observed win frequencies per unordered pair against the exact observed-label matrix
    M = task.preference_matrix(eps=eps, flips="asymmetric", eps_minus=em)
    C = data.counts()[0]
    for i in range(4):
        for j in range(i + 1, 4):
            assert _binomial_ok(int(C[i, j]), int(C[i, j] + C[j, i]), M[0, i, j])
    assert data.flips == "asymmetric" and data.eps_minus == em


def test_sampling_is_reproducible_and_exact_on_nearly_deterministic_policies():
    task = Task.one_hot(2, 5, rng=0)
    a, b = task.sample(500, eps=0.2, rng=7), task.sample(500, eps=0.2, rng=7)
    for f in ("contexts", "winners", "losers", "clean_winners"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    # a sampler with almost all mass on one response: no rejection loop, pairs still distinct,
    # and every pair contains response 0 up to the tiny conditioned mass of the others
    pol = np.array([1 - 4e-12, 1e-12, 1e-12, 1e-12, 1e-12])
    d = task.sample(20_000, rng=1, policy=pol)
    assert np.all(d.winners != d.losers)
    assert np.mean((d.winners == 0) | (d.losers == 0)) > 0.999


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("model, flips, eps_minus", [("bt", "symmetric", None),
                                                      ("thurstone", "asymmetric", 0.3)])
def test_counts_match_the_exact_outcome_distribution(seed, model, flips, eps_minus):
    task = Task.random(2, 3, 2, theta_norm=2.0, rng=4)
    task = Task(task.features, task.ref, task.theta_star, weights=[0.3, 0.7])
    pol = np.array([[0.6, 0.4, 0.0], [0.2, 0.3, 0.5]])
    kw = dict(model=model, eps=0.1, flips=flips, eps_minus=eps_minus)
    D = task.outcome_distribution(pol, **kw)
    assert D.sum() == pytest.approx(1.0, abs=1e-15) and np.all(np.diagonal(D, axis1=1, axis2=2) == 0)
    # marginals: contexts follow the weights, unordered pairs the pair law
    np.testing.assert_allclose(D.sum(axis=(1, 2)), task.weights, atol=1e-15)
    q = task.pair_distribution(pol)
    np.testing.assert_allclose(D + np.swapaxes(D, 1, 2),
                               2 * task.weights[:, None, None] * q, atol=1e-15)
    n = 50_000
    C = task.sample(n, rng=seed, policy=pol, **kw).counts()
    for cell in np.ndindex(C.shape):
        if D[cell] == 0:
            assert C[cell] == 0
        else:
            assert _binomial_ok(int(C[cell]), n, D[cell]), (cell, C[cell], n * D[cell])


# -- coverage --------------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(tasks(), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_coverage_is_one_on_itself_and_at_least_one_otherwise(task, s1, s2):
    X, K = task.n_contexts, task.n_responses
    pi = _policy(s1, X, K)
    assert task.coverage(pi, pi) == 1.0 or abs(task.coverage(pi, pi) - 1.0) <= 4e-16
    other = _policy(s2, X, K, zeros=False)
    c = task.coverage(pi, other)
    assert 1.0 - 1e-12 <= c < math.inf
    # the definition, directly
    qt, qs = task.pair_distribution(pi), task.pair_distribution(other)
    need = (qt > 0) & (task.weights > 0)[:, None, None]
    assert c == pytest.approx(np.max(qt[need] / qs[need]), rel=1e-15)


def test_coverage_inf_only_when_a_needed_pair_is_missing():
    task = Task.one_hot(2, 4, rng=0)
    sampler = np.array([0.5, 0.5, 0.0, 0.0])
    assert task.coverage(task.ref, sampler) == math.inf
    # a target using only responses the sampler covers: finite (exactly 1: the same pair law)
    assert task.coverage(np.array([0.3, 0.7, 0.0, 0.0]), sampler) == 1.0
    # the optimal policy needs every response: inf under the sampler, finite under ref
    assert task.coverage(task.optimal_policy(), sampler) == math.inf
    assert 1.0 <= task.coverage(task.optimal_policy()) < math.inf
    # a PreferenceData stands for its sampling policy
    data = task.sample(100, policy=sampler, rng=0)
    assert task.coverage(task.ref, data) == math.inf
    # a context of zero weight imposes nothing
    w = Task(task.features, task.ref, task.theta_star, weights=[1.0, 0.0])
    sampler2 = np.array([[0.25] * 4, [0.5, 0.5, 0.0, 0.0]])
    assert w.coverage(w.ref, sampler2) == 1.0
    with pytest.raises(ValueError, match="target_policy"):
        task.coverage(np.array([1.0, 0.0, 0.0, 0.0]))


# -- generators, immutability, export --------------------------------------------------------------
def test_generators():
    t = Task.one_hot(3, 4, beta=2.0, rng=1)
    assert t.features.shape == (3, 4, 4) and np.array_equal(t.features[1], np.eye(4))
    np.testing.assert_allclose(t.reward(), 2.0 * np.broadcast_to(t.theta_star, (3, 4)))
    r = Task.random(5, 6, 3, norm_bound=0.5, theta_norm=2.0, rng=2)
    norms = np.linalg.norm(r.features, axis=-1)
    assert norms.max() == pytest.approx(0.5, rel=1e-15) and np.all(norms <= 0.5 * (1 + 1e-15))
    assert np.linalg.norm(r.theta_star) == pytest.approx(2.0, rel=1e-15)
    assert np.array_equal(Task.random(2, 3, 2, rng=9).features, Task.random(2, 3, 2, rng=9).features)
    assert repr(r) == "LogLinearPreferenceTask(n_contexts=5, n_responses=6, dim=3, beta=1)"


def test_immutable_and_exported():
    t = Task.one_hot(2, 3, rng=0)
    for arr in (t.features, t.ref, t.theta_star, t.weights, t.reward(), t.optimal_policy()):
        assert not arr.flags.writeable
    with pytest.raises(AttributeError):
        t.beta = 2.0
    d = t.sample(10, rng=0)
    with pytest.raises(AttributeError):
        d.eps = 0.3
    for arr in (d.contexts, d.winners, d.losers, d.clean_winners, d.policy):
        assert not arr.flags.writeable
    assert mdps.LogLinearPreferenceTask is Task and mdps.PreferenceData is PreferenceData
    assert "LogLinearPreferenceTask" in mdps.__all__


# -- bad inputs ------------------------------------------------------------------------------------
PHI = np.zeros((2, 3, 2))
REF = np.full(3, 1 / 3)
TH = np.zeros(2)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(features=np.zeros((2, 3))), ValueError, "features"),
    (dict(features=np.zeros((2, 1, 2))), ValueError, "features"),
    (dict(features=np.zeros((0, 3, 2))), ValueError, "features"),
    (dict(features=np.full((2, 3, 2), np.nan)), ValueError, "features"),
    (dict(features="abc"), TypeError, "features"),
    (dict(ref=[0.5, 0.5, 0.0]), ValueError, "ref"),
    (dict(ref=[0.5, 0.5]), ValueError, "ref"),
    (dict(ref=[0.5, 0.4, 0.4]), ValueError, "ref"),
    (dict(ref=[0.5, np.inf, 0.2]), ValueError, "ref"),
    (dict(theta_star=np.zeros(3)), ValueError, "theta_star"),
    (dict(theta_star=[np.nan, 0.0]), ValueError, "theta_star"),
    (dict(beta=0.0), ValueError, "beta"),
    (dict(beta=-1.0), ValueError, "beta"),
    (dict(beta=math.inf), ValueError, "beta"),
    (dict(beta="1"), TypeError, "beta"),
    (dict(weights=[0.5, 0.6]), ValueError, "weights"),
    (dict(weights=[1.5, -0.5]), ValueError, "weights"),
    (dict(weights=[1.0]), ValueError, "weights"),
])
def test_constructor_rejects_bad_input(kwargs, exc, name):
    args = dict(features=PHI, ref=REF, theta_star=TH, beta=1.0)
    args.update(kwargs)
    w = args.pop("weights", None)
    with pytest.raises(exc, match=name):
        Task(args["features"], args["ref"], args["theta_star"], args["beta"], weights=w)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(n_pairs=0), ValueError, "n_pairs"),
    (dict(n_pairs=2.5), TypeError, "n_pairs"),
    (dict(eps=0.5), ValueError, "eps"),
    (dict(eps=-0.1), ValueError, "eps"),
    (dict(eps=math.nan), ValueError, "eps"),
    (dict(flips="asymmetric"), ValueError, "eps_minus"),
    (dict(flips="asymmetric", eps_minus=0.5), ValueError, "eps_minus"),
    (dict(eps_minus=0.1), ValueError, "eps_minus"),
    (dict(flips="both"), ValueError, "flips"),
    (dict(model="probit"), ValueError, "model"),
    (dict(rng=-1), ValueError, "rng"),
    (dict(policy=[1.0, 0.0, 0.0]), ValueError, r"policy\[0, :\] supports 1"),
    (dict(policy=[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]), ValueError, r"policy\[1, :\]"),
    (dict(policy=[0.5, 0.5]), ValueError, "policy"),
    (dict(policy=[0.5, 0.6, -0.1]), ValueError, "policy"),
    (dict(policy=[0.5, 0.6, 0.1]), ValueError, "policy"),
])
def test_sample_rejects_bad_input(kwargs, exc, name):
    task = Task(PHI, REF, TH)
    args = dict(n_pairs=10)
    args.update(kwargs)
    n = args.pop("n_pairs")
    with pytest.raises(exc, match=name):
        task.sample(n, **args)


def test_sampler_zero_allowed_in_a_context_of_zero_weight():
    task = Task(PHI, REF, TH, weights=[1.0, 0.0])
    data = task.sample(50, policy=[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], rng=0)
    assert np.all(data.contexts == 0)


def test_methods_reject_bad_input():
    task = Task(PHI, REF, TH)
    with pytest.raises(ValueError, match="pi"):
        task.value([0.5, 0.5])
    with pytest.raises(ValueError, match="pi"):
        task.suboptimality([[0.5, 0.5, 0.1]] * 2)
    with pytest.raises(ValueError, match="theta"):
        task.policy(np.zeros(3))
    with pytest.raises(ValueError, match="target_policy"):
        task.coverage([0.5, 0.5])
    with pytest.raises(ValueError, match="sampling_policy"):
        task.coverage(REF, [0.5, 0.5])
    with pytest.raises(ValueError, match="i must lie"):
        task.preference_probability(0, 3, 0)
    with pytest.raises(TypeError, match="x must be"):
        task.preference_probability(0.5, 0, 1)
    with pytest.raises(ValueError, match="n_responses"):
        Task.one_hot(2, 1)
    with pytest.raises(ValueError, match="norm_bound"):
        Task.random(2, 3, 2, norm_bound=0.0)
    with pytest.raises(ValueError, match="policy"):
        task.outcome_distribution([1.0, 0.0, 0.0])
    good = dict(contexts=np.zeros(2, int), winners=np.array([0, 1]), losers=np.array([1, 0]),
                clean_winners=np.array([0, 1]), eps=0.1, eps_minus=0.1, model="bt",
                flips="symmetric", policy=np.full((1, 2), 0.5))
    assert PreferenceData(**good).counts().tolist() == [[[0, 1], [1, 0]]]
    for bad, exc, name in ((dict(eps=0.5), ValueError, "eps"), (dict(eps_minus=0.2), ValueError, "eps_minus"),
                           (dict(model="x"), ValueError, "model"), (dict(flips="x"), ValueError, "flips"),
                           (dict(losers=np.array([0, 0])), ValueError, "losers"),
                           (dict(winners=np.array([0, 2])), ValueError, "winners"),
                           (dict(contexts=np.array([0.0, 0.0])), TypeError, "contexts"),
                           (dict(policy=np.array([[0.5, 0.6]])), ValueError, "policy")):
        with pytest.raises(exc, match=name):
            PreferenceData(**{**good, **bad})
    with pytest.raises(ValueError, match="n_pairs"):
        PreferenceData(contexts=np.zeros(0, int), winners=np.zeros(0, int), losers=np.zeros(0, int),
                       clean_winners=np.zeros(0, int), eps=0.0, eps_minus=0.0, model="bt",
                       flips="symmetric", policy=np.full((1, 2), 0.5))
