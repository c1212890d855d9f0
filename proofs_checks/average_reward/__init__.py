"""Checks of learning in average-reward MDPs: UCRL2's regret bound, and the price of the diameter
against a span-bounded (SCAL-style, tabular LOOP) agent.

One module per theorem group: :mod:`.ucrl`. Theorems, instances and tolerances:
docs/theory/average_reward.md.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("ucrl", "rvi_certificate"))
