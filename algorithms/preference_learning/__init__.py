"""algorithms.preference_learning: learning a policy from preference data (the DPO family).

Public API today:

* :mod:`algorithms.preference_learning.losses` -- one definition of each per-pair loss,
  vectorised over numpy arrays, each with its exact derivative: ``dpo``, ``cdpo``, ``rdpo``
  (functions of the implicit reward margin ``z = beta * h``), ``ipo`` (of ``h``, needs
  ``beta``), ``fdpo`` (of the two probability ratios), ``slic`` (hinge), the matching
  ``*_grad`` functions, and ``margin`` (``h`` from sequence log-ratios, sequence or token
  normalisation). Formulas, papers and provenance tags: docs/theory/preference_learning.md.
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
"""

from __future__ import annotations

from algorithms.preference_learning import losses
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
    "APOResult", "apo", "apo_sampled", "apo_logit_coefficient", "apo_closed_form_policy",
    "apo_suboptimality", "apo_asymptotic_slope",
    "VPOResult", "VPOOnlineResult", "regularized_optimal_value", "regularized_optimal_value_grad",
    "vpo", "vpo_objective", "vpo_policy_loss", "vpo_online",
]
