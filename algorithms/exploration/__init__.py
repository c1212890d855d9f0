"""algorithms.exploration: episodic exploration and learning from demonstrations.

Public API today:

* :mod:`algorithms.exploration.demonstrations` -- behaviour cloning and the KL-regularised
  planning oracle of demonstration-regularised RL (Tiapkin et al. 2024, arXiv 2310.17303):
  ``behaviour_cloning``, ``demonstration_counts``, ``soft_expert``, ``bc_expected_kl`` (exact
  expected trajectory KL of the clone), ``bc_kl_leading_term``, ``kl_regularized_optimum``
  (soft backward induction) and its record ``RegularizedSolution``. Theory:
  docs/theory/exploration.md.
"""

from algorithms.exploration.demonstrations import (
    RegularizedSolution,
    bc_expected_kl,
    bc_kl_leading_term,
    behaviour_cloning,
    demonstration_counts,
    kl_regularized_optimum,
    soft_expert,
)

__all__ = ["behaviour_cloning", "demonstration_counts", "soft_expert", "bc_expected_kl",
           "bc_kl_leading_term", "kl_regularized_optimum", "RegularizedSolution"]
