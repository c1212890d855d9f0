"""proofs_checks: theorems as executable checks, one package per algorithm family.

Each family package (:mod:`proofs_checks.planning`, :mod:`proofs_checks.nash`, ...) holds one
module per paper or theorem group and lists them in its ``MODULES``; importing a module
registers its checks. :func:`register` is the ``labkit.checks`` entry point: it imports every
module through :func:`labkit.load_modules`, so a module that fails to import (a missing
optional package, say) is reported by name and the other families still load.

Each check carries a provenance tag from :data:`labkit.TAGS` (``V``, ``A``, ``R``, ``U``; the
module docstrings write them ``[R]`` and so on); the tags are explained in ``docs/README.md``,
section 'Provenance tags', and each check's theorem, expected formula and tolerance in
``docs/theory/planning.md`` and ``docs/theory/nash.md``.
"""

from __future__ import annotations

import importlib

import labkit

#: the family packages, in the order ``labkit list`` shows them
FAMILIES = ("proofs_checks.planning", "proofs_checks.nash", "proofs_checks.preference_learning",
            "proofs_checks.exploration", "proofs_checks.robust",
            "proofs_checks.average_reward", "proofs_checks.submodular", "proofs_checks.linear",
            "proofs_checks.torch_bridge")


def modules() -> list[str]:
    """Every check module of every family."""
    return [m for fam in FAMILIES for m in importlib.import_module(fam).MODULES]


def register() -> None:
    labkit.load_modules(modules())
