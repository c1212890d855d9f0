"""The shared prox-step primitive of algorithms.nash and its step-size schedules.

Checks: (i) the closed forms solve their argmax problems (preference.md 0.3 item 2), against a
brute-force scipy optimisation over softmax logits on small K; (ii) the Numba kernel agrees
with its NumPy reference (Hypothesis); (iii) outputs are normalised log-policies with full
support; (iv) the schedules follow their documented formulas.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize as so
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from algorithms.nash import linearized_prox_step, prox_step, step_sizes
from algorithms.nash._prox import _geometric, _geometric_numpy

finite = dict(allow_nan=False, allow_infinity=False)


def _kl(p, q):
    return float(np.sum(p * (np.log(p) - np.log(q))))


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _brute_argmax(objective, K, rng):
    """Maximise ``objective(pi)`` over the simplex via softmax logits (multi-start BFGS)."""
    best = None
    for _ in range(3):
        res = so.minimize(lambda th: -objective(_softmax(th)), rng.normal(size=K), method="BFGS",
                          options=dict(gtol=1e-11, maxiter=5000))
        if best is None or res.fun < best.fun:
            best = res
    return _softmax(best.x), -best.fun


@pytest.mark.parametrize("seed", range(5))
def test_prox_step_solves_its_argmax(seed):
    """prox = argmax eta<pi,v> - eta beta KL(pi||mu) - KL(pi||pi0) (preference.md 0.3 item 2)."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 6))
    pi0, mu = rng.dirichlet(np.ones(K)), rng.dirichlet(np.ones(K))
    v = rng.random(K)
    eta, beta = float(rng.uniform(0.1, 2.0)), float(rng.uniform(0.05, 2.0))

    def obj(p):
        return eta * p @ v - eta * beta * _kl(p, mu) - _kl(p, pi0)

    closed = np.exp(prox_step(np.log(pi0), np.log(mu), v, eta, beta))
    brute, best_val = _brute_argmax(obj, K, rng)
    assert obj(closed) >= best_val - 1e-12  # the closed form is at least as good as the optimiser
    np.testing.assert_allclose(closed, brute, atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_linearized_prox_step_solves_its_argmax(seed):
    """prox_lin = argmax eta<pi, v> - eta beta <pi, log(pi0/mu)> - KL(pi||pi0): KL(pi||mu) replaced
    by its linearisation at pi0 (constants dropped); needs eta beta <= 1 only for the sign of
    the exponent, not for optimality."""
    rng = np.random.default_rng(100 + seed)
    K = int(rng.integers(2, 6))
    pi0, mu = rng.dirichlet(np.ones(K)), rng.dirichlet(np.ones(K))
    v = rng.random(K)
    beta = float(rng.uniform(0.05, 2.0))
    eta = float(rng.uniform(0.05, 1.0 / beta))

    def obj(p):
        return eta * p @ v - eta * beta * p @ (np.log(pi0) - np.log(mu)) - _kl(p, pi0)

    closed = np.exp(linearized_prox_step(np.log(pi0), np.log(mu), v, eta, beta))
    brute, best_val = _brute_argmax(obj, K, rng)
    assert obj(closed) >= best_val - 1e-12
    np.testing.assert_allclose(closed, brute, atol=1e-6)


def test_prox_step_special_cases():
    """beta = 0: Hedge pi0 e^{eta v}; eta = 0: identity; v = None: pure geometric mixture."""
    rng = np.random.default_rng(7)
    pi0, mu, v = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5)), rng.random(5)
    hedge = pi0 * np.exp(0.7 * v)
    np.testing.assert_allclose(np.exp(prox_step(np.log(pi0), None, v, 0.7, 0.0)), hedge / hedge.sum(), rtol=1e-13)
    np.testing.assert_allclose(np.exp(linearized_prox_step(np.log(pi0), None, v, 0.7, 0.0)), hedge / hedge.sum(),
                               rtol=1e-13)
    np.testing.assert_allclose(np.exp(prox_step(np.log(pi0), np.log(mu), v, 0.0, 1.0)), pi0, rtol=1e-13)
    mix = pi0 ** 0.6 * mu ** 0.4
    np.testing.assert_allclose(np.exp(linearized_prox_step(np.log(pi0), np.log(mu), None, 0.4, 1.0)),
                               mix / mix.sum(), rtol=1e-13)


@st.composite
def _geometric_inputs(draw):
    X = draw(st.integers(1, 3))
    K = draw(st.integers(1, 12))
    arr = lambda lo, hi: hnp.arrays(np.float64, (X, K), elements=st.floats(lo, hi, **finite))  # noqa: E731
    a = draw(st.floats(-1.0, 2.0, **finite))
    b = draw(st.sampled_from([0.0, 0.3, 1.0]))
    c = draw(st.sampled_from([0.0, 0.5, 40.0]))
    return a, draw(arr(-50, 0)), b, draw(arr(-50, 0)), c, draw(arr(-5, 5))


@settings(max_examples=80)
@given(_geometric_inputs())
def test_kernel_matches_numpy_reference(inp):
    a, lp, b, la, c, v = inp
    z1, p1 = _geometric(a, lp, b, la, c, v)
    z2, p2 = _geometric_numpy(a, lp, b, la, c, v)
    np.testing.assert_allclose(z1, z2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p1, p2, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(p1.sum(axis=-1), 1.0, atol=1e-13)
    assert np.all(np.isfinite(z1)) and np.all(z1 <= 1e-15)
    np.testing.assert_allclose(np.exp(z1), p1, rtol=1e-12, atol=1e-300)


def test_step_sizes_formulas():
    np.testing.assert_array_equal(step_sizes("constant", 0.3, 4), [0.3] * 4)
    t = np.arange(5.0)
    np.testing.assert_allclose(step_sizes("decaying", 2.0, 5, beta=0.5), 2.0 / (1 + 2.0 * 0.5 * t / 2))
    # eta = 1/tau reproduces Munos et al.'s eta_t = 2 / (tau (t + 2))
    np.testing.assert_allclose(step_sizes("decaying", 1 / 0.2, 5, beta=0.2), 2 / (0.2 * (t + 2)), rtol=1e-14)
    np.testing.assert_allclose(step_sizes("decaying", 0.4, 5), 0.4 / np.sqrt(t + 1))
    np.testing.assert_allclose(step_sizes(lambda k: 1.0 / (k + 1), 9.0, 3), [1, 0.5, 1 / 3])
    with pytest.raises(ValueError, match=r"schedule\(1\) must be a finite number > 0"):
        step_sizes(lambda k: 1.0 - k, 1.0, 3)
    with pytest.raises(ValueError, match="schedule must be"):
        step_sizes("cosine", 1.0, 3)


@given(
    K=st.integers(2, 8),
    seed=st.integers(0, 2**32 - 1),
    c=st.floats(-5.0, 5.0, allow_nan=False),
    eta=st.floats(0.01, 2.0),
    beta=st.floats(0.0, 0.5),
)
@settings(max_examples=60)
def test_payoff_shift_invariance(K, seed, c, eta, beta):
    # preference.md 3.5 invariant 5: every exponential-weights update is unchanged when a
    # constant is added to the payoff (P <- P + c shifts P pi by c), by softmax shift invariance
    rng = np.random.default_rng(seed)
    log_pi0 = np.log(rng.dirichlet(np.ones(K)))
    log_mu = np.log(rng.dirichlet(np.ones(K)))
    v = rng.random(K)
    for step in (prox_step, linearized_prox_step):
        np.testing.assert_allclose(np.exp(step(log_pi0, log_mu, v + c, eta, beta)),
                                   np.exp(step(log_pi0, log_mu, v, eta, beta)), atol=1e-12)
