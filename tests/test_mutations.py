"""The mutation suite: every registered check catches at least one plausible bug planted in the
code it tests.

A mutant is a textual edit of one function of the lab (a wrong step, a dropped term, an early
stop, a wrong schedule...): the function's source is edited, recompiled in its own module's
namespace, and swapped in (monkeypatched) wherever the original is referenced, for one run of
the check at quick scale. The check must then fail. If an edit no longer applies because the
code changed, the test fails loudly instead of silently testing nothing: update the mutant.

The table of mutants is in ``docs/mutation_suite.md`` (a test keeps the two in step). Four of
them slipped past both the checks and the unit tests before the checks were rebuilt
(``mpi_stops_early_self_trace``, ``sampled_rates_over_n_plus_1``, ``simple_policy_iteration``,
``hedge_average_of_next_iterate``; mutation review of 2026-11-29).
"""

from __future__ import annotations

import __future__
import importlib
import inspect
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import labkit

DOC = Path(__file__).resolve().parents[1] / "docs" / "mutation_suite.md"


@dataclass(frozen=True)
class Mutant:
    name: str
    check: str
    description: str
    target: str  # "package.module:function" or "package.module:Class.method"
    edits: tuple[tuple[str, str], ...]  # (old source fragment, new fragment), each must occur


def _resolve(target: str):
    module_name, _, qual = target.partition(":")
    module = importlib.import_module(module_name)
    owner, obj = module, module
    for part in qual.split("."):
        owner, obj = obj, getattr(obj, part)
    return module, owner, qual.split(".")[-1], obj


def _mutated(mutant: Mutant):
    """``(module, owner, name, original, mutated)`` for a mutant's target."""
    module, owner, name, original = _resolve(mutant.target)
    source = textwrap.dedent(inspect.getsource(original))
    for old, new in mutant.edits:
        assert old in source, f"mutant {mutant.name}: {old!r} no longer occurs in {mutant.target}; update it"
        source = source.replace(old, new)
    namespace = dict(vars(module))
    flags = __future__.annotations.compiler_flag
    exec(compile(source, f"<mutant {mutant.name}>", "exec", flags=flags, dont_inherit=True), namespace)  # noqa: S102
    return module, owner, name, original, namespace[name]


def _plant(mutant: Mutant, monkeypatch) -> None:
    module, owner, name, original, mutated = _mutated(mutant)
    monkeypatch.setattr(owner, name, mutated)
    if owner is module:  # every other module that imported the function by name
        for other in list(sys.modules.values()):
            if other is not None and other is not module and getattr(other, name, None) is original:
                monkeypatch.setattr(other, name, mutated)
    # packages that cached the function under its public name (mdps, algorithms.nash, ...)
    for other in list(sys.modules.values()):
        for attr, value in list(getattr(other, "__dict__", {}).items()):
            if value is original and attr != name:
                monkeypatch.setattr(other, attr, mutated)


MUTANTS = [
    # -- planning -------------------------------------------------------------------------------
    Mutant("damped_sweep_25", "value_iteration.tight_rate",
           "every Bellman sweep keeps 25% of the previous iterate (a leftover damping factor)",
           "mdps.discounted:_iterate",
           (("bellman_max(P2, R, a, gamma, b, sigma, work)  # b = T v_k, sigma = G(v_k)",
             "bellman_max(P2, R, a, gamma, b, sigma, work); b += 0.25 * (a - b)"),)),
    Mutant("damped_sweep_5", "value_iteration.garnet_contraction",
           "every Bellman sweep keeps 5% of the previous iterate",
           "mdps.discounted:_iterate",
           (("bellman_max(P2, R, a, gamma, b, sigma, work)  # b = T v_k, sigma = G(v_k)",
             "bellman_max(P2, R, a, gamma, b, sigma, work); b += 0.05 * (a - b)"),)),
    Mutant("pi_never_stops", "policy_iteration.iteration_bound",
           "policy iteration's stability test never fires: it runs to its iteration cap",
           "mdps.discounted:policy_iteration",
           (("if n_changed == 0:", "if False:"),)),
    Mutant("simple_policy_iteration", "policy_iteration.dominates_value_iteration",
           "the improvement step switches only the first improvable state (simple policy iteration)",
           "mdps.discounted:policy_iteration",
           (("new = np.where(keep, sigma, Q.argmax(axis=1))",
             "new = sigma.copy(); _k = np.flatnonzero(~keep)\n"
             "        new[_k[:1]] = Q.argmax(axis=1)[_k[:1]]"),)),
    Mutant("transposed_policy_kernel", "policy_iteration.matches_lp",
           "exact policy evaluation solves with the transposed kernel (I - gamma P_pi^T)",
           "mdps.discounted:_policy_lu_solve",
           (("M = np.eye(S) - gamma * P_pi\n", "M = np.eye(S) - gamma * P_pi.T\n"),)),
    Mutant("mpi_stops_early_self_trace", "modified_policy_iteration.same_optimum",
           "the stopping rule drops the gamma/(1-gamma) factor (stops early) and the solver's error trace "
           "is shifted to end at 0 (the solver vouches for itself)",
           "mdps.discounted:_run",
           (("V, n, converged, residuals, errors, iterates = _iterate(\n"
             "            mdp, m=m, tol=tol,",
             "V, n, converged, residuals, errors, iterates = _iterate(\n"
             "            mdp, m=m, tol=tol * (mdp.gamma / (1.0 - mdp.gamma)),"),
            ("    settings = {\"tol\": tol,",
             "    errors = errors - errors[-1] if errors.size else errors\n    settings = {\"tol\": tol,"))),
    Mutant("mpi_extra_evaluation_sweep", "modified_policy_iteration.monotone_bounds",
           "partial evaluation runs m sweeps of T^sigma instead of m - 1 after the Bellman backup",
           "mdps.discounted:_iterate",
           (("for _ in range(m - 1):  # b <- T^sigma b, m - 1 times", "for _ in range(m):"),)),
    Mutant("rvi_without_transform", "relative_value_iteration.span_contraction",
           "relative value iteration applies T instead of the aperiodicity-transformed T~ (tau dropped)",
           "mdps.average_reward:relative_value_iteration",
           (("u = u + t * (diff - d_ref)", "u = u + (diff - d_ref)"),)),
    Mutant("rvi_tau_squared", "relative_value_iteration.span_contraction",
           "the aperiodicity transform is applied with tau^2",
           "mdps.average_reward:relative_value_iteration",
           (("u = u + t * (diff - d_ref)", "u = u + t * t * (diff - d_ref)"),)),
    Mutant("rvi_gain_transformed_scale", "relative_value_iteration.gain_matches_lp",
           "the gain is reported in the transformed scale (multiplied by tau)",
           "mdps.average_reward:relative_value_iteration",
           (("gains.append(float(d_ref))", "gains.append(float(d_ref) * t)"),)),
    # -- Nash learning --------------------------------------------------------------------------
    Mutant("mirror_prox_no_extrapolation", "nash_mirror_prox.kl_linear_rate",
           "Nash-MP's second step uses the win rates of pi_k instead of the extrapolated pi_(k+1/2)",
           "algorithms.nash._loops:_exact_run",  # the exact-oracle runs are the compiled loop (the Python loop is its reference)
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("_win_rates(P, ph, g)\n            q += 1\n            _prox(z, log_ref, g, e, beta, zn, pn)",
             "_win_rates(P, pi, g)\n            q += 1\n            _prox(z, log_ref, g, e, beta, zn, pn)"))),
    Mutant("nash_md_unregularised_opponent", "nash_md.constant_step_plateau",
           "Nash-MD queries the win rates of pi_t instead of the geometric mixture pi_t^mu",
           "algorithms.nash._loops:_exact_run",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("_win_rates(P, ph, g)\n            q += 1\n            _accumulate(avg, e, pi)",
             "_win_rates(P, pi, g)\n            q += 1\n            _accumulate(avg, e, pi)"))),
    Mutant("decaying_schedule_is_constant", "nash_md.decaying_step_rate",
           "the 'decaying' schedule returns a constant step",
           "algorithms.nash._prox:step_sizes",
           (("out = eta / (1.0 + eta * beta * t / 2.0) if beta > 0 else eta / np.sqrt(t + 1.0)",
             "out = np.full(n_iter, float(eta))"),)),
    Mutant("decaying_schedule_off_by_two", "nash_md.decaying_step_exact_slope",
           "the decaying schedule is eta_t = 1/(beta (t+1)) instead of 2/(beta (t+2))",
           "algorithms.nash._prox:step_sizes",
           (("out = eta / (1.0 + eta * beta * t / 2.0) if beta > 0", "out = eta / (1.0 + eta * beta * t) if beta > 0"),)),
    Mutant("nash_md_doubled_step", "nash.updates_equal_closed_forms",
           "Nash-MD's step uses 2 eta in the exploitation term (the mixture keeps eta)",
           "algorithms.nash._loops:_exact_run",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("            _prox_lin(z, log_ref, g, True, e, beta, zn, pn)\n        else:",
             "            _prox_lin(z, log_ref, 2.0 * g, True, e, beta, zn, pn)\n        else:"))),
    Mutant("hedge_average_of_next_iterate", "nash.updates_equal_closed_forms",
           "the running average accumulates pi_(t+1) instead of the played pi_t",
           "algorithms.nash.omd:_self_play_loop",
           (("tr.accumulate(s.etas[t], pi)\n        z, pi = step(t, z, pi, g)",
             "z, pi = step(t, z, pi, g)\n        tr.accumulate(s.etas[t], pi)"),)),
    Mutant("inpo_half_step", "inpo.exact_convergence_stability_limit",
           "INPO's closed-form step uses eta/2",
           "algorithms.nash.inpo:inpo",
           (("return _prox_lin(z, s.log_ref, g, s.etas[t], b)", "return _prox_lin(z, s.log_ref, g, s.etas[t] / 2, b)"),)),
    Mutant("inpo_loss_margin", "inpo.loss_minimizer_is_omd_step",
           "INPO's pair loss targets the margin eta instead of eta/2",
           "algorithms.nash.inpo:inpo",
           (("u[x] = _solve_pair_squares(W, e / 2.0)\n        else:", "u[x] = _solve_pair_squares(W, e)\n        else:"),)),
    Mutant("hedge_loss_sign", "hedge.average_iterate_exploitability",
           "Hedge self-play ascends the loss 1 - P pi instead of the win rate P pi",
           "algorithms.nash._loops:_exact_run",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("                _prox_lin(z, log_ref, g, True, e, beta, zn, pn)",
             "                _prox_lin(z, log_ref, 1.0 - g, True, e, beta, zn, pn)"),
            ("                _prox(z, log_ref, g, e, beta, zn, pn)",
             "                _prox(z, log_ref, 1.0 - g, e, beta, zn, pn)"))),
    Mutant("hedge_step_shrunk", "hedge.last_iterate_cycles",
           "Hedge's update multiplies the step by 0.9",
           "algorithms.nash._loops:_exact_run",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("                _prox_lin(z, log_ref, g, True, e, beta, zn, pn)",
             "                _prox_lin(z, log_ref, g, True, 0.9 * e, beta, zn, pn)"),
            ("                _prox(z, log_ref, g, e, beta, zn, pn)",
             "                _prox(z, log_ref, g, 0.9 * e, beta, zn, pn)"))),
    Mutant("exact_prox_wrong_anchor_weight", "nash.equilibrium_fixed_point",
           "the exact prox step weights the reference by eta beta instead of eta beta/(1 + eta beta)",
           "algorithms.nash._loops:_exact_run",  # the compiled loop's exact prox, inlined with the wrong anchor weight
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("_prox(z, log_ref, g, e, beta, zh, ph)",
             "geometric_normalize(1.0 / (1.0 + e * beta), z, e * beta, log_ref, e / (1.0 + e * beta), g, zh, ph)"),
            ("_prox(z, log_ref, g, e, beta, zn, pn)",
             "geometric_normalize(1.0 / (1.0 + e * beta), z, e * beta, log_ref, e / (1.0 + e * beta), g, zn, pn)"))),
    Mutant("sampled_rates_over_n_plus_1", "nash.sampled_oracle_unbiased",
           "sampled win rates are divided by n + 1 instead of n (a bias that vanishes like 1/n)",
           "mdps.preference:PreferenceGame.empirical_win_rates",
           (("return self._out(out.reshape(X, K, n).mean(axis=2))",
             "return self._out(out.reshape(X, K, n).sum(axis=2) / (n + 1))"),)),
    Mutant("sampled_rates_half_the_duels", "nash.sampled_monte_carlo_rate",
           "sampled win rates are shrunk halfway towards 1/2, (p_hat + 1/2)/2: a bias that does not vanish",
           "mdps.preference:PreferenceGame.empirical_win_rates",
           (("return self._out(out.reshape(X, K, n).mean(axis=2))",
             "return self._out(out.reshape(X, K, n).sum(axis=2) / (2 * n) + 0.25)"),)),
    # -- preference learning: identities ---------------------------------------------------------
    Mutant("rdpo_correction_without_denominator", "rdpo.unbiased_loss",
           "rDPO's linear correction is eps z instead of eps z / (1 - 2 eps)",
           "algorithms.preference_learning.losses:rdpo",
           (("out = _ell(z) - c * z", "out = _ell(z) - e * z"),)),
    Mutant("suboptimality_without_beta", "dpo.regularised_gap_identity",
           "the task's suboptimality drops the temperature: sum_x rho_x KL(pi_x || pi*_x) instead of beta times it",
           "mdps.preference_task:LogLinearPreferenceTask.suboptimality",
           (("return float(self._beta * (self._w @", "return float((self._w @"),)),
    Mutant("policy_without_reference", "dpo.regularised_gap_identity",
           "the log-linear policy forgets the reference: softmax(phi . theta) instead of softmax(log ref + phi . theta)",
           "mdps.preference_task:LogLinearPreferenceTask.policy",
           (("return softmax(np.log(self._ref) + self._phi @ t)", "return softmax(self._phi @ t)"),)),
    # -- preference learning: rDPO estimation ----------------------------------------------------
    Mutant("fit_uses_half_the_data", "rdpo.sandwich_covariance",
           "the estimator reduces only the first half of the records to counts (right rate, twice the variance)",
           "algorithms.preference_learning.fit:_counts",
           (("C = data.counts().astype(np.float64)",
             "C = np.zeros((X, K, K)); _h = data.n_pairs // 2\n"
             "        np.add.at(C, (data.contexts[:_h], data.winners[:_h], data.losers[:_h]), 1.0)"),)),
    Mutant("rdpo_fit_minimises_dpo", "rdpo.estimation_rate",
           "the estimator minimises the plain DPO loss when asked for rDPO (no de-biasing)",
           "algorithms.preference_learning.fit:_Objective.__init__",
           (("self.loss, self.eps, self.beta = loss, eps, beta",
             "self.loss, self.eps, self.beta = ('dpo' if loss == 'rdpo' else loss), eps, beta"),)),
    Mutant("fit_policy_off_theta", "rdpo.suboptimality_rate",
           "the returned policy is pi_{0.97 theta_hat} instead of pi_{theta_hat}",
           "algorithms.preference_learning.fit:_finish",
           (("policy=readonly(task.policy(theta))", "policy=readonly(task.policy(0.97 * theta))"),)),
    Mutant("cdpo_half_the_smoothing", "dpo.noise_bias_floor",
           "cDPO smooths labels with eps/2 instead of eps",
           "algorithms.preference_learning.fit:_Objective.__init__",
           (("self.loss, self.eps, self.beta = loss, eps, beta",
             "self.loss, self.eps, self.beta = loss, (eps / 2 if loss == 'cdpo' else eps), beta"),)),
    # -- preference learning: RPO and HyPO --
    Mutant("rpo_sft_term_dropped", "rpo.trap_coverage",
           "RPO's SFT term is dropped (weight 0): RPO is DPO from the uniform start",
           "algorithms.preference_learning.rpo:_objective",
           (("return f + eta * b * s, g + eta * b * gs", "return f + 0.0 * s, g + 0.0 * gs"),)),
    Mutant("rpo_sft_sign_flipped", "rpo.trap_coverage",
           "RPO's SFT term enters with the wrong sign (it pushes away from the baseline)",
           "algorithms.preference_learning.rpo:_objective",
           (("return f + eta * b * s, g + eta * b * gs", "return f - eta * b * s, g - eta * b * gs"),)),
    Mutant("dpo_gd_ignores_init", "rpo.trap_coverage",
           "the first-order solver starts from 0 whatever init it is given",
           "algorithms.preference_learning.gradient:_check_init",
           (("if init is None:", "if True:"),)),
    Mutant("hypo_kl_grad_not_centred", "hypo.reverse_kl_trap",
           "HyPO's KL gradient drops the centring: E[phi theta.phi] instead of Cov(phi, theta.phi)",
           "algorithms.preference_learning.hypo:kl_term",
           (("centred = score - np.sum(pi * score, axis=1, keepdims=True)", "centred = score"),)),
    Mutant("hypo_kl_grad_sign", "hypo.reverse_kl_trap",
           "HyPO's KL gradient has the wrong sign",
           "algorithms.preference_learning.hypo:_objective",
           (("return f + lam * k, g + lam * gk", "return f + lam * k, g - lam * gk"),)),
    # -- preference learning: APO --
    Mutant("apo_extrapolates_from_reference", "apo.acceleration",
           "APO's extrapolation uses log pihat_t instead of log pi_t: log pihat_(t+1) = log pi_(t+1) + alpha (log pi_(t+1) - log pihat_t)",
           "algorithms.preference_learning.apo:apo",
           (("w = _extrapolate(z_new, z, a)", "w = _extrapolate(z_new, w, a)"),)),
    Mutant("apo_momentum_squared", "apo.acceleration",
           "the extrapolation multiplies by the momentum twice (alpha^2 instead of alpha)",
           "algorithms.preference_learning.apo:_extrapolate",
           (("log_new + alpha * (log_new - log_old)", "log_new + alpha * alpha * (log_new - log_old)"),)),
    # -- preference learning: RPO against DPO as coverage worsens --
    Mutant("dpo_drops_rare_pairs", "rpo.coverage_sweep",
           "the DPO loss skips pairs of record probability below 1e-4 (a threshold meant to skip empty cells)",
           "algorithms.preference_learning.gradient:dpo_objective",
           (("w = law > 0", "w = law > 1e-4"),)),
    # -- exploration: UCBVI --------------------------------------------------------------------
    Mutant("ucbvi_bonus_dropped", "ucbvi.regret_tail_slope",
           "the optimistic backup forgets the bonus: Q = r + P^ V (certainty equivalence in UCBVI's clothes)",
           "algorithms.exploration._kernels:run_batch_record",
           (("cache=True, parallel=True", "cache=False, parallel=True"), ("q = r + pv + b\n", "q = r + pv\n"))),
    Mutant("greedy_is_optimistic", "ucbvi.greedy_linear",
           "the greedy control runs with UCBVI-BF's bonus (the control is not greedy)",
           "algorithms.exploration.engine:greedy",
           (('bonus="none", bonus_scale=0.0', 'bonus="bernstein", bonus_scale=1.0'),)),
    Mutant("argmax_ties_to_last_action", "ucbvi.greedy_linear",
           "the planner breaks ties towards the last action (q >= best) instead of the first",
           "algorithms.exploration._kernels:run_batch_record",
           (("cache=True, parallel=True", "cache=False, parallel=True"), ("if q > best:", "if q >= best:"))),
    # -- exploration: demonstrations (behaviour cloning, KL-regularised planning) --
    Mutant("bc_counts_off_by_one_stage", "bc.kl_rate",
           "the clone pairs the action at stage h with the state at stage h+1",
           "algorithms.exploration.demonstrations:demonstration_counts",
           (("states = states[:, :H]", "states = states[:, 1:H + 1]"),)),
    Mutant("bc_pools_stages", "bc.kl_rate",
           "the clone pools the counts of all stages (a stationary clone of a stage-dependent expert)",
           "algorithms.exploration.demonstrations:behaviour_cloning",
           (("    A = counts.shape[-1]\n", "    A = counts.shape[-1]\n    counts = np.broadcast_to(counts.sum(axis=0), counts.shape)\n"),)),
    Mutant("bc_smoothing_twice", "bc.kl_expected_value",
           "the smoothing is applied twice (kappa added to the counts again: add-2kappa)",
           "algorithms.exploration.demonstrations:behaviour_cloning",
           (("(counts + kappa) / (counts.sum(axis=-1, keepdims=True) + kappa * A)",
             "(counts + 2 * kappa) / (counts.sum(axis=-1, keepdims=True) + 2 * kappa * A)"),)),
    Mutant("bc_drops_first_demonstration", "bc.kl_expected_value",
           "the counts skip the first trajectory (N_E - 1 demonstrations used)",
           "algorithms.exploration.demonstrations:demonstration_counts",
           (("states = states[:, :H]", "states, actions = states[1:, :H], actions[1:]"),)),
    Mutant("soft_policy_without_reference", "demo_regularized.bias_bound",
           "the soft-greedy policy forgets the reference: softmax(Q/lam) instead of ref exp((Q - V)/lam)",
           "algorithms.exploration.demonstrations:kl_regularized_optimum",
           (("pol[h] = np.exp(logits - lse[:, None])", "pol[h] = mdps.softmax(Q[h] / lam_, axis=-1)"),)),
    Mutant("soft_value_without_lambda", "demo_regularized.bias_bound",
           "the soft value drops the temperature: log sum ref exp(Q/lam) instead of lam times it",
           "algorithms.exploration.demonstrations:kl_regularized_optimum",
           (("Vs[h] = lam_ * lse", "Vs[h] = lse"),)),
    # -- exploration: conservative (StepMix, EpsMix) --
    Mutant("conservative_drops_safety_step", "conservative.never_unsafe",
           "the safety step is dropped: the optimistic policy is played in every episode (weight 1)",
           "algorithms.exploration._conservative_kernels:run_conservative",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("            weights_out[i, k] = w\n", "            w = 1.0\n            weights_out[i, k] = w\n"))),
    Mutant("conservative_pessimism_sign_flipped", "conservative.never_unsafe",
           "the pessimistic evaluation adds the bonus instead of subtracting it (optimistic sign)",
           "algorithms.exploration._conservative_kernels:run_conservative",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("pcoef, Lp, pooled, 1.0, rho, Vw)", "pcoef, Lp, pooled, -1.0, rho, Vw)"))),
    Mutant("epsmix_weight_complemented", "conservative.never_unsafe",
           "EpsMix's weight is complemented: the certified probability goes to the baseline branch",
           "algorithms.exploration._conservative_kernels:run_conservative",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("w = (lo_b - thr) / (lo_b - lo_o)", "w = 1.0 - (lo_b - thr) / (lo_b - lo_o)"))),
    Mutant("conservative_pessimism_ten_times", "conservative.extra_regret_plateau",
           "the pessimistic bonus is ten times too wide (a wrong constant): the agents leave the baseline late",
           "algorithms.exploration._conservative_kernels:run_conservative",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("    n_runs = seeds.shape[0]\n", "    n_runs = seeds.shape[0]\n    pcoef = 10.0 * pcoef\n"))),
    Mutant("conservative_pessimism_ten_times_paper", "stepmix.paper_experiment",
           "the pessimistic bonus is ten times too wide (a wrong constant): the agents leave the baseline late",
           "algorithms.exploration._conservative_kernels:run_conservative",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("    n_runs = seeds.shape[0]\n", "    n_runs = seeds.shape[0]\n    pcoef = 10.0 * pcoef\n"))),
    # -- robust: inner problems and robust value iteration --
    Mutant("tv_radius_not_doubled", "robust.inner_exact",
           "the TV ball is solved as an L1 ball of the same radius (TV radius t is L1 radius 2t)",
           "mdps.robust:_prepare_inner",
           (("np.ascontiguousarray(v), r * factor, code", "np.ascontiguousarray(v), r, code"),)),
    Mutant("inner_sorted_descending", "robust.inner_cvxpy",
           "the inner problem sorts v in decreasing order (mass moves towards the best state: optimism)",
           "mdps.robust:robust_inner",
           (('np.argsort(v, kind="stable")', 'np.argsort(-v, kind="stable")'),)),
    Mutant("robust_backup_undiscounted", "robust_vi.contraction",
           "the robust sweep drops the discount: Q = R + sigma(V)",
           "mdps.robust:_robust_q",
           (("kernel(code, P2, R, rad, rmdp.gamma, V, Q)", "kernel(code, P2, R, rad, 1.0, V, Q)"),)),
    Mutant("robust_sweep_sorted_descending", "robust_vi.value_vs_radius",
           "the compiled robust sweep sorts V in decreasing order (the adversary helps the agent)",
           "mdps._robust_kernels:robust_q_serial",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ('order = np.argsort(V, kind="mergesort")', 'order = np.argsort(-V, kind="mergesort")'))),
    # -- robust: s-rectangular balls and robust policy iteration --
    Mutant("srect_l1_greedy_deterministic", "robust_srect.closed_form_cvxpy",
           "the s-rectangular L1 operator plays the single best action (k = 1) instead of the best uniform top-k "
           "policy: it ignores that the adversary's budget is shared across actions",
           "mdps.robust:_srect_optimal",
           (("k = cand.argmax(axis=1)", "k = np.zeros(S, dtype=np.int64)"),)),
    Mutant("robust_pi_evaluation_one_step", "robust_pi.iteration_count",
           "robust PI's evaluation stops after one adversary step (the value of the model that was worst for the "
           "previous value, not the robust value of the policy)",
           "mdps.robust:_exact_robust_evaluation",
           (("if float(np.abs(Q[np.arange(S), pi] - V).max()) <= eps:", "if True:"),)),
    # -- average reward: UCRL2 and the span-bounded agent --
    Mutant("ucrl_no_confidence_widths", "ucrl.regret_bound",
           "UCRL2 plans with zero confidence widths (certainty equivalence: no optimism)",
           "algorithms.average_reward.ucrl:_run",
           (("width_scale, width_scale, states", "0.0, 0.0, states"),)),
    Mutant("span_truncation_dropped", "ucrl.diameter_vs_span",
           "the span-bounded agent forgets its span bound (EVI iterates are not truncated)",
           "algorithms.average_reward.ucrl:_run",
           (("rho_cdf, T, d, c, t,", "rho_cdf, T, d, np.inf, t,"),)),
    # -- exploration: optimism --
    Mutant("ucbvi_no_clip", "ucbvi.optimism",
           "the optimistic backup drops the clip at H - h (Q = r + P^ V + b, unbounded)",
           "algorithms.exploration._kernels:run_batch_record",
           (("cache=True, parallel=True", "cache=False, parallel=True"), ("q = min(q, cap)", "q = q"))),
    Mutant("bernstein_variance_over_n", "ucbvi.optimism",
           "UCBVI-BF's variance term decays like 1/n instead of 1/sqrt(n): sqrt(8 L Var) / n",
           "algorithms.exploration._kernels:run_batch_record",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("bernstein_bonus(coef, L, H, var, corr, nf)", "bernstein_bonus(coef, L, H, var / nf, corr, nf)"))),
    # -- robust: IWOCS --
    Mutant("iwocs_lower_from_nominal", "iwocs.monotone_estimates",
           "IWOCS's lower estimate is the candidate's value under the nominal model instead of its robust value",
           "algorithms.robust.iwocs:iwocs",
           (("v_pi = np.asarray(ev.V)", "v_pi = mdps.evaluate_policy(rmdp.mdp, pi)"),)),
    Mutant("iwocs_lower_on_last_model", "iwocs.certificate_bounds_gap",
           "IWOCS evaluates the candidate on the last model found (the previous candidate's worst case) "
           "instead of its own worst case",
           "algorithms.robust.iwocs:iwocs",
           (("v_pi = np.asarray(ev.V)", "v_pi = mdps.evaluate_policy(mdps.TabularMDP(models[-1], R, gamma=g), pi)"),)),
    # -- submodular: objectives, greedy, SubPO --
    Mutant("coverage_counts_exactly_once", "submodular.objectives_checker",
           "coverage counts the targets covered exactly once instead of at least once (not monotone)",
           "mdps.submodular:Coverage.values",
           (("covered = counts >= 1", "covered = counts == 1"),)),
    Mutant("greedy_forgets_visited_set", "submodular.greedy_curvature",
           "the greedy policy scores actions by the gain over the empty set (it forgets what it visited)",
           "algorithms.submodular.subrl:GreedyPolicy.action",
           (("base = np.array([(X >> i) & 1", "base = np.array([0 * (X >> i) & 1"),)),
    Mutant("subpo_descends", "submodular.subpo_stationary_bound",
           "SubPO steps against its gradient estimate (theta - lr * ghat)",
           "algorithms.submodular._kernels:subpo_iterations",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("theta[r, j] = theta[r, j] + lr * grad[j]", "theta[r, j] = theta[r, j] - lr * grad[j]"))),
    Mutant("subpo_past_gains", "submodular.subpo_gradient_unbiased",
           "the SubPO estimator weighs each score by the gains up to its step instead of the reward-to-go",
           "algorithms.submodular.subrl:_estimate",
           (("G = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]", "G = np.cumsum(gains, axis=1)"),)),
    Mutant("subpo_state_not_stage_state", "submodular.subpo_modular_is_policy_gradient",
           "the rollout records the visited state, not the (stage, state) pair, on a stage-state ground set",
           "algorithms.submodular._kernels:episodes",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"), ("x = (h + 1) * S + s if stage_ground else s", "x = s"))),
    Mutant("subpo_negated_reward_to_go", "submodular.subpo_stationary_bound",
           "the SubPO estimator weighs each score by minus the reward-to-go of marginal gains",
           "algorithms.submodular._kernels:subpo_iterations",
           (("cache=True, parallel=True", "cache=False, parallel=True"), ("G[k, h] = acc", "G[k, h] = -acc"))),
    Mutant("subpo_past_gains_modular", "submodular.subpo_modular_is_policy_gradient",
           "the SubPO estimator weighs each score by the gains up to its step (modular objective)",
           "algorithms.submodular.subrl:_estimate",
           (("G = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]", "G = np.cumsum(gains, axis=1)"),)),
    # -- linear: OFUL / LinUCB --
    Mutant("linucb_bonus_dropped", "linucb.regret_bound",
           "OFUL plays the ridge estimate's greedy action (the confidence radius is multiplied by 0)",
           "algorithms.linear._kernels:run_batch",
           (("parallel=True, cache=True", "parallel=True, cache=False"),
            ("beta = bonus_scale * (rad + math.sqrt(lam) * S_bound)", "beta = 0.0 * (rad + math.sqrt(lam) * S_bound)"))),
    Mutant("linucb_pessimistic_bonus", "linucb.regret_bound",
           "the finite-set index subtracts the width instead of adding it (pessimism)",
           "algorithms.linear._kernels:run_batch",
           (("parallel=True, cache=True", "parallel=True, cache=False"),
            ("u = actions[j] @ theta_hat + beta *", "u = actions[j] @ theta_hat - beta *"))),
    Mutant("linucb_sherman_morrison_sign", "linucb.ball_rate",
           "the rank-one update of the inverse design adds the correction instead of subtracting it",
           "algorithms.linear._kernels:run_batch",
           (("parallel=True, cache=True", "parallel=True, cache=False"),
            ("Vinv[p, q] -= z[p] * z[q] / den", "Vinv[p, q] += z[p] * z[q] / den"))),
    # -- submodular: SubPO with linear function approximation --
    Mutant("subpo_linear_score_without_expectation", "subpo.linear_gradient_unbiased",
           "the linear-softmax score drops its feature expectation term: phi(h, s, a) instead of "
           "phi(h, s, a) - sum_b pi(b|s, h) phi(h, s, b)",
           "algorithms.submodular.subrl:_estimate_linear",
           (('score = features[h, s, a] - np.einsum("nb,nbj->nj", pi[h, s], features[h, s])',
             "score = features[h, s, a]"),)),
    # -- linear: LSVI-UCB --
    Mutant("lsvi_bonus_dropped", "lsvi_ucb.regret_tail_slope",
           "LSVI-UCB drops the elliptical bonus (greedy least-squares value iteration)",
           "algorithms.linear._lsvi_kernels:run_batch",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("q = optimistic_q(phi[s, a], w, beta, W2[h, s, a], cap)",
             "q = optimistic_q(phi[s, a], w, 0.0 * beta, W2[h, s, a], cap)"))),
    Mutant("lsvi_next_state_moment_at_current_state", "lsvi_ucb.tabular_identity",
           "the next-state moment is credited to the current state instead of the successor",
           "algorithms.linear._lsvi_kernels:run_batch",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("observe(h, phi[s, a], r, s2, phi,", "observe(h, phi[s, a], r, s, phi,"))),
    Mutant("lsvi_clips_at_one_less", "lsvi_ucb.tabular_identity",
           "the optimistic Q is clipped at H - 1 instead of H",
           "algorithms.linear.lsvi:lsvi_ucb",
           (("float(H), values, returns", "float(H - 1), values, returns"),)),
    # -- exploration: demonstration-regularised BPI and RLHF --
    Mutant("regularizes_towards_uniform", "demo_regularized.sample_complexity",
           "the regularised backup uses the uniform policy as reference instead of the clone",
           "algorithms.exploration.demo_bpi:_bpi",
           (("log_ref = np.log(ref)", "log_ref = np.log(np.full_like(ref, 1.0 / ref.shape[-1]))"),)),
    Mutant("regularized_bonus_sign_flipped", "demo_regularized.sample_complexity",
           "the optimistic regularised backup subtracts the bonus (pessimistic planning: optimism dropped)",
           "algorithms.exploration._demo_kernels:run_demo_batch",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("log_ref, lam, bonus, coef, L, Vbar", "log_ref, lam, bonus, -coef, L, Vbar"))),
    Mutant("preference_label_flipped", "demo_regularized.rlhf_rate",
           "the Bradley-Terry label is flipped (the losing trajectory is recorded as preferred)",
           "algorithms.exploration.demo_bpi:demo_regularized_rlhf",
           (("y = (gen.random(n) < 0.5", "y = (gen.random(n) >= 0.5"),)),
    Mutant("reward_fit_stops_after_one_newton_step", "demo_regularized.rlhf_rate",
           "the reward fit stops after one Newton step (max_iter = 1) without a certificate",
           "algorithms.exploration.demo_bpi:demo_regularized_rlhf",
           (("ridge=ridge)", "ridge=ridge, max_iter=1)"),)),
    # -- robust: finite-horizon robust DP --
    Mutant("robust_fh_stage_zero_kernel", "robust_fh.worst_case_consistency",
           "robust backward induction uses the stage-0 nominal kernel at every stage (a stationary-model "
           "assumption on a stage-dependent model)",
           "mdps.robust_horizon:robust_backward_induction",
           (("P2 = np.ascontiguousarray(mdp.P_matrix(h))", "P2 = np.ascontiguousarray(mdp.P_matrix(0))"),)),
    # -- average reward: RVI's Odoni certificate --
    Mutant("rvi_threshold_tol_over_tau", "rvi.odoni_certificate",
           "RVI's stopping threshold in the transformed scale is tol / tau instead of tol * tau (a scale confusion): "
           "it stops with an Odoni bracket up to 1/tau^2 times wider than tol",
           "mdps.average_reward:relative_value_iteration",
           (("threshold = tol * t", "threshold = tol / t"),)),
    # -- planning: infeasible actions --
    Mutant("q_values_mask_dropped", "planning.infeasible_actions",
           "the feasibility mask is dropped from Q = R + gamma P V: every Q-based max (backward induction, policy "
           "improvement, greedy extraction) also sees the actions a state does not have",
           "mdps._backup:q_values",
           (("Q[~feasible] = -np.inf", "pass"),)),
    # -- submodular: the greedy trap --
    Mutant("greedy_minimises_gain", "submodular.greedy_trap",
           "the greedy policy picks the action of smallest expected marginal gain",
           "algorithms.submodular.subrl:GreedyPolicy.action",
           (("expected = self.P[h, s] @ gains  # (A,)", "expected = -(self.P[h, s] @ gains)  # (A,)"),)),
    Mutant("optimum_dp_stops_a_stage_early", "submodular.greedy_trap",
           "the exact DP scores the visited set one stage before the horizon",
           "algorithms.submodular.subrl:submodular_optimum",
           (("        if h == H:\n            v = F(X)", "        if h == H - 1:\n            v = F(X)"),)),
    # -- linear: R2PVI --
    Mutant("chi2_dual_minimised", "rrpvi.dual_equals_primal",
           "the chi-square penalised dual is minimised over alpha instead of maximised (the released code's slip)",
           "mdps.robust_regularized:_penalized",
           (("return max(_chi2_objective", "return min(_chi2_objective"),)),
    Mutant("tv_penalty_without_vmin", "rrpvi.monotone_in_lambda",
           "the TV closed form caps the values at lam instead of min V + lam",
           "mdps.robust_regularized:_penalized",
           (("np.minimum(v, vmin + lam)", "np.minimum(v, lam)"),)),
    Mutant("r2pvi_pessimism_sign_flipped", "rrpvi.offline_rate",
           "R2PVI adds the penalty Gamma_h instead of subtracting it (optimism instead of pessimism)",
           "algorithms.linear.offline_robust:r2pvi",
           (("phi @ (th_h + w) - gamma", "phi @ (th_h + w) + gamma"),)),
    Mutant("r2pvi_regresses_current_state_value", "rrpvi.offline_rate",
           "the regression targets read V_hat at the current state instead of the next state",
           "algorithms.linear.offline_robust:r2pvi",
           (("y = vn[D.s_next[h]]", "y = vn[D.s[h]]"),)),
    # -- torch: the torch bridge (exact mode) --
    Mutant("torch_mp_update_against_pi_k", "torch_bridge.exact_iterates",
           "the torch Nash-MP update takes the win rate of pi_k instead of the extrapolated pi_{k+1/2}",
           "algorithms.torch.nash:nash_mp_step",
           (("win_rates(Pref, torch.exp(z_half))", "win_rates(Pref, torch.exp(z))"),)),
    Mutant("torch_md_opponent_not_mixed", "torch_bridge.exact_iterates",
           "the torch Nash-MD step plays against pi_t instead of the geometric mixture pi_t^mu",
           "algorithms.torch.nash:nash_md_step",
           (("g = win_rates(Pref, torch.exp(z_mu))", "g = win_rates(Pref, torch.exp(z))"),)),
    Mutant("torch_prox_anchor_weight_halved", "torch_bridge.exact_iterates",
           "the torch exact prox uses s = 1/(1 + eta beta / 2) (a halved regularisation in the anchor weight)",
           "algorithms.torch.nash:prox_step",
           (("s = 1.0 / (1.0 + float(eta) * float(beta))", "s = 1.0 / (1.0 + float(eta) * float(beta) / 2)"),)),
    Mutant("torch_softplus_threshold", "torch_bridge.loss_gradients",
           "-log sigma(z) through F.softplus, which returns x itself above its threshold 20 (1e-11 relative error)",
           "algorithms.torch.losses:_softplus",
           (("return torch.logaddexp(torch.zeros_like(x), x)", "return F.softplus(x)"),)),
    Mutant("torch_rdpo_coefficient_one_minus_eps", "torch_bridge.loss_gradients",
           "the torch rDPO correction uses eps/(1 - eps) instead of eps/(1 - 2 eps)",
           "algorithms.torch.losses:rdpo",
           (("c = e / (1.0 - 2.0 * e)", "c = e / (1.0 - e)"),)),
    Mutant("torch_nash_md_pg_kl_sign_flipped", "torch_bridge.loss_gradients",
           "Nash-MD's policy-gradient loss adds the KL penalty to the objective instead of subtracting it",
           "algorithms.torch.nash:nash_md_pg_objective",
           (("- b * _kl_rows(log_pi, log_mu).sum())", "+ b * _kl_rows(log_pi, log_mu).sum())"),)),
    # -- torch: the tiny transformer --
    Mutant("torch_transformer_target_against_win_rates", "torch_bridge.transformer_exploitability",
           "the distilled target of the tiny transformer's training steps follows the opposite sign of the win "
           "rates (the game is played with 1 - Pref = Pref^T)",
           "algorithms.torch.sequence:train_sequence_policy",
           (("P = tnash.pref_tensor(game)  #", "P = 1.0 - tnash.pref_tensor(game)  #"),)),
    # -- linear: OFUL / LinUCB on changing action sets --
    Mutant("linucb_changing_index_on_next_set", "linucb.changing_actions",
           "on changing action sets the optimistic index is computed on the next round's set and its row played "
           "in the current set (an off-by-one in the set index)",
           "algorithms.linear._kernels:run_changing",
           (("parallel=True, cache=True", "parallel=True, cache=False"),
            ("a = sets[k, j]", "a = sets[(t + 1) % n_sets, j]"))),
    # -- linear: DR-RPO --
    Mutant("drrpo_md_exponent_one_on_pi_k", "dr_rpo.mirror_step_identity",
           "the mirror step raises pi_k to the power 1 instead of 1/(1 + eta beta_reg)",
           "algorithms.linear.drrpo:_mirror_step",
           (("z = (np.log(pi) + eta * beta_reg * np.log(ref) + eta * Q) / c",
             "z = np.log(pi) + (eta * beta_reg * np.log(ref) + eta * Q) / c"),)),
    Mutant("drrpo_tv_dual_sign_flipped", "dr_rpo.robust_regression_cvxpy",
           "the TV dual adds the radius term rho (alpha - min v) instead of subtracting it",
           "algorithms.linear.drrpo:_tv_dual",
           (("- rho * (v - v.min())[None, :]", "+ rho * (v - v.min())[None, :]"),)),
    Mutant("drrpo_restarts_from_reference", "dr_rpo.regret_slope",
           "every mirror step starts from pi_ref instead of the current policy pi_k (the iterate is forgotten)",
           "algorithms.linear.drrpo:dr_rpo",
           (("pi = _mirror_step(pi, ref, Q, e, b)", "pi = _mirror_step(ref, ref, Q, e, b)"),)),
    # -- robust: s-rectangular KL and chi-square balls --
    Mutant("srect_div_budget_per_action", "robust_srect.kl_chisq_cvxpy",
           "the s-rectangular divergence budget is spent once per action (each action's projection cost may use "
           "A r_s: the union of (s,a)-rectangular balls, not the shared budget)",
           "mdps._srect_kernels:srect_sweep",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("gamma, radius[s], pi_out[s]", "gamma, radius[s] * A, pi_out[s]"))),
    Mutant("srect_div_policy_deterministic", "robust_srect.kl_chisq_cvxpy",
           "the s-rectangular KL / chi-square operator returns its saddle policy rounded to the most likely action "
           "(a deterministic policy, which the adversary's shared budget exploits)",
           "mdps.robust:_srect_exact",
           (("return TV, pol, P.reshape(S, A, S)", "return TV, np.eye(A)[pol.argmax(axis=1)], P.reshape(S, A, S)"),)),
    Mutant("srect_div_sorted_descending", "robust_srect.kl_chisq_cvxpy",
           "the s-rectangular sweep sorts V in decreasing order (the chi-square scan then grows K from the largest "
           "values)",
           "mdps._srect_kernels:srect_sweep",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ('order = np.argsort(V, kind="mergesort")', 'order = np.argsort(-V, kind="mergesort")'))),
    # -- robust: s-rectangular robust policy iteration --
    Mutant("srect_pi_nominal_evaluation", "robust_pi.srect_agrees",
           "s-rectangular robust PI evaluates each policy on the nominal model (a linear solve with P-hat) instead of "
           "its robust value",
           "mdps.robust:_srect_policy_iteration",
           (("V, n, _r = _srect_evaluate(rmdp, pol, V, eps)",
             "V, n, _r = np.linalg.solve(np.eye(S) - g * np.einsum(\"sa,sat->st\", pol, rmdp._mdp.P), "
             "np.einsum(\"sa,sa->s\", pol, rmdp._mdp.R)), 0, 0.0"),)),
    Mutant("srect_pi_evaluation_one_step", "robust_pi.srect_agrees",
           "s-rectangular robust PI's evaluation stops after one adversary step (one linear solve on the model that "
           "was worst for the previous value)",
           "mdps.robust:_srect_evaluate",
           (("        if res <= eps:", "        if step > 1 or res <= eps:"),)),
    # -- torch_bridge: judges and sampled Nash-MD-PG --
    Mutant("torch_sampled_advantage_sign_flipped", "torch_bridge.sampled_gradient_unbiased",
           "the sampled Nash-MD-PG surrogate ascends instead of descends (the advantage's sign flipped)",
           "algorithms.torch.nash:sampled_nash_md_pg_loss",
           (("return -(logp * advantage).mean()", "return (logp * advantage).mean()"),)),
    Mutant("torch_sampled_opponent_from_policy", "torch_bridge.sampled_gradient_unbiased",
           "the sampled duels' opponent is drawn from pi_theta instead of the geometric mixture pi^mu",
           "algorithms.torch.sampled:sample_duels",
           (("log_mu[None], w, n, rng=generator)", "log_mu[None], 0.0, n, rng=generator)"),)),
    Mutant("torch_sampled_kl_penalty_dropped", "torch_bridge.sampled_gradient_unbiased",
           "the sampled advantage drops the KL penalty -beta (log pi(y) - log mu(y))",
           "algorithms.torch.nash:sampled_nash_md_pg_loss",
           (("reward = outcomes.to(logp.dtype) - b * (logp - ref_logp.to(logp.dtype))",
             "reward = outcomes.to(logp.dtype)"),)),
    # -- exploration: BPI episodes-to-eps against eps --
    Mutant("bpi_bonus_grows_with_episode", "bpi.epsilon_rate",
           "the compiled BPI loop scales the bonus by (k + 1)^(1/4) (a confidence width growing with the episode "
           "index): along the played pairs it decays like n^(-1/4), and the other pairs are never given up",
           "algorithms.exploration._demo_kernels:run_demo_batch",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("log_ref, lam, bonus, coef, L, Vbar", "log_ref, lam, bonus, coef * (k + 1.0) ** 0.25, L, Vbar"))),
    Mutant("bpi_rate_regularizes_towards_uniform", "bpi.epsilon_rate",
           "regularised BPI's backup uses the uniform policy as reference instead of the clone",
           "algorithms.exploration.demo_bpi:_bpi",
           (("log_ref = np.log(ref)", "log_ref = np.log(np.full_like(ref, 1.0 / ref.shape[-1]))"),)),
    Mutant("minimax_instance_not_rebuilt", "ucbvi.minimax_sqrt_k",
           "the lower-bound instance keeps the gap of K = 2000 at every K (not rescaled): regret stops growing "
           "like sqrt(K)",
           "proofs_checks.exploration.ucbvi_minimax:instance",
           (("d = gap(n_episodes, n_arms, c)", "d = gap(2000, n_arms, c)"),)),
    Mutant("hoeffding_bonus_not_decaying", "ucbvi.minimax_sqrt_k",
           "UCBVI-CH's bonus does not decay with the visits (7 c H L instead of 7 c H L / sqrt(n)): the agent "
           "never learns",
           "algorithms.exploration._kernels:run_batch_record",
           (("cache=True, parallel=True", "cache=False, parallel=True"),
            ("b = coef * 7.0 * H * L * math.sqrt(1.0 / nf)", "b = coef * 7.0 * H * L * math.sqrt(1.0)"))),
    # -- linear: demonstration-regularised RL --
    Mutant("lindemo_soft_backup_drops_lambda", "linear_demo.tabular_identity",
           "the soft backup of demonstration-regularised LSVI uses lambda = 1 (log-sum-exp of Q-bar, lambda dropped) "
           "whatever the regularisation strength",
           "algorithms.linear._demo_kernels:run_soft",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("soft_backup(q_row, log_ref[h, s], reg, policies[k, h, s])",
             "soft_backup(q_row, log_ref[h, s], 1.0, policies[k, h, s])"))),
    Mutant("linear_bc_gradient_sign_flipped", "linear_demo.bc_kl_rate",
           "the log-linear BC gradient has the sign of its data term flipped (N pi - N(s, a)): Newton stalls near w = 0",
           "algorithms.linear.demo:_stage_terms",
           (("counts_h - n_s[:, None] * p", "n_s[:, None] * p - counts_h"),)),
    Mutant("linear_bc_ridge_scaled_by_n", "linear_demo.bc_kl_rate",
           "the BC ridge is multiplied by N_E (a penalty on the summed, not the mean, likelihood): the shrinkage "
           "bias does not vanish",
           "algorithms.linear.demo:linear_behaviour_cloning",
           (("    W = np.zeros((H, d))\n", "    W = np.zeros((H, d))\n    kappa = kappa * n_demos\n"),)),
    Mutant("lindemo_soft_greedy_sign_flipped", "linear_demo.regret_vs_unregularized",
           "the soft backup of demonstration-regularised LSVI is taken on -Q-bar (pi proportional to ref e^{-Q/lambda}): "
           "the reference is tilted away from the optimistic values",
           "algorithms.linear._demo_kernels:run_soft",
           (("@nb.njit(cache=True)", "@nb.njit(cache=False)"),
            ("q_row[a] = optimistic_q(phi[s, a], w, beta, W2[h, s, a], cap)",
             "q_row[a] = -optimistic_q(phi[s, a], w, beta, W2[h, s, a], cap)"))),
    # -- planning: inexact policy iteration's certificate --
    Mutant("ipi_shift_uses_c", "inexact_policy_iteration.certified_bound",
           "inexact policy iteration returns v + (lo + hi) c / 2 instead of v + (lo + hi) / (2 (1 - gamma)): the "
           "returned value misses the MacQueen midpoint by (lo + hi) / 2 while the bound is unchanged",
           "mdps.discounted:inexact_policy_iteration",
           (("shift = 0.5 * (lo + hi) * c1", "shift = 0.5 * (lo + hi) * c"),)),
    Mutant("ipi_stops_at_100_tol", "inexact_policy_iteration.certified_bound",
           "inexact policy iteration stops once the certified bound is below 100 tol (an early stop): runs "
           "end unconverged far above the float64 floor",
           "mdps.discounted:inexact_policy_iteration",
           (("if bound <= tol or", "if bound <= 100 * tol or"),)),
    Mutant("ipi_bound_drops_rounding_slack", "inexact_policy_iteration.certified_bound",
           "inexact policy iteration's bound is MacQueen's sp / (2 (1 - gamma)) without the floating-point slack "
           "(backup rounding and row-sum defect): near gamma = 1 it certifies below the float64 floor",
           "mdps.discounted:inexact_policy_iteration",
           (("bound = 0.5 * (hi - lo) * c1 + slack +", "bound = 0.5 * (hi - lo) * c1 +"),)),
]


def test_every_registered_check_has_a_mutant():
    covered = {m.check for m in MUTANTS}
    missing = sorted(set(labkit.checks()) - covered)
    assert not missing, f"checks without a mutant in the mutation suite: {missing}"
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)


def test_the_documented_table_lists_every_mutant():
    text = DOC.read_text()
    for m in MUTANTS:
        assert f"`{m.name}`" in text and f"`{m.check}`" in text, m.name


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_the_check_catches_its_mutant(mutant, monkeypatch):
    import warnings

    chk = labkit.checks()[mutant.check]
    if not chk.available:  # an optional extra (torch) is missing here
        pytest.skip(chk.unavailable_reason())
    clean = chk.run(scale="quick", rng=0) if mutant.check not in _CLEAN else _CLEAN[mutant.check]
    _CLEAN[mutant.check] = clean
    assert clean.passed, f"{mutant.check} fails without the mutant"
    _plant(mutant, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a mutant may make solvers warn (ConvergenceWarning, ...)
        broken = chk.run(scale="quick", rng=0)
    assert not broken.passed, (
        f"{mutant.check} did not catch {mutant.name} ({mutant.description}): measured {broken.measured} "
        f"[{broken.ci[0]}, {broken.ci[1]}] {broken.relation} {broken.expected}"
    )


_CLEAN: dict = {}
