"""algorithms: the provable algorithms, one module per algorithm, grouped by problem family.

Subpackages (filled issue by issue): ``algorithms.nash`` (Nash learning from human feedback),
``algorithms.preference_learning``, ``algorithms.exploration``, ``algorithms.robust``,
``algorithms.average_reward``, ``algorithms.policy_optimization``, ``algorithms.submodular``,
and the optional torch bridge ``algorithms.torch``. Every algorithm imports :mod:`mdps` only
(its public names) and returns a frozen result record.

Subpackages load on first attribute access (``import algorithms; algorithms.nash``), so
``import algorithms`` stays cheap and compiles nothing; ``from algorithms import nash`` works
as usual.
"""

from __future__ import annotations

import importlib
import pkgutil

#: The subpackages that exist today (found on disk, so a new family is picked up by adding it).
_SUBPACKAGES = tuple(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg and not m.name.startswith("_"))

__all__ = list(_SUBPACKAGES)


def __getattr__(name):
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"algorithms.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'algorithms' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
