"""Checks of the torch bridge (:mod:`algorithms.torch`, the optional ``torch`` extra).

:mod:`.exact` cross-validates the torch Nash-learning updates against the NumPy/Numba lab's
iterates; :mod:`.gradients` the torch losses and their gradients against the NumPy definitions,
exact derivatives and tabular update directions; :mod:`.transformer` the tiny causal
transformer trained end to end with Nash-MD, Nash-MP and INPO (exact exploitability). The checks declare ``requires=("torch",)``:
without torch they are listed as unavailable (with the install hint) and skipped, and the
modules import torch only inside the measurements, so loading the registry never needs torch.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("exact", "gradients", "transformer", "sampled"))
