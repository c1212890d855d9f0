"""Checks of learning with linear structure: OFUL / LinUCB's regret bound and its d sqrt(T) rate
on the unit ball (linear MDPs to come).

One module per theorem group: :mod:`.linucb`. Theorems, instances and tolerances:
docs/theory/linear.md.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("linucb", "lsvi", "r2pvi"))
