"""The ``Check`` contract and the registry of checks.

A *check* is a theorem turned into a run: it builds instances with an exact answer, measures
the quantity the theorem speaks of, fits a rate (or evaluates an invariant) with a confidence
interval and compares it with the figure the theorem states. ``labkit`` defines the contract
and the registry; packages of checks (``proofs_checks``, or a user's own) register into it
through the ``labkit.checks`` entry-point group::

    [project.entry-points."labkit.checks"]
    my_checks = "my_package:register"     # register(registry) is called once

A check's body is a small function ``measure(ctx) -> Outcome``. ``Check.run`` times it,
turns the outcome into a verdict with :func:`verdict` and returns a frozen
:class:`CheckResult`. The expected figure is part of the outcome because it is a function of
the instance (``gamma``, ``beta``, ...), and must be computed from the theorem's formula, never
from a run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "Check",
    "CheckResult",
    "Outcome",
    "RunContext",
    "RELATIONS",
    "SCALES",
    "verdict",
    "register",
    "checks",
    "get_check",
]

SCALES = ("quick", "full")

#: How a measured figure is compared with the theorem's figure, with tolerance ``tol``:
#:
#: * ``"<="`` a bound: the upper confidence limit is at most ``expected + tol``;
#: * ``">="`` a lower bound: the lower confidence limit is at least ``expected - tol``;
#: * ``"=="`` an exact rate: the confidence interval meets ``[expected - tol, expected + tol]``
#:   (the shared methodology of theory/mdp.md section 0.3).
RELATIONS = ("<=", ">=", "==")


def verdict(measured: float, ci: tuple[float, float], expected: float, relation: str, tol: float) -> bool:
    """Whether a measured figure with confidence interval ``ci`` satisfies the theorem's figure."""
    lo, hi = float(ci[0]), float(ci[1])
    values = (measured, lo, hi, expected, tol)
    if not all(math.isfinite(v) for v in values):
        return False  # a NaN or inf measurement never passes
    if relation == "<=":
        return hi <= expected + tol
    if relation == ">=":
        return lo >= expected - tol
    if relation == "==":
        return lo <= expected + tol and hi >= expected - tol
    raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")


@dataclass(frozen=True)
class RunContext:
    """What a check body receives: the scale, its seed tree and where sweeps go.

    ``seed`` is the root of the check's ``SeedSequence`` tree; sweeps spawn one child per run.
    ``store`` is a :class:`labkit.store.ResultStore` or ``None``; ``backend`` names a sweep
    backend (``"serial"``, ``"process"``, ``"dask"``); ``progress`` turns on progress bars.
    """

    scale: str = "quick"
    seed: int = 0
    store: Any = None
    backend: str = "serial"
    progress: bool = False

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed)

    def pick(self, quick, full):
        """Choose a setting by scale: ``ctx.pick(quick=20, full=200)``."""
        return quick if self.scale == "quick" else full


@dataclass(frozen=True, eq=False)
class Outcome:
    """What a check body measured, and what the theorem says it should be."""

    measured: float
    ci: tuple[float, float]
    expected: float
    relation: str
    tol: float
    data: pd.DataFrame
    details: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")


@dataclass(frozen=True, eq=False)
class CheckResult:
    """A check's verdict, with the numbers behind it."""

    name: str
    passed: bool
    measured: float
    ci: tuple[float, float]
    expected: float
    relation: str
    tol: float
    seconds: float
    scale: str
    seed: int
    claim: str
    tag: str
    data: pd.DataFrame
    details: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The JSON record of design.md (``name, passed, measured, expected, ci, seconds``) plus context."""

        def num(v):
            v = float(v)
            return v if math.isfinite(v) else None

        return {
            "name": self.name,
            "passed": bool(self.passed),
            "measured": num(self.measured),
            "expected": num(self.expected),
            "ci": [num(self.ci[0]), num(self.ci[1])],
            "seconds": round(float(self.seconds), 4),
            "relation": self.relation,
            "tol": num(self.tol),
            "scale": self.scale,
            "seed": int(self.seed),
            "claim": self.claim,
            "tag": self.tag,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any], data: pd.DataFrame) -> "CheckResult":
        """Rebuild a result from :meth:`to_json`'s record and its raw data (e.g. from the store)."""

        def num(v):
            return float("nan") if v is None else float(v)

        return cls(
            name=record["name"], passed=bool(record["passed"]), measured=num(record["measured"]),
            ci=(num(record["ci"][0]), num(record["ci"][1])), expected=num(record["expected"]),
            relation=record["relation"], tol=num(record["tol"]), seconds=float(record["seconds"]),
            scale=record["scale"], seed=int(record["seed"]), claim=record["claim"], tag=record["tag"],
            data=data, details=record.get("details", ""),
        )


@dataclass(frozen=True)
class Check:
    """A theorem as an executable check.

    Attributes
    ----------
    name : str
        Dotted name, ``"<paper or topic>.<claim>"``, e.g. ``"value_iteration.tight_rate"``.
    paper : str
        Authors, year and arXiv id / book reference.
    claim : str
        One sentence naming the theorem or equation tested.
    tag : str
        Provenance of the claim (theory notes section 0.1): ``"V"`` read in the paper, ``"A"``
        abstract-level, ``"R"`` textbook result recalled, ``"U"`` reconstruction.
    measure : callable
        ``measure(ctx: RunContext) -> Outcome``.
    plot : callable, optional
        ``plot(result: CheckResult) -> matplotlib.figure.Figure``, drawn from ``result.data`` only.
    """

    name: str
    paper: str
    claim: str
    tag: str
    measure: Callable[[RunContext], Outcome]
    plot: Callable[[CheckResult], Any] | None = None

    def run(self, scale: str = "quick", rng: int | None = 0, *, store=None, backend: str = "serial",
            progress: bool = False) -> CheckResult:
        """Run the check and return its verdict. ``rng`` is the root seed (an int)."""
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        seed = 0 if rng is None else rng
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"rng must be a non-negative integer seed for a check, got {rng!r}")
        ctx = RunContext(scale=scale, seed=int(seed), store=store, backend=backend, progress=progress)
        t0 = time.perf_counter()
        out = self.measure(ctx)
        seconds = time.perf_counter() - t0
        if not isinstance(out, Outcome):
            raise TypeError(f"check {self.name!r} returned {type(out).__name__}, expected Outcome")
        passed = verdict(out.measured, out.ci, out.expected, out.relation, out.tol)
        return CheckResult(
            name=self.name, passed=passed, measured=float(out.measured),
            ci=(float(out.ci[0]), float(out.ci[1])), expected=float(out.expected),
            relation=out.relation, tol=float(out.tol), seconds=seconds, scale=scale, seed=int(seed),
            claim=self.claim, tag=self.tag, data=out.data, details=out.details, extras=dict(out.extras),
        )


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
_REGISTRY: dict[str, Check] = {}
_LOADED = False


def register(check: Check) -> Check:
    """Add a check to the registry (a second check under the same name is an error)."""
    if not isinstance(check, Check):
        raise TypeError(f"register() takes a Check, got {type(check).__name__}")
    existing = _REGISTRY.get(check.name)
    if existing is not None and existing is not check:
        raise ValueError(f"a check named {check.name!r} is already registered")
    _REGISTRY[check.name] = check
    return check


def _load_plugins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for ep in entry_points(group="labkit.checks"):
        hook = ep.load()
        if callable(hook):
            hook()


def checks() -> dict[str, Check]:
    """All registered checks, ``name -> Check``, sorted by name (plugins loaded on first call)."""
    _load_plugins()
    return dict(sorted(_REGISTRY.items()))


def get_check(name: str) -> Check:
    registry = checks()
    if name not in registry:
        close = [n for n in registry if name.split(".")[0] in n][:5]
        hint = f"; did you mean one of {close}?" if close else "; run `labkit list` to see them"
        raise KeyError(f"unknown check {name!r}{hint}")
    return registry[name]
