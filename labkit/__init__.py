"""labkit: the lab's machinery -- checks, seeding, sweeps, the result store, rates, figures, CLI.

``labkit`` is generic: it imports none of ``mdps``, ``algorithms`` or ``proofs_checks``.
Packages of checks register into it through the ``labkit.checks`` entry-point group.
"""

from __future__ import annotations

import importlib

from labkit.check import (
    TAGS,
    Check,
    CheckResult,
    Outcome,
    RunContext,
    checkpoints,
    checks,
    get_check,
    load_errors,
    load_modules,
    register,
    select,
    verdict,
    worst_case,
)

# bound eagerly: ``labkit.sweep`` must be the function even after ``labkit/sweep.py`` is imported
# (importing a submodule binds its name on the package); cheap, since dask and tqdm load on use.
from labkit.sweep import expand_grid, sweep  # noqa: E402

_LAZY = {
    "run_seeds": "seeding", "spawn_rngs": "seeding", "as_seed_sequence": "seeding",
    "ResultStore": "store", "lab_dir": "store",
    "fit_power_law": "rates", "fit_linear_rate": "rates", "RateFit": "rates",
    "bootstrap_ci": "stats", "iqm": "stats",
    "code_version": "provenance",
}

__all__ = ["Check", "CheckResult", "Outcome", "RunContext", "TAGS", "checks", "get_check", "register",
           "select", "load_modules", "load_errors", "verdict", "worst_case", "checkpoints", "sweep",
           "expand_grid", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"labkit.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
