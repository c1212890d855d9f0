"""algorithms.preference_learning: learning a policy from preference data (the DPO family).

Public API today:

* :mod:`algorithms.preference_learning.losses` -- one definition of each per-pair loss,
  vectorised over numpy arrays, each with its exact derivative: ``dpo``, ``cdpo``, ``rdpo``
  (functions of the implicit reward margin ``z = beta * h``), ``ipo`` (of ``h``, needs
  ``beta``), ``fdpo`` (of the two probability ratios), ``slic`` (hinge), the matching
  ``*_grad`` functions, and ``margin`` (``h`` from sequence log-ratios, sequence or token
  normalisation). Formulas, papers and provenance tags: docs/theory/preference_learning.md.

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

__all__ = [
    "losses",
    "APOResult", "apo", "apo_sampled", "apo_logit_coefficient", "apo_closed_form_policy",
    "apo_suboptimality", "apo_asymptotic_slope",
]
