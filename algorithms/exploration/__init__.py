"""algorithms.exploration: episodic exploration with exact pseudo-regret, and learning from
demonstrations.

=================================  ==========================================================
:func:`ucbvi`                      UCBVI, Hoeffding or Bernstein bonus (Azar, Osband, Munos
                                   2017, arXiv:1703.05449); ``n_runs`` for a seed batch
:func:`greedy`                     the no-bonus control (certainty-equivalence planning)
:func:`psrl`                       posterior sampling (Osband, Russo, Van Roy 2013,
                                   arXiv:1306.0940), known rewards
:func:`ucbvi_regret_bound`         UCBVI-CH's regret bound (Theorem 1) [U: constants]
:func:`log_term`                   ``L = ln(5 S' A T / delta)``
:func:`hoeffding_bonus`            ``c * 7 H L / sqrt(max(1, n))``
:class:`ExplorationRun`            one run: ``values``, ``returns``, ``v_star``, ``regret``,
                                   ``optimistic_values`` (the plan's own value per episode)
:class:`ExplorationBatch`          ``n_runs`` runs, ``(n_runs, K)`` arrays; ``.run(i)``
:func:`behaviour_cloning`          add-kappa behaviour cloning from expert trajectories
                                   (demonstration-regularised RL, Tiapkin et al. 2024,
                                   arXiv:2310.17303); ``demonstration_counts``, ``soft_expert``
:func:`bc_expected_kl`             the clone's exact expected trajectory KL over datasets;
                                   ``bc_kl_leading_term`` its ``1/N_E`` leading term
:func:`kl_regularized_optimum`     soft backward induction towards a reference policy
                                   (record :class:`RegularizedSolution`)
:func:`demo_regularized_bpi`      optimistic KL-regularised BPI towards a clone (phase 2 of
                                   demonstration-regularised RL, lab reconstruction [U]);
                                   control :func:`unregularized_bpi`; records
                                   :class:`RegularizedBPIRun` / ``RegularizedBPIBatch``
:func:`demo_regularized_rlhf`      the RLHF pipeline: Bradley-Terry pairs from the clone,
                                   ridge logistic reward fit (:func:`fit_trajectory_reward`),
                                   exact regularised optimum (:class:`RLHFResult`)
:func:`stepmix`, :func:`epsmix`    conservative exploration under the episode-wise constraint
                                   ``V^{pi_k} >= (1 - kappa) V^b`` (Li, Huang, Shen, Yang
                                   2023, arXiv:2306.06265); record :class:`ConservativeRun`;
                                   ``baseline_with_quality``, ``mixture_policy``
=================================  ==========================================================

Every name loads its module on first attribute access, so ``from algorithms import
exploration`` compiles nothing. Theory: docs/theory/exploration.md.
"""

from __future__ import annotations

import importlib

_ENGINE = ("ucbvi", "greedy", "psrl", "ucbvi_regret_bound", "log_term", "hoeffding_bonus", "run_seeds",
           "ExplorationRun", "ExplorationBatch", "ExplorationSettings")
_DEMONSTRATIONS = ("behaviour_cloning", "demonstration_counts", "soft_expert", "bc_expected_kl",
                   "bc_kl_leading_term", "kl_regularized_optimum", "RegularizedSolution")
_CONSERVATIVE = ("stepmix", "epsmix", "baseline_with_quality", "mixture_policy", "pessimistic_log_term",
                 "ConservativeRun", "ConservativeBatch", "ConservativeSettings")
_DEMO_BPI = ("demo_regularized_bpi", "unregularized_bpi", "regularized_backup", "RegularizedBPIRun",
             "RegularizedBPIBatch", "RegularizedBPISettings", "demo_regularized_rlhf", "fit_trajectory_reward",
             "trajectory_features", "RewardFit", "RLHFResult")
_HOME = {**{n: "algorithms.exploration.conservative" for n in _CONSERVATIVE},**{n: "algorithms.exploration.engine" for n in _ENGINE},
         **{n: "algorithms.exploration.demonstrations" for n in _DEMONSTRATIONS},
         **{n: "algorithms.exploration.demo_bpi" for n in _DEMO_BPI}}

__all__ = list(_ENGINE + _DEMONSTRATIONS + _CONSERVATIVE + _DEMO_BPI)


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'algorithms.exploration' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))
