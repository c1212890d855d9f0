"""Checks of exact planning: the textbook theorems behind value, policy, modified policy and
relative value iteration.

One module per solver: :mod:`.value_iteration`, :mod:`.policy_iteration`,
:mod:`.modified_policy_iteration`, :mod:`.relative_value_iteration`; the certificate of inexact policy
iteration (the default route of ``mdps.solve``): :mod:`.inexact_policy_iteration`; state-dependent action
sets across every planner: :mod:`.infeasible_actions`. Shared instances and ground truth:
:mod:`._instances`.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("value_iteration", "policy_iteration", "modified_policy_iteration",
                                             "relative_value_iteration", "infeasible_actions",
                                             "inexact_policy_iteration"))
