"""Checks of submodular RL (Prajapat, Mutný, Zeilinger, Krause 2024, arXiv:2307.13372): the objectives,
greedy's curvature bound, SubPO's stationary-point bound, the unbiased SubPO estimator and its reduction
to policy gradient. Theorems, expected figures and tolerances: docs/theory/submodular.md.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("checks", "linear", "trap"))
