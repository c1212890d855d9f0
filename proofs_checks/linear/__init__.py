"""Checks of learning with linear structure: OFUL / LinUCB's regret bound and its d sqrt(T) rate
on the unit ball, LSVI-UCB on linear MDPs, and R2PVI (robust offline RL with f-divergence
regularisation on d-rectangular linear MDPs).

One module per theorem group: :mod:`.linucb`, :mod:`.lsvi`, :mod:`.r2pvi`, :mod:`.dr_rpo`, :mod:`.demo_linear`
(demonstration-regularised RL on linear MDPs). Theorems, instances and
tolerances: docs/theory/linear.md.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("linucb", "lsvi", "r2pvi", "dr_rpo", "demo_linear"))
