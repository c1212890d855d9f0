"""The compiled whole-run loops of :mod:`algorithms.nash._loops` are bitwise equal to the Python
loops they replace (the definition), for every algorithm they cover, with and without contexts,
constant and decaying steps, and at the edges (``eta * beta = 1``, ``beta = 0``)."""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.nash import _loops, nash_md, nash_mirror_prox, online_mirror_descent
from mdps.preference_generators import contextual, uniform_tournament

from ._nash_helpers import seeded_game


def _both(run):
    """``run()`` with the compiled loop and with the reference loop."""
    fast = run()
    _loops.ENABLED = False
    try:
        slow = run()
    finally:
        _loops.ENABLED = True
    return fast, slow


def _assert_identical(fast, slow):
    for name in ("policy", "policies", "average_policy", "queries", "duels"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert np.array_equal(a, b), f"{name}: max |diff| {np.abs(a - b).max():.3g}"
    assert type(fast.settings) is type(slow.settings) and fast.method == slow.method
    assert np.array_equal(fast.settings.step_sizes, slow.settings.step_sizes)


def _context_game(seed, K, X=3):
    rng = np.random.default_rng(seed)
    return contextual([uniform_tournament(K, rng=rng, ref=rng.dirichlet(np.full(K, 2.0))) for _ in range(X)])


ALGORITHMS = {
    "omd_linearized": lambda g, beta, eta, n, sched: online_mirror_descent(g, beta, eta, n, schedule=sched),
    "omd_exact": lambda g, beta, eta, n, sched: online_mirror_descent(g, beta, eta, n, prox="exact", schedule=sched),
    "nash_md": lambda g, beta, eta, n, sched: nash_md(g, beta, eta, n, schedule=sched),
    "nash_mp": lambda g, beta, eta, n, sched: nash_mirror_prox(g, beta, eta, n, schedule=sched),
}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("K", [2, 3, 10, 100])
@pytest.mark.parametrize("schedule", ["constant", "decaying"])
def test_compiled_loop_is_bitwise_the_python_loop(algorithm, K, schedule):
    game = seeded_game(K, K)
    run = ALGORITHMS[algorithm]
    _assert_identical(*_both(lambda: run(game, 0.1, 2.0 if "linearized" not in algorithm and algorithm != "nash_md"
                                         else 5.0, 60, schedule)))


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_compiled_loop_is_bitwise_the_python_loop_with_contexts(algorithm):
    game = _context_game(7, 6)
    _assert_identical(*_both(lambda: ALGORITHMS[algorithm](game, 0.5, 1.0, 40, "constant")))


@pytest.mark.parametrize("algorithm", ["omd_linearized", "nash_md"])
def test_edge_eta_beta_one(algorithm):
    # eta * beta = 1: the linearised step drops the previous iterate (weight 0 skipped in the kernel)
    game = seeded_game(3, 5)
    _assert_identical(*_both(lambda: ALGORITHMS[algorithm](game, 0.5, 2.0, 20, "constant")))


@pytest.mark.parametrize("prox", ["linearized", "exact"])
def test_hedge_beta_zero(prox):
    game = seeded_game(4, 7)
    _assert_identical(*_both(lambda: online_mirror_descent(game, 0.0, 0.3, 50, prox=prox)))


def test_overflowing_steps_are_refused_the_same_way():
    game = seeded_game(5, 4)
    messages = []
    for enabled in (True, False):
        _loops.ENABLED = enabled
        try:
            with pytest.raises(ValueError, match="eta") as info:
                online_mirror_descent(game, 0.0, 1e308, 5, prox="exact")
            messages.append(str(info.value))
        finally:
            _loops.ENABLED = True
    assert messages[0] == messages[1]


def test_numba_gemv_is_numpy_gemv_bitwise():
    # the premise of bitwise equality: Numba's np.dot hands a row-major matrix-vector product to
    # the same BLAS dgemv as NumPy's @ (so any future BLAS mismatch is reported here, plainly)
    rng = np.random.default_rng(0)
    for K in (3, 10, 100, 1000):
        P, pi = rng.random((2, K, K)), rng.dirichlet(np.ones(K), size=2)
        out = np.empty((2, K))
        _loops._win_rates(P, pi, out)
        assert np.array_equal(out, np.matmul(P, pi[..., None])[..., 0])
        assert np.array_equal(out[0], P[0] @ pi[0])
