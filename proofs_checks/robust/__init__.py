"""Checks of robust MDPs: the exact inner worst-case problems over L1, TV, L-infinity, KL and
chi-square balls, and robust value iteration on (s,a)-rectangular sets.

One module per theorem group: :mod:`.inner` (each fast inner solution equals an independent exact
primal construction and a cvxpy solution), :mod:`.value_iteration` (the robust operator is a
gamma-contraction; the robust value sits below the nominal one, decreases with the radius, equals
it at radius 0, and is the optimal value of the returned worst-case model), :mod:`.s_rectangular_div`
(the exact s-rectangular KL / chi-square operator against cvxpy, its saddle point),
:mod:`.srect_policy_iteration` (s-rectangular robust PI against robust VI). Theorems, instances and
tolerances: docs/theory/robust.md.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("inner", "value_iteration", "s_rectangular", "policy_iteration",
                                          "iwocs", "finite_horizon", "s_rectangular_div",
                                          "srect_policy_iteration"))
