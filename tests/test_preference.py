"""Tests of mdps.preference (container, exact ground truth, duel oracle) and the log-space
primitives appended to mdps.numerics.

Golden values: theory/preference.md, section 1.3 (tagged [der ✔] there: derived from the
fixed-point equations and checked numerically in float64 by the note's author); they are
quoted to 6 decimals, so they are tested to 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mdps import _pref_kernels as pk
from mdps import _pref_reference as pref_ref
from mdps.numerics import entropy, kl, log_softmax, log_span, logsumexp, softmax
from mdps.preference import PreferenceGame
from mdps.preference_generators import bradley_terry, clones, cycle, rock_paper_scissors, uniform_tournament
from tests.strategies import finite, full_support_simplex, preference_game, preference_matrix, simplex

INTRANSITIVE = [[0.5, 0.9, 0.3], [0.1, 0.5, 0.6], [0.7, 0.4, 0.5]]
MU = np.array([0.5, 0.3, 0.2])
BT_SCORES = np.array([1.0, 0.5, 0.0, -0.5])


def logits(n, bound=50.0):
    return hnp.arrays(np.float64, n, elements=st.floats(-bound, bound, **finite))


# -- numerics ------------------------------------------------------------------------------------
@given(z=logits(st.integers(1, 20)), c=st.floats(-1e3, 1e3, **finite))
def test_logsumexp_matches_naive_and_is_shift_equivariant(z, c):
    assert logsumexp(z) == pytest.approx(np.log(np.sum(np.exp(z))), rel=1e-12, abs=1e-12)
    assert logsumexp(z + c) == pytest.approx(logsumexp(z) + c, rel=1e-12, abs=1e-9)


def test_logsumexp_edge_cases():
    assert logsumexp([1000.0, 1000.0]) == pytest.approx(1000.0 + np.log(2))
    assert logsumexp([-np.inf, -np.inf]) == -np.inf
    assert logsumexp([-np.inf, 0.0]) == 0.0
    assert logsumexp([np.inf, 0.0]) == np.inf
    np.testing.assert_allclose(logsumexp(np.zeros((2, 3)), axis=0), np.full(3, np.log(2)))


@given(z=logits(st.integers(1, 20), bound=800.0), c=st.floats(-1e3, 1e3, **finite))
def test_softmax_is_stable_normalised_and_shift_invariant(z, c):
    p = softmax(z)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(softmax(z + c), p, atol=1e-12)
    np.testing.assert_allclose(np.exp(log_softmax(z)), p, atol=1e-15)


@given(n=st.integers(1, 10), data=st.data())
def test_kl_properties(n, data):
    p = data.draw(simplex(n))
    q = data.draw(full_support_simplex(n))
    assert kl(p, q) >= -1e-15
    assert kl(p, p) == pytest.approx(0.0, abs=1e-15)
    assert kl(q, q) == pytest.approx(0.0, abs=1e-15)
    # KL to the uniform distribution is log n - H(p); entropy lies in [0, log n]
    assert kl(p, np.full(n, 1.0 / n)) == pytest.approx(np.log(n) - entropy(p), abs=1e-12)
    assert -1e-15 <= entropy(p) <= np.log(n) + 1e-12


def test_kl_and_entropy_zero_conventions():
    assert kl([0.5, 0.5, 0.0], [0.5, 0.0, 0.5]) == np.inf
    assert kl([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert kl([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert entropy([0.0, 1.0]) == 0.0
    np.testing.assert_allclose(kl(np.eye(2), np.full((2, 2), 0.5), axis=1), [np.log(2)] * 2)


@given(n=st.integers(1, 10), data=st.data(), c=st.floats(-100, 100, **finite))
def test_log_span_is_a_shift_invariant_seminorm(n, data, c):
    p = np.log(data.draw(full_support_simplex(n)))
    q = np.log(data.draw(full_support_simplex(n)))
    s = log_span(p, q)
    assert s >= 0
    assert log_span(p + c, q) == pytest.approx(s, abs=1e-9)
    assert log_span(q, p) == pytest.approx(s, abs=1e-12)
    assert log_span(p, p) == 0.0


def test_log_span_infinite_entries():
    assert log_span([0.0, -np.inf], [0.0, -1.0]) == np.inf
    assert log_span([0.0, -np.inf], [1.0, -np.inf]) == 0.0


# -- golden values (theory/preference.md 1.3) ------------------------------------------------------
RPS_GOLDEN = [
    (1.0, 1.00, (0.510868, 0.261556, 0.227576), 0.004870),
    (1.0, 0.10, (0.375327, 0.277433, 0.347240), 0.036113),
    (1.0, 0.01, (0.336224, 0.327218, 0.336558), 0.084073),
    (0.8, 1.00, (0.509968, 0.275062, 0.214971), 0.001772),
    (0.8, 0.10, (0.409943, 0.253410, 0.336646), 0.014956),
    (0.8, 0.01, (0.338354, 0.323148, 0.338498), 0.045079),
]


@pytest.mark.parametrize("p, tau, pi_star, e_mu", RPS_GOLDEN)
def test_golden_rps(p, tau, pi_star, e_mu):
    game = rock_paper_scissors(p, ref=MU)
    np.testing.assert_allclose(game.Pref[[0, 1, 2], [1, 2, 0]], p)
    pi = game.regularized_nash(tau)
    np.testing.assert_allclose(pi, pi_star, atol=1e-6)
    assert game.exploitability(MU, beta=tau) == pytest.approx(e_mu, abs=1e-6)


@pytest.mark.parametrize("tau, pi_star", [
    (1.00, (0.293584, 0.262564, 0.233928, 0.209924)),
    (0.10, (0.697069, 0.208756, 0.067819, 0.026357)),
    (0.01, (0.999995, 0.000005, 0.0, 0.0)),
])
def test_golden_bradley_terry(tau, pi_star):
    pi = bradley_terry(BT_SCORES).regularized_nash(tau)
    np.testing.assert_allclose(pi, pi_star, atol=1e-6)


# -- the symmetric game ---------------------------------------------------------------------------
@given(game=preference_game(), data=st.data())
def test_self_preference_is_one_half(game, data):
    pi = data.draw(simplex(game.n_responses))
    pi2 = data.draw(simplex(game.n_responses))
    assert game.preference(pi, pi) == pytest.approx(0.5, abs=1e-14)
    assert game.preference(pi, pi2) + game.preference(pi2, pi) == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(game.win_rates(pi), game.Pref @ pi)
    assert game.exploitability(pi) >= 0.0
    assert game.duality_gap(pi) == 2 * game.exploitability(pi)


@given(P=preference_matrix())
def test_stored_matrix_is_exactly_complementary(P):
    game = PreferenceGame(P)
    np.testing.assert_array_equal(np.diag(game.Pref), 0.5)
    assert np.abs(game.Pref + game.Pref.T - 1.0).max() <= 1e-16
    np.testing.assert_allclose(game.Pref, P, atol=1e-16)


def test_intransitive_nash():
    game = PreferenceGame(INTRANSITIVE)
    np.testing.assert_allclose(game.nash(), np.array([1, 2, 4]) / 7, atol=1e-9)
    assert game.exploitability(np.array([1, 2, 4]) / 7) == pytest.approx(0.0, abs=1e-15)


def test_rps_and_cycle_nash_are_uniform():
    np.testing.assert_allclose(rock_paper_scissors(0.7).nash(), np.full(3, 1 / 3), atol=1e-9)
    np.testing.assert_allclose(cycle(5, 1.0).nash(), np.full(5, 1 / 5), atol=1e-9)


@given(scores=hnp.arrays(np.float64, st.integers(2, 10), elements=st.floats(-3, 3, **finite), unique=True))
def test_bradley_terry_nash_is_the_condorcet_winner(scores):
    if np.sort(scores)[-1] - np.sort(scores)[-2] < 1e-6:
        scores = scores.copy()
        scores[np.argmax(scores)] += 1e-3
    pi = bradley_terry(scores).nash()
    np.testing.assert_allclose(pi, np.eye(scores.size)[np.argmax(scores)], atol=1e-9)


@given(K=st.integers(2, 12), data=st.data())
def test_all_half_game_has_value_half_and_zero_exploitability(K, data):
    game = PreferenceGame(np.full((K, K), 0.5))
    pi = data.draw(simplex(K))
    assert game.preference(pi, data.draw(simplex(K))) == pytest.approx(0.5, abs=1e-15)
    assert game.exploitability(pi) == 0.0
    assert game.exploitability(game.nash()) == 0.0


@settings(max_examples=30)
@given(game=preference_game())
def test_lp_nash_is_certified(game):
    pi = game.nash()
    assert np.all(pi >= 0) and pi.sum() == pytest.approx(1.0, abs=1e-12)
    assert game.exploitability(pi) <= 1e-9
    assert np.all((pi @ (game.Pref - 0.5)) >= -1e-9)  # (pi*)^T A >= 0


# -- the regularised game -------------------------------------------------------------------------
betas = st.sampled_from([0.03, 0.1, 0.3, 1.0, 3.0])


@settings(max_examples=40)
@given(game=preference_game(), beta=betas, data=st.data())
def test_regularized_nash_certified_and_strictly_exploitable_elsewhere(game, beta, data):
    pi_star = game.regularized_nash(beta)
    assert game.fixed_point_residual(pi_star, beta) < 1e-12
    assert game.exploitability(pi_star, beta) < 1e-12
    # E_beta(pi) >= beta KL(pi || pi*) (derived in test_exploitability_lower_bound_derivation), so E_beta
    # vanishes only at pi*; and E_beta(pi) = beta KL(pi || softmax(log mu + Pref pi / beta)).
    pi = data.draw(simplex(game.n_responses))
    e = game.exploitability(pi, beta)
    assert e >= beta * kl(pi, pi_star) - 1e-12
    q = softmax(np.log(game.ref) + game.Pref @ pi / beta)
    assert e == pytest.approx(beta * kl(pi, q), abs=1e-12)


def test_exploitability_lower_bound_derivation():
    r"""E_beta(pi) >= P_beta(pi* > pi) - 1/2 = pi*^T A pi + beta (KL(pi|mu) - KL(pi*|mu)); with
    log pi* = log mu + A pi*/beta - c the bracket is KL(pi|pi*) + pi^T A pi*/beta, and the A terms
    cancel by antisymmetry: E_beta(pi) >= beta KL(pi | pi*). Checked here on one instance by hand."""
    game = PreferenceGame(INTRANSITIVE, ref=MU)
    beta = 0.2
    ps = game.regularized_nash(beta)
    pi = np.array([0.6, 0.3, 0.1])
    lhs = ps @ (game.Pref - 0.5) @ pi + beta * (kl(pi, MU) - kl(ps, MU))
    assert lhs == pytest.approx(beta * kl(pi, ps), abs=1e-12)


@settings(max_examples=40)
@given(game=preference_game(), beta=betas)
def test_regularisation_bias_bound(game, beta):
    pi_star = game.regularized_nash(beta)
    bound = beta * (np.log(1.0 / game.ref.min()) - kl(pi_star, game.ref))
    assert game.exploitability(pi_star) <= bound + 1e-12
    assert bound <= beta * np.log(1.0 / game.ref.min()) + 1e-15


@settings(max_examples=25)
@given(game=preference_game(max_K=6), beta=betas, data=st.data())
def test_clone_invariance(game, beta, data):
    K = game.n_responses
    y = data.draw(st.integers(0, K - 1))
    mu = data.draw(full_support_simplex(K + 1))
    cl = clones(game, y, ref=mu)
    pi = cl.regularized_nash(beta)
    assert pi[y] / pi[K] == pytest.approx(mu[y] / mu[K], rel=1e-9)


def test_small_beta_selects_the_kl_projection_onto_the_nash_set():
    # theory 1.2: rock duplicated (R1, R2, P, S), mu = (.4, .1, .25, .25): pi*_tau -> (4, 1, 5, 5)/15
    game = clones(rock_paper_scissors(), [0], ref=[0.4, 0.25, 0.25, 0.1])
    pi = game.regularized_nash(1e-3)
    np.testing.assert_allclose(pi[[0, 3, 1, 2]], np.array([4, 1, 5, 5]) / 15, atol=5e-3)


def test_small_beta_large_K_is_certified():
    game = uniform_tournament(200, rng=0)
    pi = game.regularized_nash(1e-3)
    assert game.fixed_point_residual(pi, 1e-3) < 1e-12
    assert game.exploitability(pi, 1e-3) < 1e-12
    assert game.exploitability(pi) <= 1e-3 * np.log(200)


def test_certification_failure_raises():
    game = uniform_tournament(10, rng=1)
    with pytest.raises(RuntimeError, match="not certified.*residual"):
        game.regularized_nash(0.01, max_iter=1)


cvxpy = pytest.importorskip("cvxpy")


@settings(max_examples=15)
@given(game=preference_game(max_K=6), beta=st.sampled_from([0.1, 0.3, 1.0]))
def test_regularized_nash_matches_convex_program(game, beta):
    """pi*_beta = argmin_pi E_beta(pi); E_beta = beta lse(log mu + A pi / beta) + beta KL(pi | mu)
    is convex (log-sum-exp of an affine map plus KL), and minimised at value 0."""
    K, mu = game.n_responses, game.ref
    A = game.Pref - 0.5
    x = cvxpy.Variable(K, nonneg=True)
    obj = beta * cvxpy.log_sum_exp(np.log(mu) + A @ x / beta) + beta * cvxpy.sum(cvxpy.kl_div(x, mu))
    prob = cvxpy.Problem(cvxpy.Minimize(obj), [cvxpy.sum(x) == 1])
    prob.solve(solver="CLARABEL")
    assert abs(prob.value) < 1e-6
    pi_cvx = np.clip(x.value, 1e-300, None)
    pi_cvx /= pi_cvx.sum()
    pi_star = game.regularized_nash(beta)
    gap = game.exploitability(pi_cvx, beta)
    # E_beta(pi) >= beta KL(pi | pi*) >= beta/2 ||pi - pi*||_1^2 (Pinsker)
    assert np.abs(pi_cvx - pi_star).sum() <= np.sqrt(2 * gap / beta) + 1e-9
    assert gap < 1e-6


def test_contextual_game_decouples():
    from mdps.preference_generators import contextual

    g1, g2 = rock_paper_scissors(0.8, ref=MU), PreferenceGame(INTRANSITIVE)
    game = contextual([g1, g2], weights=[0.25, 0.75])
    pi = game.regularized_nash(0.1)
    np.testing.assert_allclose(pi, [g1.regularized_nash(0.1), g2.regularized_nash(0.1)], atol=1e-14)
    np.testing.assert_allclose(game.nash(), [np.full(3, 1 / 3), np.array([1, 2, 4]) / 7], atol=1e-9)
    u = np.full((2, 3), 1 / 3)
    assert game.exploitability(u, 0.1) == pytest.approx(
        0.25 * g1.exploitability(u[0], 0.1) + 0.75 * g2.exploitability(u[1], 0.1), abs=1e-15)
    assert game.preference(u, pi) == pytest.approx(0.25 * g1.preference(u[0], pi[0]) + 0.75 * g2.preference(u[1], pi[1]))
    assert game.win_rates(u).shape == (2, 3)
    assert game.n_contexts == 2 and game.contextual and game.ref.shape == (2, 3)


# -- duels ----------------------------------------------------------------------------------------
@given(P=preference_matrix(), n=st.integers(0, 200), noise=st.floats(0, 0.5), seed=st.integers(0, 2**32 - 1))
def test_duel_kernel_matches_reference(P, n, noise, seed):
    rng = np.random.default_rng(seed)
    K = P.shape[0]
    P3 = np.ascontiguousarray(P[None])
    i, j = rng.integers(0, K, n), rng.integers(0, K, n)
    ctx = np.zeros(n, dtype=np.int64)
    u = rng.random(n)
    out = np.empty(n, dtype=np.bool_)
    pk.duel_outcomes(P3, ctx, i, j, u, noise, out)
    np.testing.assert_array_equal(out, pref_ref.duel_outcomes(P3, ctx, i, j, u, noise))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_duel_frequencies_within_five_sigma(seed, noise):
    game = uniform_tournament(6, rng=100 + seed)
    n = 20_000
    i, j = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    wins = game.duel(np.repeat(i[..., None], n, axis=2), np.repeat(j[..., None], n, axis=2), rng=seed, noise=noise)
    p = (1 - 2 * noise) * game.Pref + noise
    freq = wins.mean(axis=2)
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_empirical_win_rates_within_five_sigma(seed):
    game = PreferenceGame(INTRANSITIVE)
    pi = np.array([0.2, 0.0, 0.8])
    n = 20_000
    est = game.empirical_win_rates(pi, n, rng=seed)
    assert np.all(np.abs(est - game.win_rates(pi)) <= 5 * 0.5 / np.sqrt(n))


def test_duel_shapes_contexts_and_reproducibility():
    from mdps.preference_generators import contextual

    game = contextual([PreferenceGame(np.eye(2) * 0 + [[0.5, 1.0], [0.0, 0.5]]), PreferenceGame([[0.5, 0.0], [1.0, 0.5]])])
    out = game.duel([0, 0], 1, context=[0, 1], rng=0)
    np.testing.assert_array_equal(out, [True, False])
    with pytest.raises(ValueError, match="context is required"):
        game.duel(0, 1, rng=0)
    g = uniform_tournament(4, rng=0)
    np.testing.assert_array_equal(g.duel(np.arange(4), 0, rng=7), g.duel(np.arange(4), 0, rng=7))
    assert g.duel(0, 1, rng=0).shape == ()


# -- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize("P, exc, msg", [
    (np.full((2, 3), 0.5), ValueError, r"matching response axes, got \(2, 3\)"),
    ([[0.5, 0.9, 0.3], [0.1, 0.5, 0.6], [0.8, 0.4, 0.5]], ValueError,
     r"Pref\[0, 2\] \+ Pref\[2, 0\] = 1.1, expected 1 within 1e-09"),
    ([[0.5, 1.2], [-0.2, 0.5]], ValueError, r"Pref\[0, 1\] is 1.2, expected in \[0, 1\]"),
    ([[0.5, np.nan], [0.5, 0.5]], ValueError, r"Pref\[0, 1\] is nan, expected a finite number"),
    ([[0.5]], ValueError, r"K >= 2"),
    (np.full((2, 2, 2, 2), 0.5), ValueError, r"2 or 3 dimensions"),
    ("abc", TypeError, r"numeric array"),
])
def test_bad_pref_rejected(P, exc, msg):
    with pytest.raises(exc, match=msg):
        PreferenceGame(P)


def test_bad_ref_weights_beta_and_policies_rejected():
    with pytest.raises(ValueError, match=r"ref\[3\] is 0, expected > 0 \(full support\)"):
        PreferenceGame(np.full((4, 4), 0.5), ref=[0.5, 0.25, 0.25, 0.0])
    with pytest.raises(ValueError, match=r"ref sums to 0.9"):
        PreferenceGame(np.full((2, 2), 0.5), ref=[0.5, 0.4])
    with pytest.raises(ValueError, match=r"ref must have shape \(2,\)"):
        PreferenceGame(np.full((2, 2), 0.5), ref=[0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="weights are only for a contextual"):
        PreferenceGame(np.full((2, 2), 0.5), weights=[1.0])
    with pytest.raises(ValueError, match=r"weights\[1\] is -0.5"):
        PreferenceGame(np.full((2, 2, 2), 0.5), weights=[1.5, -0.5])
    game = PreferenceGame(INTRANSITIVE)
    for beta in (0, 0.0, -1.0):
        with pytest.raises(ValueError, match=f"beta must be finite and > 0, got {beta!r}"):
            game.regularized_nash(beta)
    with pytest.raises(ValueError, match="beta must be finite and > 0, got 0"):
        game.fixed_point_residual(MU, 0)
    with pytest.raises(ValueError, match=r"beta must be finite and >= 0, got -0.1"):
        game.exploitability(MU, beta=-0.1)
    with pytest.raises(TypeError, match="beta must be a real number"):
        game.regularized_nash("0.1")
    with pytest.raises(ValueError, match=r"beta must be finite and > 0, got nan"):
        game.regularized_nash(float("nan"))
    with pytest.raises(ValueError, match=r"pi sums to 0.9"):
        game.exploitability([0.5, 0.3, 0.1])
    with pytest.raises(ValueError, match=r"pi\[1\] is -0.1, expected >= 0"):
        game.win_rates([0.6, -0.1, 0.5])
    with pytest.raises(ValueError, match=r"pi must have shape \(3,\)"):
        game.exploitability([0.5, 0.5])
    with pytest.raises(ValueError, match=r"pi\[0\] is nan"):
        game.exploitability([np.nan, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"pi2 sums to"):
        game.preference(MU, [1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"ref\[1\] is 0"):
        game.regularized_nash(0.1, ref=[0.5, 0.0, 0.5])
    with pytest.raises(ValueError, match=r"i\[1\] is 3, expected in \[0, 3\)"):
        game.duel([0, 3], [1, 1], rng=0)
    with pytest.raises(TypeError, match="integer index"):
        game.duel([0.0], [1], rng=0)
    with pytest.raises(ValueError, match=r"noise must be a finite number in \[0, 0.5\], got 0.7"):
        game.duel(0, 1, rng=0, noise=0.7)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        game.empirical_win_rates(MU, 0, rng=0)


def test_immutable():
    game = PreferenceGame(INTRANSITIVE, ref=MU)
    with pytest.raises(AttributeError, match="immutable"):
        game.beta = 1.0
    for arr in (game.Pref, game.ref, game.weights):
        with pytest.raises(ValueError):
            arr[0] = 0.0
    assert game.n_responses == 3 and game.n_contexts == 1 and not game.contextual
    np.testing.assert_array_equal(game.weights, [1.0])


# -- constructor fuzz ---------------------------------------------------------------------------
_any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def _game_args(draw):
    """Arbitrary (often near-valid) preference matrices, references and weights, NaN/inf included."""
    K = draw(st.integers(0, 4))
    X = draw(st.sampled_from([None, 1, 2]))
    shape = (K, K + draw(st.sampled_from([0, 0, 0, 1]))) if X is None else (X, K, K)
    P = draw(hnp.arrays(np.float64, shape, elements=_any_float))
    if draw(st.booleans()) and P.size and P.shape[-1] == P.shape[-2]:
        with np.errstate(all="ignore"):  # make it complementary where the draw allows it
            P = np.where(np.isfinite(P), np.clip(P, 0.0, 1.0), P)
            P = 0.5 * (P + 1.0 - np.swapaxes(P, -1, -2))
    ref = draw(st.one_of(st.none(), hnp.arrays(np.float64, st.integers(0, 5), elements=_any_float)))
    weights = draw(st.one_of(st.none(), hnp.arrays(np.float64, st.integers(0, 3), elements=_any_float)))
    return P, ref, weights


@given(_game_args())
@settings(max_examples=150)
def test_constructor_fuzz(args):
    # any input either builds a valid game or raises ValueError/TypeError with a message
    P, ref, weights = args
    try:
        game = PreferenceGame(P, ref=ref, weights=weights)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    Pref = np.asarray(game.Pref)
    assert np.all(np.isfinite(Pref)) and np.all((Pref >= 0) & (Pref <= 1))
    np.testing.assert_allclose(Pref + np.swapaxes(Pref, -1, -2), 1.0, atol=1e-9)
    assert np.all(game.ref > 0) and np.allclose(game.ref.sum(axis=-1), 1.0)
    pi = np.full(np.shape(game.ref), 1.0 / game.n_responses)  # (K,) or (X, K)
    assert np.isfinite(game.exploitability(pi))
