"""Checks of Nash learning from human feedback on tabular preference games.

One module per paper or theorem group: :mod:`.mirror_prox` (Nash-MP), :mod:`.nash_md`
(Nash-MD), :mod:`.inpo` (INPO / regularised OMD), :mod:`.hedge` (Hedge self-play),
:mod:`.invariants` (fixed points and closed-form steps of every update), :mod:`.sampled`
(sampled duel oracles). Shared instances: :mod:`._instances`.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("mirror_prox", "nash_md", "inpo", "hedge", "invariants", "sampled"))
