"""Checks of episodic exploration and learning from demonstrations on finite-horizon tabular MDPs.

One module per paper or theorem group: :mod:`.ucbvi` (UCBVI's regret on fixed instances, the
greedy control), :mod:`.demonstrations` (behaviour cloning, KL-regularised planning), :mod:`.conservative`
(StepMix and EpsMix under the episode-wise conservative constraint), :mod:`.demo_bpi`
(demonstration-regularised BPI against the number of demonstrations, and the RLHF variant). Every
check measures against exact ground truth (backward induction, exact policy evaluation, exact
trajectory KL from occupancies). Theorems, instances and tolerances: docs/theory/exploration.md.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("ucbvi", "demonstrations", "conservative", "demo_bpi", "bpi_rates", "ucbvi_minimax"))
