"""Checks of episodic exploration (UCBVI family): exact pseudo-regret of every played policy.

One module per paper or theorem group: :mod:`.ucbvi` (UCBVI's regret on fixed instances, the
greedy control). Theorems, instances and tolerances: ``docs/theory/exploration.md``.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("ucbvi",))
