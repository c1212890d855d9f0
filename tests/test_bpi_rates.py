"""The helpers of the ``bpi.epsilon_rate`` check: the graded-gap instance, exact regularised
evaluation, the oracle time and the log-factor tolerance (exact facts, properties, bad input)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
import mdps
from algorithms import exploration
from proofs_checks.exploration import bpi_rates as br
from proofs_checks.exploration.demo_bpi import exact_values


# ------------------------------------------------------------------------------ the instance
def test_instance_values_are_the_arm_probabilities():
    mdp = br.instance()
    A = mdp.n_actions
    assert A == br.GAPS.size + 1
    sol = mdps.backward_induction(mdp)
    assert float(mdp.rho @ sol.V[0]) == pytest.approx(br.P_BEST, abs=1e-15)
    # the deterministic policy playing arm a at the start has value p_a = p_best - gap
    for a in range(A):
        pol = np.zeros((mdp.horizon, mdp.n_states, A))
        pol[:, :, a] = 1.0
        gap = 0.0 if a == A - 1 else br.GAPS[a]
        assert float(exact_values(mdp, pol)) == pytest.approx(br.P_BEST - gap, abs=1e-15)


@pytest.mark.parametrize("gaps, p_best, match", [([], 0.6, "gaps"), ([0.0, 0.1], 0.6, "gaps"),
                                                 ([0.7], 0.6, "gaps"), ([0.1], 1.5, "p_best")])
def test_instance_rejects_bad_gaps(gaps, p_best, match):
    with pytest.raises(ValueError, match=match):
        br.instance(gaps, p_best)


# --------------------------------------------------------------------- exact regularised values
def test_reg_values_without_lambda_are_the_values():
    mdp = br.instance()
    pol = mdps.softmax(np.random.default_rng(0).normal(size=(7, mdp.horizon, mdp.n_states, mdp.n_actions)), axis=-1)
    ref = np.full(pol.shape[1:], 1.0 / mdp.n_actions)
    np.testing.assert_allclose(br.exact_reg_values(mdp, pol, ref, 0.0), exact_values(mdp, pol), atol=1e-14)


def test_reg_value_of_the_regularised_optimum_is_its_value():
    mdp = br.instance()
    ref = br.reference()
    for lam in (0.03, br.LAM, 1.0):
        opt = exploration.kl_regularized_optimum(mdp, ref, lam)
        assert float(br.exact_reg_values(mdp, opt.policy, ref, lam)) == pytest.approx(opt.value, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lam=st.floats(1e-3, 10.0))
def test_reg_values_equal_value_minus_lambda_trajectory_kl(seed, lam):
    gen = np.random.default_rng(seed)
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=seed)
    pol = mdps.softmax(gen.normal(size=(3, 3, 2)), axis=-1)
    ref = mdps.softmax(gen.normal(size=(3, 3, 2)), axis=-1)
    expected = float(exact_values(mdp, pol)) - lam * mdps.trajectory_kl(mdp, pol, ref)
    assert float(br.exact_reg_values(mdp, pol, ref, lam)) == pytest.approx(expected, abs=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lam=st.floats(1e-2, 5.0))
def test_no_policy_beats_the_regularised_optimum(seed, lam):
    mdp = br.instance()
    ref = br.reference()
    pol = mdps.softmax(np.random.default_rng(seed).normal(size=(5, 2, 3, mdp.n_actions)) * 3, axis=-1)
    opt = exploration.kl_regularized_optimum(mdp, ref, lam).value
    assert np.all(br.exact_reg_values(mdp, pol, ref, lam) <= opt + 1e-12)


def test_reg_values_bad_input():
    mdp = br.instance()
    ref = np.full((2, 3, mdp.n_actions), 1.0 / mdp.n_actions)
    with pytest.raises(ValueError, match="policies"):
        br.exact_reg_values(mdp, np.ones((2, 3, 2)), ref, 0.1)
    with pytest.raises(ValueError, match="lam"):
        br.exact_reg_values(mdp, ref, ref, -0.1)


# ----------------------------------------------------------------------------- the oracle time
def test_oracle_times_closed_form():
    ck = np.array([0, 9, 99, 999])
    gaps = np.array([0.5, 0.2, 0.05, 0.01])
    # eps = 0.3: every kept policy from episode 10 on; 0.1: from 100; 0.02: from 1000; 0.001: censored
    T = br.oracle_times(gaps, ck, [0.001, 0.02, 0.1, 0.3, 0.6], 1000)
    assert T.tolist() == [1001, 1000, 100, 10, 1]


def test_oracle_time_is_sustained_not_first_hit():
    ck = np.array([0, 1, 2, 3])
    T = br.oracle_times(np.array([0.5, 0.01, 0.5, 0.01]), ck, [0.1], 4)
    assert T.tolist() == [4]


@settings(max_examples=50, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
       eps=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=8))
def test_oracle_time_is_non_increasing_in_eps(gaps, eps):
    ck = np.arange(len(gaps)) * 3
    K = int(ck[-1]) + 1
    e = np.sort(np.asarray(eps))
    T = br.oracle_times(np.asarray(gaps), ck, e, K)
    assert np.all(np.diff(T) <= 0)
    assert np.all((T >= 1) & (T <= K + 1))


@pytest.mark.parametrize("eps, K, match", [([0.0], 10, "eps_grid"), ([-0.1], 10, "eps_grid"), ([], 10, "eps_grid"),
                                           ([0.1], 0, "n_episodes")])
def test_oracle_times_bad_input(eps, K, match):
    with pytest.raises(ValueError, match=match):
        br.oracle_times(np.array([0.1]), np.array([0]), eps, K)


# ------------------------------------------------------------------------- the log-factor slope
def test_log_factor_slope_two_points_closed_form():
    e1, e2 = 0.01, 0.1
    expected = (np.log(np.log(1 / e1)) - np.log(np.log(1 / e2))) / (np.log(e2) - np.log(e1))
    assert br.log_factor_slope([e1, e2]) == pytest.approx(expected, rel=1e-12)


def test_log_factor_slope_matches_a_fit_of_the_bound():
    eps = br.eps_grid("unregularized", False)
    bound = eps ** -2.0 * np.log(1.0 / eps)
    fit = labkit.fit_power_law(eps, bound, tail_decades=3.0)
    assert fit.estimate == pytest.approx(-2.0 - br.log_factor_slope(eps), abs=1e-12)


@pytest.mark.parametrize("eps", [[0.1], [0.0, 0.1], [0.5, 1.0]])
def test_log_factor_slope_bad_input(eps):
    with pytest.raises(ValueError, match="eps"):
        br.log_factor_slope(eps)


# ------------------------------------------------------------------------- the median power fit
def test_median_power_fit_is_exact_on_a_power_law_and_ignores_a_heavy_tail():
    x = np.geomspace(1, 100, 6)
    Y = np.tile(3.0 * x ** -1.5, (9, 1))
    Y[:3] *= 50.0  # a third of the seeds in a heavy upper tail: the median is untouched
    fit = labkit.fit_power_law(x, Y, tail_decades=2.0, center="median")
    assert fit.estimate == pytest.approx(-1.5, abs=1e-12)
    assert fit.ci_low == pytest.approx(-1.5, abs=1e-12) and fit.ci_high == pytest.approx(-1.5, abs=1e-12)


def test_power_fit_rejects_an_unknown_center():
    with pytest.raises(ValueError, match="center"):
        labkit.fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], center="mode")


# ------------------------------------------------------------ the Bernstein bonus of the BPI agents
def _demo_instance(seed=3, S=4, A=3, H=3):
    m = mdps.random_finite_horizon(S, A, H, rng=seed)
    ref = exploration.behaviour_cloning(mdps.rollout(m, exploration.soft_expert(m, 0.1), 20, rng=seed), S, A, H)
    return m, ref


@pytest.mark.parametrize("seed", range(4))
def test_bernstein_bpi_is_optimistic_at_the_theory_scale(seed):
    """At c = 1 the correction term is H^2 until a state is visited 84^2 H S'^2 A L^2 times (never,
    here), so b >= sqrt(8 H^2 / n) = 2.83 H / sqrt(n) > H sqrt(L / (2 n)) (Hoeffding's width for
    values in [0, H], L ~ 12 < 16): on the event of probability >= 1 - delta where Hoeffding holds,
    induction on h gives Vbar_0 >= max J_lam at every episode (module docstring of demo_bpi); the
    regularised values lie in [0, H - h] like the unregularised ones. Seeds 0-3; the bound has
    left the clip at H by the end."""
    m, ref = _demo_instance()
    EXACT = 1e-12
    for lam in (0.1, 1.0):
        run = exploration.demo_regularized_bpi(m, ref, lam, epsilon=0.05, n_episodes=20_000, bonus="bernstein",
                                               bonus_scale=1.0, rng=seed)
        assert (run.upper >= run.reg_star - EXACT).all()
        assert (run.lower <= run.reg_values + EXACT).all()
        assert run.upper[-1] < m.horizon
    ctrl = exploration.unregularized_bpi(m, epsilon=0.05, n_episodes=20_000, bonus="bernstein", bonus_scale=1.0,
                                         rng=seed)
    assert (ctrl.upper >= ctrl.v_star - EXACT).all()
    assert ctrl.upper[-1] < m.horizon


def test_bernstein_optimism_on_the_graded_gap_instance():
    g = br.instance()
    ref = br.reference()
    run = exploration.demo_regularized_bpi(g, ref, br.LAM, epsilon=0.01, n_episodes=3000, bonus="bernstein",
                                           bonus_scale=1.0, n_runs=4, rng=0)
    assert (run.upper >= run.reg_star - 1e-12).all()


def test_bernstein_batch_rows_equal_single_runs_bit_for_bit():
    m, ref = _demo_instance()
    kw = dict(epsilon=0.1, n_episodes=300, bonus="bernstein", bonus_scale=0.01)
    batch = exploration.demo_regularized_bpi(m, ref, 0.3, n_runs=4, rng=7, **kw)
    children = np.random.SeedSequence(7).spawn(4)
    for i in (0, 3):
        one = exploration.demo_regularized_bpi(m, ref, 0.3, rng=children[i], **kw)
        for name in ("upper", "lower", "values", "reg_values", "policies", "recommended"):
            assert np.array_equal(getattr(one, name), getattr(batch.run(i), name)), name


def test_bernstein_bonus_is_smaller_than_hoeffding_once_visited():
    """Same scale c: after enough visits the Bernstein bonus (variance of values in [0, H]) is below
    the Hoeffding one 7 H L / sqrt(n), so the optimistic values are lower (a deterministic fact of the
    two formulas at large n, not a theorem about the sample complexity)."""
    m, ref = _demo_instance()
    kw = dict(epsilon=0.1, n_episodes=5000, bonus_scale=0.01, rng=1)
    hoef = exploration.demo_regularized_bpi(m, ref, 0.3, bonus="hoeffding", **kw)
    bern = exploration.demo_regularized_bpi(m, ref, 0.3, bonus="bernstein", **kw)
    assert bern.upper[-1] < hoef.upper[-1]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), visited=st.booleans())
def test_bernstein_moments_match_numpy(seed, visited):
    from algorithms.exploration._demo_kernels import bernstein_moments
    from algorithms.exploration._kernels import record_transition

    gen = np.random.default_rng(seed)
    Hs, S, A = 2, 4, 3
    N = np.zeros((Hs, S, A), dtype=np.int64)
    Nsas = np.zeros((Hs, S, A, S), dtype=np.int64)
    succ = np.zeros((Hs, S, A, S), dtype=np.int64)
    nsucc = np.zeros((Hs, S, A), dtype=np.int64)
    for _ in range(int(gen.integers(0, 40))):
        record_transition(Nsas, succ, nsucc, N, int(gen.integers(Hs)), int(gen.integers(S)), int(gen.integers(A)),
                          int(gen.integers(S)))
    if visited:
        record_transition(Nsas, succ, nsucc, N, 0, 1, 2, int(gen.integers(S)))
    Vn = gen.uniform(0, 2, size=S)
    n = N[0, 1, 2]
    p = Nsas[0, 1, 2] / n if n > 0 else np.full(S, 1.0 / S)
    pv = float(p @ Vn)
    big, cap2 = 50.0, 4.0
    var, corr = bernstein_moments(Nsas, succ, nsucc, N, 0, 1, 1, 2, Vn, pv, big, cap2, S)
    assert var == pytest.approx(float(p @ (Vn - pv) ** 2), abs=1e-12)
    ny = N[1].sum(axis=-1)
    assert corr == pytest.approx(float(p @ np.minimum(big / np.maximum(1.0, ny), cap2)), abs=1e-12)


def test_bad_bonus_name():
    m, ref = _demo_instance()
    with pytest.raises(ValueError, match="bonus"):
        exploration.demo_regularized_bpi(m, ref, 0.1, epsilon=0.1, n_episodes=10, bonus="bernstien")
    with pytest.raises(ValueError, match="bonus"):
        exploration.unregularized_bpi(m, epsilon=0.1, n_episodes=10, bonus="Bernstein")


# -------------------------------------------------------------------- ucbvi.minimax_sqrt_k helpers
def test_minimax_gap_closed_form_and_instance():
    from proofs_checks.exploration import ucbvi_minimax as um

    for K in (1000, 4000, 64000):
        d = um.gap(K)
        assert d == pytest.approx(um.C_GAP * np.sqrt(um.N_ARMS / K), rel=1e-15)
        m = um.instance(K)
        assert m.n_actions == um.N_ARMS
        assert float(m.rho @ mdps.backward_induction(m).V[0]) == pytest.approx(um.P_BASE + d, abs=1e-15)


def test_uniform_regret_is_k_gap_times_a_minus_one_over_a():
    from proofs_checks.exploration import ucbvi_minimax as um

    for K in (1000, 8000):
        m = um.instance(K)
        expected = K * um.gap(K) * (um.N_ARMS - 1) / um.N_ARMS
        assert um.uniform_regret(m, K) == pytest.approx(expected, rel=1e-12)


def test_sqrt_k_scaling_of_the_family_is_exact_for_uniform_play():
    """K Delta_K = c sqrt(A K): uniform play's regret on the rebuilt family has log-log slope 1/2 exactly."""
    from proofs_checks.exploration import ucbvi_minimax as um

    ks = np.array([1000.0, 4000.0, 16000.0])
    reg = np.array([um.uniform_regret(um.instance(int(k)), int(k)) for k in ks])
    assert np.polyfit(np.log(ks), np.log(reg), 1)[0] == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("K, kw, match", [(0, {}, "n_episodes"), (10, {}, "n_episodes"), (1000, {"n_arms": 1}, "n_arms"),
                                          (1000, {"c": 0.0}, "c")])
def test_minimax_bad_input(K, kw, match):
    from proofs_checks.exploration import ucbvi_minimax as um

    with pytest.raises(ValueError, match=match):
        um.gap(K, **kw)
