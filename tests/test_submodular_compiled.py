"""SubPO's compiled path and its linear-softmax class: the kernels against the NumPy path on the same
random stream, batches of seeds bit-identical to single runs, one-hot features reducing to the tabular
class, the linear exact gradient, and bad input."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import submodular as sm
from algorithms.submodular import subrl
from mdps.submodular import element_index


def _instance(kind, seed, *, S=3, A=2, H=3):
    rng = np.random.default_rng(seed)
    mdp = mdps.random_finite_horizon(S, A, H, rng=rng)
    if kind == "coverage":
        f = mdps.coverage_objective(rng.random((S, 10)) < 0.4)
    elif kind == "weighted_coverage":
        f = mdps.coverage_objective(rng.random((S, 10)) < 0.4, rng.exponential(1.0, 10))
    elif kind == "stage_coverage":
        f = mdps.coverage_objective(rng.random(((H + 1) * S, 10)) < 0.3, rng.exponential(1.0, 10), ground="stage_state")
    elif kind == "facility_location":
        f = mdps.facility_location_objective(rng.random((S, 7)) ** 2)
    elif kind == "modular":
        f = mdps.modular_objective(rng.random((H + 1, S)))
    elif kind == "logdet":
        X = rng.standard_normal((S, 2))
        f = mdps.logdet_objective(np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1)), 0.5)
    else:
        raise ValueError(kind)
    return mdp, f, rng


COMPILED = ("coverage", "weighted_coverage", "stage_coverage", "facility_location", "modular")


def _one_hot(H, S, A):
    return np.eye(H * S * A).reshape(H, S, A, H * S * A)


# ---------------------------------------------------------------- the kernel against the NumPy path


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(COMPILED), seed=st.integers(0, 10_000), n=st.integers(1, 40),
       S=st.integers(1, 4), A=st.integers(1, 3), H=st.integers(1, 4))
def test_compiled_episodes_equal_the_python_path_on_the_same_stream(kind, seed, n, S, A, H):
    mdp, f, rng = _instance(kind, seed, S=S, A=A, H=H)
    _, P = subrl._setup(mdp, f, need_submodular=False)
    pi = sm.softmax_policy(rng.standard_normal((H, S, A)))
    ref = subrl._rollout(P, mdp.rho, pi, f, n, np.random.default_rng(seed))
    got = subrl._sample(mdp, P, f, pi, n, np.random.default_rng(seed))
    np.testing.assert_array_equal(got[0], ref[0])  # states: the same stream gives the same episodes
    np.testing.assert_array_equal(got[1], ref[1])  # actions
    # gains: telescoped sums vs differences of full evaluations, equal to round-off
    for a, b in zip(got[2:], ref[2:]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * max(1.0, np.abs(b).max()))
    if kind == "coverage":  # unit-weight coverage is integer-valued: exact
        np.testing.assert_array_equal(got[2], ref[2])


@pytest.mark.parametrize("kind", COMPILED)
def test_compiled_gains_telescope_to_the_objective_of_the_visited_set(kind):
    mdp, f, rng = _instance(kind, 3)
    _, P = subrl._setup(mdp, f, need_submodular=False)
    pi = sm.softmax_policy(rng.standard_normal((3, 3, 2)))
    states, actions, gains, F, F0 = subrl._sample(mdp, P, f, pi, 50, rng)
    for k in range(50):
        elems = [element_index(h, int(s), 3, f.ground) for h, s in enumerate(states[k])]
        assert F[k] == pytest.approx(f(elems), abs=1e-12)
        assert F0[k] == pytest.approx(f(elems[:1]), abs=1e-12)
        assert F0[k] + gains[k].sum() == pytest.approx(F[k], abs=1e-12)
        assert (gains[k] >= 0).all()


@pytest.mark.parametrize("kind", ["weighted_coverage", "facility_location", "modular"])
@pytest.mark.parametrize("baseline,tied", [("loo", False), ("none", False), ("loo", True)])
def test_compiled_subpo_equals_the_python_loop(kind, baseline, tied):
    mdp, f, rng = _instance(kind, 11)
    _, P = subrl._setup(mdp, f)
    theta0 = rng.standard_normal((3, 3, 2))
    if tied:
        theta0 = np.repeat(theta0.mean(axis=1, keepdims=True), 3, axis=1)
    res = sm.subpo(mdp, f, n_iter=25, batch_size=16, lr=0.7, baseline=baseline, state_independent=tied,
                   theta0=theta0, rng=5)
    theta, returns = subrl._subpo_python(mdp, P, f, theta0.ravel(), None, 25, 16, 0.7, baseline, tied,
                                         np.random.default_rng(5))
    np.testing.assert_allclose(res.theta.ravel(), theta, rtol=0, atol=1e-11)
    np.testing.assert_allclose(res.sampled_returns, returns, rtol=0, atol=1e-11)


def test_compiled_linear_subpo_equals_the_python_loop():
    mdp, f, rng = _instance("facility_location", 12)
    _, P = subrl._setup(mdp, f)
    phi = rng.standard_normal((3, 3, 2, 4))
    res = sm.subpo(mdp, f, n_iter=25, batch_size=16, lr=0.5, policy="linear_softmax", features=phi, rng=9)
    theta, returns = subrl._subpo_python(mdp, P, f, np.zeros(4), phi, 25, 16, 0.5, "loo", False,
                                         np.random.default_rng(9))
    np.testing.assert_allclose(res.theta, theta, rtol=0, atol=1e-11)
    np.testing.assert_allclose(res.sampled_returns, returns, rtol=0, atol=1e-11)
    np.testing.assert_allclose(res.policy, sm.linear_softmax_policy(phi, res.theta), rtol=0, atol=1e-15)


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(COMPILED), seed=st.integers(0, 10_000), n=st.integers(1, 12), d=st.integers(0, 3),
       baseline=st.sampled_from(["loo", "none"]), lr=st.floats(0.05, 2.0))
def test_compiled_update_equals_the_python_loop_property(kind, seed, n, d, baseline, lr):
    # d = 0: tabular softmax; d >= 1: linear softmax with random features
    mdp, f, rng = _instance(kind, seed, S=3, A=2, H=2)
    _, P = subrl._setup(mdp, f)
    phi = rng.standard_normal((2, 3, 2, d)) if d else None
    kw = {} if phi is None else dict(policy="linear_softmax", features=phi)
    res = sm.subpo(mdp, f, n_iter=6, batch_size=n, lr=lr, baseline=baseline, rng=seed, **kw)
    theta0 = np.zeros(12 if phi is None else d)
    theta, returns = subrl._subpo_python(mdp, P, f, theta0, phi, 6, n, lr, baseline, False,
                                         np.random.default_rng(seed))
    np.testing.assert_allclose(res.theta.ravel(), theta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.sampled_returns, returns, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- batches of seeds


@pytest.mark.parametrize("kind", ["weighted_coverage", "logdet"])
def test_batch_rows_equal_single_runs_whatever_the_batch_size(kind):
    mdp, f, _ = _instance(kind, 4)
    kw = dict(n_iter=15, batch_size=8, lr=0.5)
    big = sm.subpo(mdp, f, n_runs=5, rng=21, **kw)
    small = sm.subpo(mdp, f, n_runs=2, rng=21, **kw)
    children = np.random.SeedSequence(21).spawn(5)
    for i in range(5):
        one = sm.subpo(mdp, f, rng=children[i], **kw)
        np.testing.assert_array_equal(big.theta[i], one.theta)
        np.testing.assert_array_equal(big.sampled_returns[i], one.sampled_returns)
        np.testing.assert_array_equal(big.run(i).policy, one.policy)
    np.testing.assert_array_equal(small.theta, big.theta[:2])
    assert not np.array_equal(big.theta[0], big.theta[1])  # the runs are independent


def test_batch_is_bit_identical_across_thread_counts():
    mdp, f, _ = _instance("facility_location", 5)
    kw = dict(n_iter=10, batch_size=8, n_runs=4, rng=2)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = sm.subpo(mdp, f, **kw)
    finally:
        numba.set_num_threads(before)
    parallel = sm.subpo(mdp, f, **kw)
    np.testing.assert_array_equal(serial.theta, parallel.theta)
    np.testing.assert_array_equal(serial.sampled_returns, parallel.sampled_returns)


def test_single_run_reproducible_and_rng_sensitive():
    mdp, f, _ = _instance("coverage", 6)
    a = sm.subpo(mdp, f, n_iter=10, batch_size=8, rng=1)
    b = sm.subpo(mdp, f, n_iter=10, batch_size=8, rng=1)
    c = sm.subpo(mdp, f, n_iter=10, batch_size=8, rng=2)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)


# ---------------------------------------------------------------- linear softmax


@pytest.mark.parametrize("kind", ["weighted_coverage", "modular", "logdet"])
def test_one_hot_features_reproduce_tabular_subpo(kind):
    mdp, f, rng = _instance(kind, 7)
    theta0 = rng.standard_normal((3, 3, 2))
    kw = dict(n_iter=20, batch_size=16, lr=0.8, rng=3)
    tab = sm.subpo(mdp, f, theta0=theta0, **kw)
    lin = sm.subpo(mdp, f, theta0=theta0.ravel(), policy="linear_softmax", features=_one_hot(3, 3, 2), **kw)
    if kind == "logdet":  # the NumPy path: einsum and BLAS sums, equal to round-off
        np.testing.assert_allclose(lin.theta, tab.theta.ravel(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(lin.policy, tab.policy, rtol=0, atol=1e-12)
    else:  # the compiled path: the same operations in the same order, bit for bit
        np.testing.assert_array_equal(lin.theta, tab.theta.ravel())
        np.testing.assert_array_equal(lin.policy, tab.policy)
        np.testing.assert_array_equal(lin.sampled_returns, tab.sampled_returns)


def test_one_hot_features_reproduce_the_tabular_gradients():
    mdp, f, rng = _instance("facility_location", 8)
    theta = rng.standard_normal((3, 3, 2))
    phi = _one_hot(3, 3, 2)
    J, g = sm.exact_gradient(mdp, f, theta)
    Jl, gl = sm.exact_gradient(mdp, f, theta.ravel(), features=phi)
    assert Jl == J
    np.testing.assert_array_equal(gl, g.ravel())
    est = sm.subpo_gradient(mdp, f, theta, 300, rng=4)
    est_l = sm.subpo_gradient(mdp, f, theta.ravel(), 300, rng=4, policy="linear_softmax", features=phi)
    np.testing.assert_allclose(est_l, est.ravel(), rtol=0, atol=1e-14)


def test_linear_exact_gradient_matches_finite_differences():
    mdp, f, rng = _instance("weighted_coverage", 9)
    phi = rng.standard_normal((3, 3, 2, 5))
    theta = rng.standard_normal(5)
    J, g = sm.exact_gradient(mdp, f, theta, features=phi)
    assert J == pytest.approx(sm.markov_value(mdp, f, sm.linear_softmax_policy(phi, theta)), abs=1e-12)
    eps = 1e-6
    for j in range(5):
        e = np.zeros(5)
        e[j] = eps
        fd = (sm.exact_gradient(mdp, f, theta + e, features=phi)[0]
              - sm.exact_gradient(mdp, f, theta - e, features=phi)[0]) / (2 * eps)
        assert g[j] == pytest.approx(fd, abs=1e-7)


def test_linear_gradient_is_zero_for_constant_features_in_the_action():
    # phi(h, s, a) independent of a: the policy is uniform whatever theta, the score is 0
    mdp, f, rng = _instance("coverage", 10)
    phi = np.repeat(rng.standard_normal((3, 3, 1, 4)), 2, axis=2)
    theta = rng.standard_normal(4)
    _, g = sm.exact_gradient(mdp, f, theta, features=phi)
    np.testing.assert_allclose(g, 0.0, atol=1e-13)  # sums of O(1) terms that cancel
    est = sm.subpo_gradient(mdp, f, theta, 100, rng=0, policy="linear_softmax", features=phi)
    np.testing.assert_allclose(est, 0.0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_linear_estimator_mean_equals_exact_gradient(seed):
    # 200 batches of 300 episodes; a Bonferroni z at family-wise level 1e-4 (holds for seeds 0..2)
    from scipy import stats

    mdp, f, rng = _instance("weighted_coverage", 100 + seed)
    phi = rng.standard_normal((3, 3, 2, 3))
    theta = rng.standard_normal(3)
    _, exact = sm.exact_gradient(mdp, f, theta, features=phi)
    est = np.stack([sm.subpo_gradient(mdp, f, theta, 300, rng=1000 * seed + b, policy="linear_softmax",
                                      features=phi) for b in range(200)])
    z = np.abs(est.mean(0) - exact) / (est.std(0, ddof=1) / np.sqrt(len(est)))
    assert z.max() <= stats.norm.ppf(1 - 1e-4 / 6)


# ---------------------------------------------------------------- bad input


def test_bad_features_and_linear_arguments_name_the_argument():
    mdp, f, _ = _instance("coverage", 0)
    phi = np.zeros((3, 3, 2, 4))
    with pytest.raises(ValueError, match=r"features must have shape \(H, S, A, d\) = \(3, 3, 2, d >= 1\), got \(3, 3, 3, 4\)"):
        sm.subpo(mdp, f, n_iter=1, policy="linear_softmax", features=np.zeros((3, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"features must have 4 dimensions, got shape \(18, 4\)"):
        sm.subpo_gradient(mdp, f, np.zeros(4), 5, policy="linear_softmax", features=np.zeros((18, 4)))
    with pytest.raises(ValueError, match=r"got \(3, 3, 2, 0\)"):
        sm.subpo(mdp, f, n_iter=1, policy="linear_softmax", features=np.zeros((3, 3, 2, 0)))
    bad = phi.copy()
    bad[1, 2, 0, 3] = np.nan
    with pytest.raises(ValueError, match=r"features\[1, 2, 0, 3\] is nan"):
        sm.subpo(mdp, f, n_iter=1, policy="linear_softmax", features=bad)
    bad[1, 2, 0, 3] = np.inf
    with pytest.raises(ValueError, match=r"features\[1, 2, 0, 3\] is inf"):
        sm.exact_gradient(mdp, f, np.zeros(4), features=bad)
    with pytest.raises(ValueError, match="needs features"):
        sm.subpo(mdp, f, n_iter=1, policy="linear_softmax")
    with pytest.raises(ValueError, match="features are only used with policy='linear_softmax'"):
        sm.subpo(mdp, f, n_iter=1, features=phi)
    with pytest.raises(ValueError, match="policy"):
        sm.subpo(mdp, f, n_iter=1, policy="mlp")
    with pytest.raises(ValueError, match=r"theta must be a finite array of shape \(d,\) = \(4,\)"):
        sm.subpo(mdp, f, n_iter=1, policy="linear_softmax", features=phi, theta0=np.zeros(5))
    with pytest.raises(ValueError, match=r"theta must be a finite array of shape \(d,\)"):
        sm.subpo_gradient(mdp, f, np.array([0.0, np.nan, 0.0, 0.0]), 5, policy="linear_softmax", features=phi)
    with pytest.raises(ValueError, match="state_independent"):
        sm.subpo(mdp, f, n_iter=1, policy="linear_softmax", features=phi, state_independent=True)
    with pytest.raises(ValueError, match="n_runs"):
        sm.subpo(mdp, f, n_iter=1, n_runs=0)
    with pytest.raises(TypeError, match="rng"):
        sm.subpo(mdp, f, n_iter=1, n_runs=2, rng=-1)
