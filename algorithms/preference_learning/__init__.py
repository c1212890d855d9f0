"""algorithms.preference_learning: learning a policy from preference data (the DPO family).

Public API today:

* :mod:`algorithms.preference_learning.losses` -- one definition of each per-pair loss,
  vectorised over numpy arrays, each with its exact derivative: ``dpo``, ``cdpo``, ``rdpo``
  (functions of the implicit reward margin ``z = beta * h``), ``ipo`` (of ``h``, needs
  ``beta``), ``fdpo`` (of the two probability ratios), ``slic`` (hinge), the matching
  ``*_grad`` functions, and ``margin`` (``h`` from sequence log-ratios, sequence or token
  normalisation). Formulas, papers and provenance tags: docs/theory/preference_learning.md.
* :mod:`algorithms.preference_learning.fit` -- exact estimators on the log-linear task:
  ``fit(task, data, loss, eps, radius, ridge)`` (damped Newton on sufficient statistics, exact
  norm constraint, KKT certificate), ``population_minimiser``, ``asymptotic_covariance``
  (sandwich), ``two_stage`` (BT reward MLE + KL-regularised optimum); records ``FitResult``,
  ``FitCertificate``.
* :mod:`algorithms.preference_learning.gradient` -- the first-order solver on a log-linear task
  (``minimize``: gradient descent or BFGS from a stated ``init``, recording the trajectory),
  ``dpo_objective`` and ``dpo_fit`` (plain DPO through the same solver), ``counts_law``,
  ``TrajectoryResult``.
* :mod:`algorithms.preference_learning.rpo` -- ``rpo`` and ``rpo_objective`` (DPO + SFT on a
  baseline; Liu et al. 2024, arXiv 2405.16436).
* :mod:`algorithms.preference_learning.hypo` -- ``hypo`` and ``hypo_objective`` (DPO + exact
  reverse KL; Song et al. 2024, arXiv 2406.01462).
* :mod:`algorithms.preference_learning.apo` -- Accelerated Preference Optimization (He, Yuan,
  Gu 2024): ``apo`` (exact population steps), ``apo_sampled`` (each DPO step fitted on fresh
  pairs), and the exact closed form ``apo_logit_coefficient``, ``apo_closed_form_policy``,
  ``apo_suboptimality``, ``apo_asymptotic_slope``. (``pl.apo`` is the function; the module is
  ``algorithms.preference_learning.apo`` in ``sys.modules``.)
* :mod:`algorithms.preference_learning.vpo` -- Value-Incentivized Preference Optimization (Cen et
  al. 2024): ``regularized_optimal_value`` (``J*``) and ``regularized_optimal_value_grad``, the
  reward-form fit ``vpo`` and its ``vpo_objective``, the policy-form ``vpo_policy_loss``, and the online loop
  ``vpo_online``.

Usage::

    from algorithms import preference_learning as pl
    pl.losses.rdpo(z, eps)
    pl.rpo(task, data, eta=0.1)
"""

from __future__ import annotations

from algorithms.preference_learning import losses
from algorithms.preference_learning.fit import (
    FIT_LOSSES,
    FitCertificate,
    FitResult,
    asymptotic_covariance,
    fit,
    population_minimiser,
    two_stage,
)
from algorithms.preference_learning.gradient import TrajectoryResult, counts_law, dpo_objective, minimize
from algorithms.preference_learning.gradient import dpo as dpo_fit
from algorithms.preference_learning.hypo import hypo, hypo_objective, kl_term
from algorithms.preference_learning.rpo import rpo, rpo_objective, sft_term
from algorithms.preference_learning.apo import (
    APOResult,
    apo,
    apo_asymptotic_slope,
    apo_closed_form_policy,
    apo_logit_coefficient,
    apo_sampled,
    apo_suboptimality,
)
from algorithms.preference_learning.vpo import (
    VPOOnlineResult,
    VPOResult,
    regularized_optimal_value,
    regularized_optimal_value_grad,
    vpo,
    vpo_objective,
    vpo_online,
    vpo_policy_loss,
)

__all__ = [
    "losses",
    # exact estimators (Newton on sufficient statistics)
    "FIT_LOSSES", "FitCertificate", "FitResult", "asymptotic_covariance", "fit", "population_minimiser",
    "two_stage",
    # first-order solver from stated starts, and the regularised objectives built on it
    "TrajectoryResult", "counts_law", "dpo_objective", "dpo_fit", "minimize",
    "rpo", "rpo_objective", "sft_term", "hypo", "hypo_objective", "kl_term",
    # APO and VPO
    "APOResult", "apo", "apo_sampled", "apo_logit_coefficient", "apo_closed_form_policy",
    "apo_suboptimality", "apo_asymptotic_slope",
    "VPOResult", "VPOOnlineResult", "regularized_optimal_value", "regularized_optimal_value_grad",
    "vpo", "vpo_objective", "vpo_policy_loss", "vpo_online",
]
