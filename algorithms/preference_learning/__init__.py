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

Usage::

    from algorithms import preference_learning as pl
    pl.losses.rdpo(z, eps)
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

__all__ = [
    "losses",
    "FIT_LOSSES",
    "FitCertificate",
    "FitResult",
    "asymptotic_covariance",
    "fit",
    "population_minimiser",
    "two_stage",
]
