"""proofs_checks: theorems as executable checks, one module per paper or textbook topic.

``register()`` is the ``labkit.checks`` entry point: importing a module registers its checks.
"""

from __future__ import annotations

import importlib

#: modules whose import registers checks
MODULES = ("proofs_checks.planning", "proofs_checks.nash")


def register() -> None:
    for name in MODULES:
        importlib.import_module(name)
