"""The ``Check`` contract, the helpers every check reuses, and the registry of checks.

A *check* is a theorem turned into a run: it builds instances with an exact answer, measures
the quantity the theorem speaks of, fits a rate (or evaluates an invariant) with an interval
and compares it with the figure the theorem states. ``labkit`` defines the contract and the
registry; packages of checks (``proofs_checks``, or a user's own) register into it through
the ``labkit.checks`` entry-point group::

    [project.entry-points."labkit.checks"]
    my_checks = "my_package:register"     # register() is called once, with no arguments

``register()`` imports the package's check modules, whose top level calls :func:`register`
for each :class:`Check` (:func:`load_modules` imports a list of modules, recording a module
that fails to import as a load error instead of failing every other check). A plugin whose
hook fails (an import error, a wrong signature) is reported by name, with the error, by
:func:`load_errors` and ``labkit list``; the checks of the other plugins are unaffected.

A check's body is a small function ``measure(ctx) -> Outcome``. :meth:`Check.run` times it,
turns the outcome into a verdict with :func:`verdict` and returns a frozen
:class:`CheckResult`. The expected figure is part of the outcome because it is a function of
the instance (``gamma``, ``beta``, ...), and must be computed from the theorem's formula, never
from a run. An exception raised by ``measure`` is a failed verdict carrying the error (so one
broken check cannot stop ``labkit check --all``); only the store's own failures
(:class:`labkit.store.StoreError`) and interrupts propagate.

Provenance tags
---------------
Every check carries one tag, defined once here (:data:`TAGS`) and used the same way in the
README, the docs and ``labkit list``:

``V``  verified: the theorem, its constant and its conditions were read in the paper.
``A``  abstract-level: the statement was read (abstract or theorem statement) but constants
       or conditions were not re-read in the body; the check tests the stated form.
``R``  recalled standard result or exact derivation: a textbook theorem, or an identity the
       lab derives from the update equations (derivation in the docstring or ``docs/``).
``U``  unverified reconstruction or recalled constant: the check tests the *form* with honest
       slack and says so in its claim.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import math
import time
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "Check",
    "CheckResult",
    "Outcome",
    "RunContext",
    "RELATIONS",
    "SCALES",
    "TAGS",
    "INTERVALS",
    "verdict",
    "worst_case",
    "checkpoints",
    "register",
    "checks",
    "get_check",
    "select",
    "load_modules",
    "load_errors",
    "LoadError",
]

SCALES = ("quick", "full")

#: How a measured figure is compared with the theorem's figure, with tolerance ``tol``:
#:
#: * ``"<="`` a bound: the upper end of the interval is at most ``expected + tol``;
#: * ``">="`` a lower bound: the lower end of the interval is at least ``expected - tol``;
#: * ``"=="`` an exact rate: the interval meets ``[expected - tol, expected + tol]``.
RELATIONS = ("<=", ">=", "==")

#: The provenance tags (module docstring): what kind of claim a check tests.
TAGS = {
    "V": "verified: theorem, constant and conditions read in the paper",
    "A": "abstract-level: the statement was read, constants and conditions not re-read; the form is tested",
    "R": "recalled standard result or exact derivation (textbook theorem, or an identity derived from the update)",
    "U": "unverified reconstruction or recalled constant: the form is tested with honest slack",
}

#: What the interval beside a measured figure is. A worst case over instances is not a
#: statement about a mean, so its interval is the range over instances, not a confidence
#: interval; a deterministic quantity's interval is the point itself.
INTERVALS = {
    "ci": "confidence interval",
    "range": "range over instances",
    "exact": "exact (deterministic, no interval)",
}

#: Largest seed a check accepts: the store keeps seeds in SQLite's signed 64-bit integers.
MAX_SEED = 2**63 - 1


def verdict(measured: float, ci: tuple[float, float], expected: float, relation: str, tol: float) -> bool:
    """Whether a measured figure with interval ``ci`` satisfies the theorem's figure."""
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


# ---------------------------------------------------------------------------------------------
# what a check body receives and returns
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunContext:
    """What a check body receives: the scale, its seed and where its sweeps go.

    ``seed`` is the root of the check's ``SeedSequence`` tree; sweeps spawn one child per run.
    ``store`` is a :class:`labkit.store.ResultStore` or ``None``; ``backend`` names a sweep
    backend (``"serial"``, ``"process"``, ``"dask"``); ``progress`` turns on progress bars;
    ``recompute`` ignores stored runs. ``check`` is the name of the check being run: its
    sweeps are stored under it. Run sweeps with :meth:`sweep`, which forwards all of this.
    """

    scale: str = "quick"
    seed: int = 0
    store: Any = None
    backend: str = "serial"
    progress: bool = False
    check: str = ""
    recompute: bool = False
    n_workers: int | None = None
    client: Any = None
    #: one record per sweep run through :meth:`sweep` (where its runs came from)
    ledger: list = field(default_factory=list, compare=False, repr=False)

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed)

    def pick(self, quick, full):
        """Choose a setting by scale: ``ctx.pick(quick=20, full=200)``."""
        return quick if self.scale == "quick" else full

    def sweep(self, fn: Callable, configs, *, n_seeds: int, experiment: str | None = None) -> pd.DataFrame:
        """:func:`labkit.sweep` with this context's seed, store, backend and progress.

        The runs are stored under ``experiment``, by default the check's own name, so moving
        or renaming ``fn`` does not orphan them (and a code change makes them stale anyway,
        see :mod:`labkit.provenance`). A check that runs two different sweeps names the second
        one (``experiment="my_check.baseline"``); two checks sharing one sweep pass the same
        name. Reusing a name for a different function within one run is an error.
        """
        from labkit.sweep import sweep

        name = experiment if experiment is not None else (self.check or None)
        fn_name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        for rec in self.ledger:
            if rec["experiment"] == name and rec["fn"] != fn_name:
                raise ValueError(
                    f"experiment {name!r} already holds the runs of {rec['fn']}; give the sweep of "
                    f"{fn_name} its own name (experiment='{self.check or 'check'}.<part>')"
                )
        frame = sweep(fn, configs, n_seeds=n_seeds, seed=self.seed, store=self.store, backend=self.backend,
                      progress=self.progress, experiment=name, n_workers=self.n_workers, client=self.client,
                      recompute=self.recompute)
        self.ledger.append(dict(frame.attrs.get("labkit", {}), fn=fn_name, experiment=name))
        return frame


def _real(value, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


@dataclass(frozen=True, eq=False)
class Outcome:
    """What a check body measured, and what the theorem says it should be.

    ``interval`` names what ``ci`` is: a key of :data:`INTERVALS` (``"ci"``, ``"range"``,
    ``"exact"``) or a short phrase (``"90% bootstrap CI over seeds"``). ``extras`` carries
    JSON data the check's figure needs (for example the fit the verdict used), stored with
    the result so that the figure draws what the verdict saw.
    """

    measured: float
    ci: tuple[float, float]
    expected: float
    relation: str
    tol: float
    data: pd.DataFrame
    details: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)
    interval: str = "ci"

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")
        _real(self.measured, "measured")
        _real(self.expected, "expected")
        _real(self.tol, "tol")
        if len(tuple(self.ci)) != 2:
            raise ValueError(f"ci must be a pair (low, high), got {self.ci!r}")
        for v in self.ci:
            _real(v, "ci")
        if not isinstance(self.data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(self.data).__name__}")
        if not isinstance(self.extras, Mapping):
            raise TypeError(f"extras must be a dict of JSON data, got {type(self.extras).__name__}")
        from labkit.store import canonical_json

        canonical_json(self.extras, "extras")  # TypeError naming an entry that is not JSON data
        if not isinstance(self.interval, str) or not self.interval:
            raise TypeError(f"interval must be a non-empty str, got {self.interval!r}")

    @property
    def interval_label(self) -> str:
        return INTERVALS.get(self.interval, self.interval)


def worst_case(values, relation: str, expected: float, tol: float, data: pd.DataFrame, details: str,
               **extras) -> Outcome:
    """Outcome for a claim that must hold on *every* instance.

    The measured figure is the worst instance (the largest value for ``"<="``, the smallest
    for ``">="``) and the interval is the range over instances, labelled so: a bound that holds
    for each instance is not a statement about a mean, so there is no confidence interval.
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("worst_case needs at least one value")
    if relation not in ("<=", ">="):
        raise ValueError(f"worst_case takes relation '<=' or '>=', got {relation!r}")
    if np.isnan(values).all():
        return Outcome(measured=float("nan"), ci=(float("nan"), float("nan")), expected=expected, relation=relation,
                       tol=tol, data=data, details=details, interval="range", extras=extras)
    if np.isnan(values).any():
        worst = float("nan")  # an instance without a measurement fails the verdict
    else:
        worst = values.max() if relation == "<=" else values.min()
    return Outcome(measured=float(worst), ci=(float(np.nanmin(values)), float(np.nanmax(values))),
                   expected=expected, relation=relation, tol=tol, data=data, details=details,
                   interval="range", extras=extras)


def checkpoints(n: int, count: int = 50, *, first: int = 1, dense: int = 0) -> np.ndarray:
    """Log-spaced checkpoints in ``[first, n]``: where to record a curve over ``n`` steps.

    Returns the sorted unique integers of ``geomspace(first, n, count)`` plus ``0 .. dense-1``
    (every early step, where curves change fastest) and ``n`` itself, as an int64 array. Use it
    to record regret or error curves over 10^5+ episodes or iterations without storing every
    step.

    >>> checkpoints(1000, 5).tolist()
    [1, 6, 32, 178, 1000]
    >>> checkpoints(10, 3, dense=3).tolist()
    [0, 1, 2, 3, 10]
    """
    for value, name, low, high in ((n, "n", 1, 10**15), (count, "count", 1, 10**6), (first, "first", 1, 10**15),
                                   (dense, "dense", 0, 10**6)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ValueError(f"{name} must be an int in [{low}, {high:.0e}], got {value!r}")
    if first > n:
        raise ValueError(f"first must be <= n, got first={first}, n={n}")
    grid = np.geomspace(first, n, count) if count > 1 else np.array([n], dtype=float)
    points = np.unique(np.concatenate([np.rint(grid).astype(np.int64), np.arange(min(dense, n + 1)), [n]]))
    return points.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CheckResult:
    """A check's verdict, with the numbers behind it and where they came from.

    ``seconds`` is the wall time of this call; ``compute_seconds`` the compute time of the
    sweep runs behind it, whenever they ran; ``created`` (Unix time) when the oldest of those
    runs was computed, so a result reloaded from the store reports its original run time.
    ``runs_loaded``/``runs_computed`` count the runs read from the store and computed now.
    ``error`` holds the traceback when the check itself raised (the verdict is then a fail).
    """

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
    interval: str = "ci"
    family: str = ""
    code_version: str = ""
    error: str | None = None
    runs_loaded: int = 0
    runs_computed: int = 0
    created: float | None = None
    compute_seconds: float | None = None
    paper: str = ""

    @property
    def interval_label(self) -> str:
        return INTERVALS.get(self.interval, self.interval)

    @property
    def from_store(self) -> bool:
        """Every run behind the verdict was read from the store (none computed now)."""
        return self.runs_loaded > 0 and self.runs_computed == 0

    def to_json(self) -> dict:
        """The JSON record of a result (``name, passed, measured, expected, ci, seconds``) plus context."""

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
            "interval": self.interval,
            "scale": self.scale,
            "seed": int(self.seed),
            "claim": self.claim,
            "tag": self.tag,
            "family": self.family,
            "paper": self.paper,
            "details": self.details,
            "error": self.error,
            "code_version": self.code_version,
            "runs_loaded": int(self.runs_loaded),
            "runs_computed": int(self.runs_computed),
            "created": self.created,
            "compute_seconds": None if self.compute_seconds is None else round(float(self.compute_seconds), 4),
            "extras": dict(self.extras),
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
            data=data, details=record.get("details", ""), extras=dict(record.get("extras") or {}),
            interval=record.get("interval", "ci"), family=record.get("family", ""),
            code_version=record.get("code_version", ""), error=record.get("error"),
            runs_loaded=int(record.get("runs_loaded", 0)), runs_computed=int(record.get("runs_computed", 0)),
            created=record.get("created"), compute_seconds=record.get("compute_seconds"),
            paper=record.get("paper", ""),
        )


# ---------------------------------------------------------------------------------------------
# the check
# ---------------------------------------------------------------------------------------------
def _default_family(name: str) -> str:
    return name.split(".", 1)[0]


@dataclass(frozen=True)
class Check:
    """A theorem as an executable check.

    Attributes
    ----------
    name : str
        Dotted name, ``"<paper or topic>.<claim>"``, e.g. ``"value_iteration.tight_rate"``.
    paper : str
        Authors, year and arXiv id / book reference (with the theorem number).
    claim : str
        One sentence naming the theorem or equation tested.
    tag : str
        Provenance of the claim, one of :data:`TAGS` (``"V"``, ``"A"``, ``"R"``, ``"U"``).
    measure : callable
        ``measure(ctx: RunContext) -> Outcome``.
    plot : callable, optional
        ``plot(result: CheckResult) -> matplotlib.figure.Figure``, drawn from ``result.data``
        and ``result.extras`` only (never refitting what the verdict fitted).
    family : str, optional
        The algorithm family (``"planning"``, ``"nash"``, ...); ``labkit check --family``
        selects by it. Default: the first component of ``name``.
    requires : tuple of str
        Import names of optional packages the check needs (``("torch",)``); without them the
        check is listed as unavailable and skipped, never run.
    install : str
        How to get them, e.g. ``'pip install "rl-theory-lab[torch]"'``.
    cost : (float, float)
        Rough wall seconds at the quick and full scales on a laptop core (shown by
        ``labkit list``).
    url : str
        A link to the paper (for the report).
    """

    name: str
    paper: str
    claim: str
    tag: str
    measure: Callable[[RunContext], Outcome]
    plot: Callable[[CheckResult], Any] | None = None
    family: str = ""
    requires: tuple[str, ...] = ()
    install: str = ""
    cost: tuple[float, float] = (float("nan"), float("nan"))
    url: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise ValueError(f"name must be a non-empty dotted str, got {self.name!r}")
        if self.tag not in TAGS:
            raise ValueError(f"tag must be one of {sorted(TAGS)} (see labkit.check.TAGS), got {self.tag!r}")
        if not callable(self.measure):
            raise TypeError(f"measure must be callable measure(ctx) -> Outcome, got {type(self.measure).__name__}")
        if self.plot is not None and not callable(self.plot):
            raise TypeError(f"plot must be callable plot(result) -> Figure or None, got {type(self.plot).__name__}")
        if isinstance(self.requires, str):
            object.__setattr__(self, "requires", (self.requires,))
        object.__setattr__(self, "requires", tuple(self.requires))
        if not self.family:
            object.__setattr__(self, "family", _default_family(self.name))

    def missing(self) -> list[str]:
        """The optional packages in ``requires`` that cannot be imported here."""
        out = []
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                out.append(module)
        return out

    @property
    def available(self) -> bool:
        return not self.missing()

    def unavailable_reason(self) -> str:
        """Why the check cannot run here ('' when it can)."""
        missing = self.missing()
        if not missing:
            return ""
        hint = f"; install with: {self.install}" if self.install else ""
        return f"needs {', '.join(missing)}{hint}"

    def run(self, scale: str = "quick", rng: int | None = 0, *, store=None, backend: str = "serial",
            progress: bool = False, recompute: bool = False, n_workers: int | None = None,
            client=None) -> CheckResult:
        """Run the check and return its verdict. ``rng`` is the root seed (an int in [0, 2**63)).

        Raises ``RuntimeError`` when an optional package it ``requires`` is missing, and
        :class:`labkit.store.StoreError` when the store fails; any other exception raised by
        the check's body becomes a failed verdict whose ``error`` holds the traceback.
        """
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        seed = 0 if rng is None else rng
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"rng must be an integer seed in [0, 2**63 - 1] for a check, got {rng!r}")
        if not self.available:
            raise RuntimeError(f"check {self.name!r} is unavailable: {self.unavailable_reason()}")
        from labkit.provenance import code_version
        from labkit.store import StoreError

        ctx = RunContext(scale=scale, seed=int(seed), store=store, backend=backend, progress=progress,
                         check=self.name, recompute=recompute, n_workers=n_workers, client=client)
        t0 = time.perf_counter()
        error = None
        try:
            out = self.measure(ctx)
            if not isinstance(out, Outcome):
                raise TypeError(f"check {self.name!r} returned {type(out).__name__}, expected Outcome")
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken check is a failed verdict, not a crash
            error = "".join(traceback.format_exception(exc)).rstrip()
            out = None
        seconds = time.perf_counter() - t0
        ledger = ctx.ledger
        created = [rec["created"] for rec in ledger if rec.get("created") is not None]
        common = dict(
            name=self.name, seconds=seconds, scale=scale, seed=int(seed), claim=self.claim, tag=self.tag,
            family=self.family, paper=self.paper, code_version=code_version(self.measure),
            runs_loaded=sum(int(rec.get("loaded", 0)) for rec in ledger),
            runs_computed=sum(int(rec.get("computed", 0)) for rec in ledger),
            created=min(created) if created else time.time(),
            compute_seconds=float(sum(rec.get("compute_seconds", 0.0) for rec in ledger)) if ledger else seconds,
        )
        if out is None:
            last = error.splitlines()[-1] if error else "unknown error"
            return CheckResult(passed=False, measured=float("nan"), ci=(float("nan"), float("nan")),
                               expected=float("nan"), relation="==", tol=float("nan"), data=pd.DataFrame(),
                               details=f"the check raised {last}", error=error, interval="exact", **common)
        passed = verdict(out.measured, out.ci, out.expected, out.relation, out.tol)
        return CheckResult(
            passed=passed, measured=float(out.measured), ci=(float(out.ci[0]), float(out.ci[1])),
            expected=float(out.expected), relation=out.relation, tol=float(out.tol), data=out.data,
            details=out.details, extras=dict(out.extras), interval=out.interval, **common,
        )


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadError:
    """A plugin (entry point) or check module that failed to load; its checks are skipped."""

    source: str
    error: str

    def __str__(self) -> str:
        return f"{self.source}: {self.error}"


_REGISTRY: dict[str, Check] = {}
_LOAD_ERRORS: list[LoadError] = []
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


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def load_modules(names: Iterable[str]) -> list[LoadError]:
    """Import each check module; one that fails is recorded (:func:`load_errors`) and skipped.

    A module that fails half way leaves none of its checks registered.
    """
    errors = []
    for name in names:
        before = set(_REGISTRY)
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - reported by name, the others still load
            for added in set(_REGISTRY) - before:
                del _REGISTRY[added]
            err = LoadError(f"module {name}", _describe(exc))
            _LOAD_ERRORS.append(err)
            errors.append(err)
    return errors


def _load_plugins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for ep in entry_points(group="labkit.checks"):
        source = f"plugin {ep.name!r} ({ep.value})"
        before = set(_REGISTRY)
        try:
            hook = ep.load()
            if not callable(hook):
                raise TypeError(f"the entry point is a {type(hook).__name__}, expected a function register()")
            hook()
        except Exception as exc:  # noqa: BLE001 - reported by name, the other plugins still load
            for added in set(_REGISTRY) - before:
                del _REGISTRY[added]
            _LOAD_ERRORS.append(LoadError(source, _describe(exc)))


def load_errors() -> list[LoadError]:
    """Plugins and check modules that failed to load (their checks are not registered)."""
    _load_plugins()
    return list(_LOAD_ERRORS)


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


def select(patterns: Iterable[str] = (), *, families: Iterable[str] = ()) -> list[Check]:
    """Checks whose name matches any of ``patterns`` (exact names or shell-style globs such as
    ``"nash_md.*"``) and whose family is in ``families`` (all families when empty).

    Raises ``KeyError`` for a pattern or family that matches nothing.
    """
    registry = checks()
    patterns, families = list(patterns), list(families)
    known = {c.family for c in registry.values()}
    for fam in families:
        if fam not in known:
            raise KeyError(f"unknown family {fam!r}; families: {sorted(known)}")
    pool = [c for c in registry.values() if not families or c.family in families]
    if not patterns:
        return pool
    chosen: dict[str, Check] = {}
    for pat in patterns:
        if any(ch in pat for ch in "*?["):
            hits = [c for c in pool if fnmatch.fnmatchcase(c.name, pat)]
            if not hits:
                raise KeyError(f"no check matches {pat!r}; run `labkit list` to see them")
        else:
            if pat not in registry:
                get_check(pat)  # KeyError with a hint
            hits = [c for c in pool if c.name == pat]
            if not hits:
                raise KeyError(f"check {pat!r} is not in the families {families}")
        for c in hits:
            chosen[c.name] = c
    return list(chosen.values())
