"""algorithms.linear: linear bandits and linear MDPs with exact regret.

=================================  ==========================================================
:func:`linucb`                     OFUL / LinUCB (Abbasi-Yadkori, Pál, Szepesvári 2011),
                                   compiled, batched seeds, exact optimistic step on the ball
:func:`oful_regret_bound`          the OFUL high-probability regret bound (Theorem 3)
:class:`LinearBanditRun`           one run: exact per-round pseudo-regret, actions played
:class:`LinearBanditBatch`         ``n_runs`` runs
:func:`lsvi_ucb`                   LSVI-UCB on linear MDPs (Jin, Yang, Wang, Jordan 2020),
                                   compiled, exact regret, batched seeds
:func:`lsvi_beta`                  its theory radius ``d H sqrt(log(2 d K H / delta))``
:func:`r2pvi`                      R2PVI (Tang, Liu, Xu 2025): robust regularised pessimistic
                                   value iteration from offline data (TV, KL, chi-square)
:func:`collect_offline_data`       an offline dataset of a behaviour policy (:class:`OfflineData`)
:func:`linear_behaviour_cloning`   log-linear maximum-likelihood behaviour cloning, Newton with a
                                   gradient certificate (Tiapkin et al. 2024, linear part)
:func:`demo_regularized_lsvi`      LSVI-UCB with the KL-regularised soft backup towards a reference
                                   (demonstration-regularised RL; reconstruction), exact values
:func:`dr_rpo`                     DR-RPO (Gu, He, Liu, Xu 2025; reconstruction): online policy
                                   optimisation for policy-regularised d-rectangular TV-robust
                                   linear MDPs (:func:`mirror_step`, :func:`tv_dual`)
=================================  ==========================================================

Every name loads its module on first attribute access, so ``from algorithms import linear``
compiles nothing. Theory: docs/theory/linear.md.
"""

from __future__ import annotations

import importlib

_LINUCB = ("linucb", "oful_regret_bound", "run_action_sets", "LinearBanditRun", "LinearBanditBatch", "LinUCBSettings")
_LSVI = ("lsvi_ucb", "lsvi_beta", "LSVISettings", "LSVIRun", "LSVIBatch")
_R2PVI = ("r2pvi", "OfflineData", "as_offline_data", "collect_offline_data", "R2PVISettings", "R2PVIResult")
_DRRPO = ("dr_rpo", "dr_rpo_eta", "mirror_step", "tv_dual", "tv_regression", "robust_regularized_evaluation", "DRRPORun",
          "DRRPOSettings")
_DEMO = ("linear_behaviour_cloning", "linear_bc_gradient", "log_linear_policy", "LinearBCResult",
         "demo_regularized_lsvi", "DemoLSVIRun", "DemoLSVISettings")
_HOME = {**{n: "algorithms.linear.oful" for n in _LINUCB}, **{n: "algorithms.linear.lsvi" for n in _LSVI},
         **{n: "algorithms.linear.offline_robust" for n in _R2PVI}, **{n: "algorithms.linear.drrpo" for n in _DRRPO},
         **{n: "algorithms.linear.demo" for n in _DEMO}}

__all__ = [*_LINUCB, *_LSVI, *_R2PVI, *_DRRPO, *_DEMO]


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'algorithms.linear' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))
