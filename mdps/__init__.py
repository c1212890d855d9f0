"""mdps: problem engines and exact ground truth.

Tabular MDPs under the discounted, finite-horizon and average-reward criteria (dense or
sparse transitions), instance generators, exact solvers used as ground truth, occupancy
measures, adapters to peer libraries' layouts and a compiled episodic simulator; preference
games with their exact (regularised) Nash equilibria and compiled duel oracles; the log-linear
preference-learning task with exact ground truth and noisy preference datasets; a catalogue of
instances with known exact answers (:mod:`mdps.catalogue`) and the lab's public validation
layer (:mod:`mdps.validation`).

The public API is listed in ``__all__``; submodules load on first use, so ``import mdps`` is
cheap and compiles nothing.
"""

from __future__ import annotations

import importlib

from mdps.results import Solution
from mdps.tabular import TabularMDP

# name -> submodule that defines it
_LAZY = {
    # dispatch
    "solve": "solvers", "evaluate": "solvers",
    # discounted planning
    "value_iteration": "discounted", "policy_iteration": "discounted",
    "modified_policy_iteration": "discounted", "linear_programming": "discounted",
    "evaluate_policy": "discounted", "q_values": "discounted", "bellman_operator": "discounted",
    "greedy_policy": "discounted", "pi_iteration_bound": "discounted",
    "inexact_policy_iteration": "discounted",
    # finite horizon
    "backward_induction": "finite_horizon", "evaluate_finite_horizon": "finite_horizon",
    # average reward
    "relative_value_iteration": "average_reward", "average_reward_lp": "average_reward",
    "gain_bias": "average_reward", "aperiodic_transform": "average_reward",
    "span_contraction_coefficient": "average_reward", "recurrent_classes": "average_reward",
    "is_communicating": "average_reward", "GainBias": "average_reward",
    "multichain_gain": "average_reward", "diameter": "average_reward", "ConvergenceWarning": "results",
    "GainCertificateWarning": "results", "policy_gain": "average_reward",
    # occupancy measures
    "occupancy_measure": "occupancy", "stationary_distribution": "occupancy",
    "policy_from_occupancy": "occupancy", "trajectory_kl": "occupancy",
    # generators
    "garnet": "generators", "river_swim": "generators", "chain": "generators",
    "gridworld": "generators", "random_finite_horizon": "generators", "jao": "generators",
    "tight_vi_instance": "generators", "hard_episodic_tree": "generators",
    "gridworld_states": "generators", "inventory": "generators",
    # adapters
    "from_mdptoolbox": "adapters", "to_mdptoolbox": "adapters", "from_quantecon": "adapters",
    "to_quantecon": "adapters", "from_gymnasium": "adapters", "to_gymnasium": "adapters",
    # simulation
    "rollout": "simulate", "Trajectories": "simulate", "TabularEnv": "env",
    # preference games (generic generators -- cycle, flip, clones, contextual -- stay in
    # mdps.preference_generators to keep the top level unambiguous)
    "PreferenceGame": "preference",
    "uniform_tournament": "preference_generators", "rock_paper_scissors": "preference_generators",
    "bradley_terry": "preference_generators", "random_bradley_terry": "preference_generators",
    "thurstone": "preference_generators", "bt_mixture": "preference_generators",
    # preference learning from data: the log-linear task with exact ground truth, its datasets
    "LogLinearPreferenceTask": "preference_task", "PreferenceData": "preference_task",
    # robust MDPs
    "RobustMDP": "robust", "RobustSolution": "robust", "robust_inner": "robust", "robust_argmin": "robust",
    "robust_q_values": "robust", "robust_bellman_operator": "robust", "worst_case_model": "robust",
    "robust_value_iteration": "robust", "robust_evaluate": "robust", "robust_policy_iteration": "robust",
    "srect_bellman": "robust", "S_KINDS": "robust", "robust_backward_induction": "robust_horizon",
    "srect_saddle": "robust", "S_EXACT_KINDS": "robust",
    # submodular trajectory objectives
    "coverage_objective": "submodular", "facility_location_objective": "submodular",
    "logdet_objective": "submodular", "modular_objective": "submodular", "set_function": "submodular",
    "check_submodular": "submodular", "curvature": "submodular", "bandit_mdp": "submodular",
    "trap_instance": "submodular",
    # linear bandits
    "LinearBandit": "linear_bandit", "IIDActionSets": "linear_bandit", "LinearMDP": "linear_mdp",
    # robust regularised (f-divergence-penalised) linear MDPs
    "penalized_inner": "robust_regularized", "penalized_argmin": "robust_regularized",
    "penalty": "robust_regularized", "robust_regularized_dp": "robust_regularized",
    "robust_regularized_evaluate": "robust_regularized", "RegularizedSolution": "robust_regularized",
    "liu_xu_linear_mdp": "robust_regularized", "PENALTY_KINDS": "robust_regularized",
    # policy-regularised d-rectangular TV-robust linear MDPs (DR-RPO's ground truth)
    "policy_regularized_robust_evaluate": "policy_regularized_robust",
    "policy_regularized_robust_dp": "policy_regularized_robust",
    "PolicyRegularizedSolution": "policy_regularized_robust",
    "policy_regularized_robust_values": "policy_regularized_robust", "tv_worst_case": "policy_regularized_robust",
    # numerics
    "span": "numerics", "sup_norm": "numerics", "logsumexp": "numerics", "log_softmax": "numerics",
    "softmax": "numerics", "kl": "numerics", "log_span": "numerics", "entropy": "numerics",
    "binary_exponent": "numerics",
}

#: public submodules reachable as attributes (``mdps.catalogue.get(...)``, ``mdps.validation``)
_SUBMODULES = ("catalogue", "validation", "submodular")

__all__ = ["TabularMDP", "Solution", *_LAZY, *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        value = importlib.import_module(f"mdps.{name}")
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mdps' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mdps.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
