"""The lab's result store: one embedded SQLite file, no server.

Layout
------
``ResultStore(path)`` opens (or creates) an SQLite database, by default
``lab_dir() / "store.sqlite"``, where :func:`lab_dir` is ``$LABKIT_DIR`` or ``./lab_results``.
The file is marked as a labkit store with SQLite's ``application_id`` header field and carries
a schema version in ``user_version``; any other file at the path is refused with a clear error
instead of being written into. It holds two tables:

``runs``
    One row per finished run of a sweep: ``key`` (primary key), ``experiment``, ``config``
    (canonical JSON), ``replicate``, ``code_version`` (:func:`labkit.provenance.code_version`
    of the code that computed it), ``format`` and ``payload`` (the run's tidy DataFrame as
    Parquet bytes), ``created`` (Unix time) and ``seconds`` (the run's compute time).
``checks``
    One row per ``(name, scale, seed, code_version)`` of a check run: ``summary`` (JSON) and
    ``payload`` (the check's raw DataFrame as Parquet bytes). Re-running a check under the
    same code replaces its row; :meth:`ResultStore.latest_check` returns the most recently
    written row of a check (of one code version, if asked).

Keys
----
A run's key is the SHA-256 (hex) of the canonical JSON of
``{"code_version", "config", "entropy", "experiment", "spawn_key"}``: the code version, the
run's config, the entropy and spawn key of the run's ``SeedSequence`` (see
:mod:`labkit.seeding`) and the experiment's name. A run computed by other code has another
key, so it is never returned as current; old versions stay until pruned
(:meth:`ResultStore.prune`, ``labkit store prune``).
Canonical JSON sorts keys, uses no whitespace, and converts NumPy scalars and arrays to
Python numbers and lists, so ``{"a": 1, "b": np.int64(2)}`` and ``{"b": 2, "a": 1}`` have the
same key. It does *not* identify ``1`` with ``1.0`` or ``True`` (different JSON), and a tuple
is stored as the list it equals. Config values must be JSON data (``None``, bool, int, float,
str, lists and str-keyed dicts of them, NumPy scalars/arrays); anything else is a
``TypeError`` naming the offending entry, because a key that depended on ``repr`` would not be
stable across sessions.

Guarantees
----------
* Every write is one SQLite transaction (``BEGIN IMMEDIATE ... COMMIT``): a process killed
  at any moment leaves each run either fully stored or absent, never half-written.
* ``put`` is ``INSERT OR IGNORE``: a key is stored at most once; a second ``put`` of the same
  key keeps the first payload and returns ``False`` (``replace=True`` overwrites, for a forced
  recomputation or a damaged payload).
* Schema version 1 stores (before code versions) are migrated in place on first open: their
  rows get the code version ``"unknown"``, which matches no code, so they are never returned
  as current and ``labkit store prune`` removes them.
* The journal is in WAL mode (readers never block the writer nor see a partial write) with
  ``synchronous=FULL`` (a committed run survives an OS crash, not only a killed process).
  Lock waits time out after ``timeout`` seconds with a :class:`StoreError`.
* Each operation opens its own short-lived connection, so a ``ResultStore`` object is cheap,
  picklable and safe to use from any thread; :func:`labkit.sweep.sweep` nevertheless writes
  only from the parent process. WAL needs a local file system (not NFS).

Payloads are Parquet (via ``pyarrow``), chosen over pickle for portability across Python,
pandas and library versions and for being readable by other tools; pandas' Parquet metadata
restores the dtypes (int, float, bool, str, categorical, datetime) and the index. Parquet
needs string column names.

Examples
--------
>>> import numpy as np, pandas as pd, tempfile, os
>>> from labkit.store import ResultStore
>>> store = ResultStore(os.path.join(tempfile.mkdtemp(), "store.sqlite"))
>>> key = ResultStore.key("demo", {"n": 3}, np.random.SeedSequence(0), code_version="v1")
>>> store.put(key, "demo", {"n": 3}, 0, pd.DataFrame({"x": [1.0, 2.0]}), code_version="v1")
True
>>> store.get(key)["x"].tolist()
[1.0, 2.0]
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ResultStore", "StoreError", "lab_dir", "canonical_json", "encode_frame", "decode_frame"]

#: ``PRAGMA application_id`` of a labkit store (ASCII "LBKT").
APPLICATION_ID = 0x4C424B54
#: ``PRAGMA user_version``: the schema version this module writes.
SCHEMA_VERSION = 2
PAYLOAD_FORMAT = "parquet"
#: Code version given to rows of a schema-1 store, which predate code versions.
UNKNOWN_VERSION = "unknown"
#: SQLite integers are signed 64-bit: seeds must lie in [0, MAX_SEED].
MAX_SEED = 2**63 - 1

_CHECKS_TABLE = """
CREATE TABLE {if_not_exists}checks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    scale        TEXT NOT NULL,
    seed         INTEGER NOT NULL,
    summary      TEXT NOT NULL,
    format       TEXT NOT NULL,
    payload      BLOB NOT NULL,
    created      REAL NOT NULL,
    code_version TEXT NOT NULL DEFAULT 'unknown',
    UNIQUE (name, scale, seed, code_version)
)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key          TEXT PRIMARY KEY,
    experiment   TEXT NOT NULL,
    config       TEXT NOT NULL,
    replicate    INTEGER NOT NULL,
    format       TEXT NOT NULL,
    payload      BLOB NOT NULL,
    created      REAL NOT NULL,
    code_version TEXT NOT NULL DEFAULT 'unknown',
    seconds      REAL
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment);
""" + _CHECKS_TABLE.format(if_not_exists="IF NOT EXISTS ") + ";\n"

#: Schema 1 -> 2: code versions and run times; the checks table is rebuilt for its new key.
_MIGRATE_1_2 = """
ALTER TABLE runs ADD COLUMN code_version TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE runs ADD COLUMN seconds REAL;
ALTER TABLE checks RENAME TO checks_v1;
""" + _CHECKS_TABLE.format(if_not_exists="") + """;
INSERT INTO checks (name, scale, seed, summary, format, payload, created)
    SELECT name, scale, seed, summary, format, payload, created FROM checks_v1 ORDER BY id;
DROP TABLE checks_v1
"""


class StoreError(RuntimeError):
    """A result store could not be read or written (locked too long, corrupt, newer schema)."""


def lab_dir() -> Path:
    """The lab directory: ``$LABKIT_DIR`` if set, else ``./lab_results``; created if missing."""
    env = os.environ.get("LABKIT_DIR")
    path = Path(env).expanduser() if env else Path.cwd() / "lab_results"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# canonical JSON
# ---------------------------------------------------------------------------------------------
def _jsonable(value, where: str):
    """``value`` as plain JSON data (dict/list/str/int/float/bool/None), or TypeError naming ``where``."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(
                f"{where} is a numpy array of dtype {value.dtype}, which has no canonical JSON form; "
                "use numbers, strings, lists or dicts"
            )
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value.tolist())]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if isinstance(k, np.str_):
                k = str(k)
            if not isinstance(k, str):
                raise TypeError(
                    f"{where} has a key {k!r} of type {type(k).__name__}; keys must be str so that "
                    "the canonical JSON (and so the run key) is unambiguous"
                )
            out[k] = _jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{where} = {value!r} has type {type(value).__name__}, which is not JSON data; the store keys "
        "runs by the canonical JSON of their config, so config values must be None, bool, int, "
        "float, str, numpy scalars/arrays, or lists and str-keyed dicts of them"
    )


def canonical_json(value, name: str = "config") -> str:
    """Canonical JSON text of ``value``: sorted keys, no whitespace, NumPy scalars converted.

    Raises ``TypeError`` naming the entry (``config['eta']``, ``config['sizes'][2]``) that is
    not JSON data. NaN and infinities are written as ``NaN``/``Infinity`` (Python's JSON).
    """
    plain = _jsonable(value, name)
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def _config_json(config) -> str:
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict (mapping of str to JSON data), got {type(config).__name__}")
    return canonical_json(config, "config")


# ---------------------------------------------------------------------------------------------
# payloads
# ---------------------------------------------------------------------------------------------
def _require_pyarrow():
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the result store writes payloads as Parquet and needs pyarrow: pip install pyarrow"
        ) from exc


def encode_frame(frame: pd.DataFrame, what: str = "frame") -> bytes:
    """A DataFrame as Parquet bytes (pyarrow, pandas metadata kept so dtypes round-trip)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    bad = [c for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise TypeError(
            f"{what} has non-string column names {bad[:5]!r}; the store writes Parquet, which needs "
            "string column names"
        )
    _require_pyarrow()
    import pyarrow as pa

    buf = io.BytesIO()
    try:
        frame.to_parquet(buf, engine="pyarrow", index=True)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise TypeError(
            f"{what} cannot be stored as Parquet ({type(exc).__name__}: {exc}); keep columns to one "
            "type each (numbers, strings, bools, datetimes, categoricals)"
        ) from exc
    return buf.getvalue()


def decode_frame(payload: bytes) -> pd.DataFrame:
    """The DataFrame from :func:`encode_frame` bytes."""
    _require_pyarrow()
    return pd.read_parquet(io.BytesIO(payload), engine="pyarrow")


# ---------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------
class _InitRace(Exception):
    """Internal: a concurrent initialiser held the lock SQLite would not wait for; retry."""


class ResultStore:
    """An embedded SQLite store of sweep runs and check results (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike, optional
        The database file; default ``lab_dir() / "store.sqlite"``. Parent directories are
        created. An existing file that is not a labkit store is refused (``ValueError``).
    timeout : float, default 30.0
        Seconds to wait for another writer's lock before raising :class:`StoreError`.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 30.0):
        if path is None:
            path = lab_dir() / "store.sqlite"
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.path = Path(path).expanduser().resolve()
        self.timeout = float(timeout)
        if self.path.is_dir():
            raise ValueError(
                f"path {str(self.path)!r} is a directory; pass the database file, e.g. "
                f"{str(self.path / 'store.sqlite')!r}"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._open()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    def __getstate__(self):
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state):
        self.path = state["path"]
        self.timeout = state["timeout"]

    # -- connections ---------------------------------------------------------------------------
    def _raw_connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        try:
            con.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError:
            con.close()
            raise
        return con

    @contextlib.contextmanager
    def _connect(self):
        """A short-lived connection; SQLite errors become :class:`StoreError` naming the file."""
        try:
            con = self._raw_connect()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the result store {str(self.path)!r}: {exc}") from exc
        try:
            yield con
        except sqlite3.OperationalError as exc:
            hint = (f" (another process held the lock for more than timeout={self.timeout} s)"
                    if "locked" in str(exc) or "busy" in str(exc) else "")
            raise StoreError(f"result store {str(self.path)!r}: {exc}{hint}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"result store {str(self.path)!r} is damaged or unreadable: {exc}"
            ) from exc
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self):
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _open(self) -> None:
        """Check that the file is a labkit store (or empty) and create the schema if needed.

        Two processes initialising one new file at once can deadlock in SQLite's switch to WAL
        (both hold a shared lock and want the exclusive one; SQLite then fails one of them at
        once, without waiting): the loser retries after a short random pause, within ``timeout``.
        """
        deadline = time.monotonic() + self.timeout
        pause = random.Random()
        while True:
            try:
                return self._open_once()
            except _InitRace as race:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot initialise the result store {str(self.path)!r}: {race.__cause__}"
                    ) from race.__cause__
                time.sleep(pause.uniform(0.001, 0.02))

    def _open_once(self) -> None:
        where = str(self.path)
        try:
            con = self._raw_connect()
        except sqlite3.OperationalError as exc:  # permissions, missing directory, locked
            raise ValueError(f"path {where!r} cannot be opened as a result store: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            raise ValueError(
                f"path {where!r} is not a labkit result store: SQLite cannot read it ({exc}); "
                "move the file away or pass another path"
            ) from exc
        try:
            try:
                # one read transaction: the header and the table list come from the same snapshot,
                # so a concurrent initialiser is seen either wholly or not at all
                con.execute("BEGIN")
                try:
                    app_id = con.execute("PRAGMA application_id").fetchone()[0]
                    version = con.execute("PRAGMA user_version").fetchone()[0]
                    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                finally:
                    con.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # locked beyond the timeout
                raise StoreError(f"cannot read the result store {where!r}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise ValueError(
                    f"path {where!r} is not a labkit result store: SQLite cannot read it ({exc}); "
                    "move the file away or pass another path"
                ) from exc
            if app_id == APPLICATION_ID:
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"result store {where!r} has schema version {version}, newer than this labkit "
                        f"understands ({SCHEMA_VERSION}); upgrade labkit, or point LABKIT_DIR elsewhere"
                    )
                if version < SCHEMA_VERSION:
                    self._migrate(con, version)
                return
            if app_id != 0 or tables:
                raise ValueError(
                    f"path {where!r} is an SQLite database but not a labkit result store "
                    f"(application_id={app_id:#x}, tables={sorted(tables)}); refusing to write into it"
                )
            # an empty database (new or zero-length file): initialise it, racing safely with others
            try:
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"result store {where!r}: cannot enable WAL journal (got {mode!r})")
                con.execute("BEGIN IMMEDIATE")
                if con.execute("PRAGMA application_id").fetchone()[0] == 0:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            con.execute(statement)
                    con.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                con.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                if "locked" in str(exc) or "busy" in str(exc):
                    raise _InitRace() from exc
                raise StoreError(f"cannot initialise the result store {where!r}: {exc}") from exc
        finally:
            con.close()

    def _migrate(self, con: sqlite3.Connection, version: int) -> None:
        """Upgrade an older labkit store in place, in one transaction (racing safely)."""
        try:
            con.execute("BEGIN IMMEDIATE")
            current = con.execute("PRAGMA user_version").fetchone()[0]
            if current == 1:
                for statement in _MIGRATE_1_2.split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif current < SCHEMA_VERSION:
                raise StoreError(f"result store {str(self.path)!r} has unknown schema version {current}")
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise StoreError(f"cannot upgrade the result store {str(self.path)!r} from schema {version}: {exc}") from exc

    # -- keys ------------------------------------------------------------------------------------
    @staticmethod
    def key(experiment: str, config: Mapping, seed_seq: np.random.SeedSequence, *,
            code_version: str = "") -> str:
        """SHA-256 hex of the canonical JSON of (code version, config, seed entropy and spawn
        key, experiment).

        ``seed_seq`` is the run's own ``SeedSequence`` (e.g. ``labkit.seeding.run_seed(root, r)``);
        ``code_version`` the :func:`labkit.provenance.code_version` of the code computing it.
        Raises ``TypeError`` naming the config entry that is not JSON data.
        """
        if not isinstance(experiment, str) or not experiment:
            raise TypeError(f"experiment must be a non-empty str, got {experiment!r}")
        if not isinstance(code_version, str):
            raise TypeError(f"code_version must be a str, got {type(code_version).__name__}")
        if not isinstance(seed_seq, np.random.SeedSequence):
            raise TypeError(
                f"seed_seq must be a numpy.random.SeedSequence (the run's child seed), got "
                f"{type(seed_seq).__name__}"
            )
        entropy = seed_seq.entropy
        entropy = int(entropy) if isinstance(entropy, (int, np.integer)) else [int(e) for e in entropy]
        config_json = _config_json(config)
        text = (
            '{"code_version":' + json.dumps(code_version)
            + ',"config":' + config_json
            + ',"entropy":' + json.dumps(entropy)
            + ',"experiment":' + json.dumps(experiment, ensure_ascii=False)
            + ',"spawn_key":' + json.dumps([int(k) for k in seed_seq.spawn_key]) + "}"
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # -- runs ------------------------------------------------------------------------------------
    @staticmethod
    def _check_key(key) -> str:
        if not isinstance(key, str) or not key:
            raise TypeError(f"key must be a non-empty str, got {key!r}")
        return key

    @staticmethod
    def _check_experiment(experiment) -> str:
        if not isinstance(experiment, str) or not experiment:
            raise TypeError(f"experiment must be a non-empty str, got {experiment!r}")
        return experiment

    def put(self, key: str, experiment: str, config: Mapping, replicate: int, frame: pd.DataFrame, *,
            code_version: str = "", seconds: float | None = None, replace: bool = False) -> bool:
        """Store one run in a single transaction; ``False`` if ``key`` was already stored (kept).

        ``code_version`` labels the code that computed the run (it should be the one hashed
        into ``key``), ``seconds`` its compute time; ``replace=True`` overwrites a stored run.
        """
        payload = encode_frame(frame, "frame")
        return self._put_encoded(key, experiment, _config_json(config), replicate, payload,
                                 code_version=code_version, seconds=seconds, replace=replace)

    def _put_encoded(self, key: str, experiment: str, config_json: str, replicate: int, payload: bytes, *,
                     code_version: str = "", seconds: float | None = None, replace: bool = False) -> bool:
        self._check_key(key)
        self._check_experiment(experiment)
        if isinstance(replicate, (bool, np.bool_)) or not isinstance(replicate, (int, np.integer)) or replicate < 0:
            raise ValueError(f"replicate must be an int >= 0, got {replicate!r}")
        if not isinstance(code_version, str):
            raise TypeError(f"code_version must be a str, got {type(code_version).__name__}")
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._transaction() as con:
            cur = con.execute(
                f"{verb} INTO runs (key, experiment, config, replicate, format, payload, created, "
                "code_version, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, experiment, config_json, int(replicate), PAYLOAD_FORMAT, sqlite3.Binary(payload), time.time(),
                 code_version, None if seconds is None else float(seconds)),
            )
            return cur.rowcount == 1

    def _decode(self, key: str, fmt: str, payload: bytes) -> pd.DataFrame:
        if fmt != PAYLOAD_FORMAT:
            raise StoreError(f"record {key!r} in {str(self.path)!r} has unknown payload format {fmt!r}")
        try:
            return decode_frame(bytes(payload))
        except Exception as exc:  # noqa: BLE001 - any decoder failure means a damaged payload
            raise StoreError(f"record {key!r} in {str(self.path)!r} has an unreadable payload: {exc}") from exc

    def get(self, key: str) -> pd.DataFrame | None:
        """The stored frame of ``key``, or ``None`` if absent."""
        self._check_key(key)
        with self._connect() as con:
            row = con.execute("SELECT format, payload FROM runs WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._decode(key, row[0], row[1])

    def _get_payloads(self, keys: Iterable[str]) -> dict[str, tuple[str, bytes, float, float | None]]:
        """``key -> (format, payload, created, seconds)`` for those ``keys`` that are stored
        (one connection, chunked)."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, tuple[str, bytes, float, float | None]] = {}
        with self._connect() as con:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for key, fmt, payload, created, seconds in con.execute(
                        f"SELECT key, format, payload, created, seconds FROM runs WHERE key IN ({marks})", chunk):
                    out[key] = (fmt, bytes(payload), float(created), seconds)
        return out

    def has(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        self._check_key(key)
        with self._connect() as con:
            return con.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() is not None

    def keys(self, experiment: str) -> set[str]:
        """The keys stored for ``experiment``."""
        self._check_experiment(experiment)
        with self._connect() as con:
            return {r[0] for r in con.execute("SELECT key FROM runs WHERE experiment = ?", (experiment,))}

    def count(self, experiment: str) -> int:
        """Number of runs stored for ``experiment``."""
        self._check_experiment(experiment)
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM runs WHERE experiment = ?", (experiment,)).fetchone()[0])

    def experiments(self) -> list[str]:
        """The experiment names with stored runs, sorted."""
        with self._connect() as con:
            return [r[0] for r in con.execute("SELECT DISTINCT experiment FROM runs ORDER BY experiment")]

    def load(self, experiment: str) -> pd.DataFrame:
        """All stored frames of ``experiment``, concatenated (empty DataFrame if none).

        Ordered by (canonical config JSON, replicate, key), a deterministic order independent of
        when the runs finished. A sweep returns its own (config, replicate) order; re-running
        the sweep with the same store loads instead of recomputing.
        """
        self._check_experiment(experiment)
        with self._connect() as con:
            rows = con.execute(
                "SELECT key, format, payload FROM runs WHERE experiment = ? ORDER BY config, replicate, key",
                (experiment,),
            ).fetchall()
        frames = [self._decode(k, f, p) for k, f, p in rows]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def delete(self, experiment: str) -> int:
        """Delete every run of ``experiment``; returns how many were deleted."""
        self._check_experiment(experiment)
        with self._transaction() as con:
            return con.execute("DELETE FROM runs WHERE experiment = ?", (experiment,)).rowcount

    # -- maintenance -----------------------------------------------------------------------------
    def inventory(self) -> pd.DataFrame:
        """What is stored, by kind, name and code version.

        Returns a frame with columns ``kind`` (``"runs"`` of a sweep experiment or ``"check"``
        results), ``name``, ``code_version``, ``count``, ``first`` and ``last`` (Unix times of
        the oldest and newest row), sorted by kind, name and ``last``.
        """
        with self._connect() as con:
            rows = con.execute(
                "SELECT 'runs', experiment, code_version, COUNT(*), MIN(created), MAX(created) FROM runs "
                "GROUP BY experiment, code_version "
                "UNION ALL SELECT 'check', name, code_version, COUNT(*), MIN(created), MAX(created) FROM checks "
                "GROUP BY name, code_version ORDER BY 1, 2, 6"
            ).fetchall()
        return pd.DataFrame(rows, columns=["kind", "name", "code_version", "count", "first", "last"])

    def prune(self, keep: Iterable[str], *, dry_run: bool = False) -> dict[str, int]:
        """Delete every run and check result whose code version is not in ``keep``.

        Returns ``{"runs": n, "checks": m}``, the rows deleted (or that would be, with
        ``dry_run``). The file shrinks on the next ``VACUUM`` (``labkit store prune`` runs it).
        """
        keep = sorted({str(v) for v in keep})
        marks = ",".join("?" * len(keep)) or "NULL"
        where = f"code_version NOT IN ({marks})"
        if dry_run:
            with self._connect() as con:
                return {t: int(con.execute(f"SELECT COUNT(*) FROM {t} WHERE {where}", keep).fetchone()[0])
                        for t in ("runs", "checks")}
        with self._transaction() as con:
            out = {t: con.execute(f"DELETE FROM {t} WHERE {where}", keep).rowcount for t in ("runs", "checks")}
        return out

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system."""
        with self._connect() as con:
            con.execute("VACUUM")

    def evict(self, key: str) -> int:
        """Delete one record: a run by its key, or a check result by ``"check:<id>"``.

        Returns the number of rows deleted (0 or 1). This is how a damaged record that cannot
        be decoded is removed (see :meth:`verify`).
        """
        self._check_key(key)
        with self._transaction() as con:
            if key.startswith("check:"):
                try:
                    row_id = int(key.split(":", 1)[1])
                except ValueError:
                    raise ValueError(f"key {key!r}: a check record is 'check:<id>' with an integer id") from None
                return con.execute("DELETE FROM checks WHERE id = ?", (row_id,)).rowcount
            return con.execute("DELETE FROM runs WHERE key = ?", (key,)).rowcount

    def verify(self) -> list[tuple[str, str, str]]:
        """Decode every payload; ``[(key, name, error), ...]`` for the unreadable ones.

        Run keys are returned as they are, check results as ``"check:<id>"``, ready for
        :meth:`evict`.
        """
        bad = []
        with self._connect() as con:
            runs = con.execute("SELECT key, experiment, format, payload FROM runs").fetchall()
            checks = con.execute("SELECT id, name, format, payload, summary FROM checks").fetchall()
        for key, name, fmt, payload in runs:
            try:
                self._decode(key, fmt, payload)
            except StoreError as exc:
                bad.append((key, name, str(exc)))
        for row_id, name, fmt, payload, summary in checks:
            try:
                self._decode(f"check {name}", fmt, payload)
                json.loads(summary)
            except (StoreError, ValueError) as exc:
                bad.append((f"check:{row_id}", name, str(exc)))
        return bad

    # -- checks ----------------------------------------------------------------------------------
    @staticmethod
    def _check_check_id(name, scale, seed):
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        if not isinstance(scale, str) or not scale:
            raise TypeError(f"scale must be a non-empty str, got {scale!r}")
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must lie in [0, 2**63 - 1] (SQLite's integer range), got {seed}")
        return name, scale, int(seed)

    def put_check(self, name: str, scale: str, seed: int, summary: Mapping, frame: pd.DataFrame, *,
                  code_version: str = "") -> None:
        """Store (or replace) the result of check ``name`` at ``scale`` and ``seed`` computed by
        code ``code_version``.

        ``summary`` is a JSON-able dict (NumPy scalars converted; NaN allowed), ``frame`` the
        check's raw data.
        """
        name, scale, seed = self._check_check_id(name, scale, seed)
        if not isinstance(summary, Mapping):
            raise TypeError(f"summary must be a dict, got {type(summary).__name__}")
        summary_json = canonical_json(summary, "summary")
        payload = encode_frame(frame, "frame")
        with self._transaction() as con:
            # DELETE + INSERT (not INSERT OR REPLACE into the same id) so the row gets a fresh,
            # larger id and latest_check() sees it as the most recent.
            con.execute("DELETE FROM checks WHERE name = ? AND scale = ? AND seed = ? AND code_version = ?",
                        (name, scale, seed, code_version))
            con.execute(
                "INSERT INTO checks (name, scale, seed, summary, format, payload, created, code_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, scale, seed, summary_json, PAYLOAD_FORMAT, sqlite3.Binary(payload), time.time(), code_version),
            )

    def _check_row(self, row):
        if row is None:
            return None
        name, summary_json, fmt, payload = row
        try:
            summary = json.loads(summary_json)
        except ValueError as exc:
            raise StoreError(f"check {name!r} in {str(self.path)!r} has an unreadable summary: {exc}") from exc
        return summary, self._decode(f"check {name}", fmt, payload)

    def get_check(self, name: str, scale: str, seed: int, *, code_version: str | None = None
                  ) -> tuple[dict, pd.DataFrame] | None:
        """``(summary, frame)`` of check ``name`` at ``scale`` and ``seed``, or ``None``.

        With ``code_version``, only a result computed by that code; without, the most recent
        one of any code (the summary's ``code_version`` says which).
        """
        name, scale, seed = self._check_check_id(name, scale, seed)
        sql = "SELECT name, summary, format, payload FROM checks WHERE name = ? AND scale = ? AND seed = ?"
        args: tuple = (name, scale, seed)
        if code_version is not None:
            sql, args = sql + " AND code_version = ?", args + (code_version,)
        with self._connect() as con:
            row = con.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._check_row(row)

    def latest_check(self, name: str, *, code_version: str | None = None) -> tuple[dict, pd.DataFrame] | None:
        """``(summary, frame)`` of the most recently stored result of check ``name`` (any
        scale/seed; of one code version if given)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        sql, args = "SELECT name, summary, format, payload FROM checks WHERE name = ?", (name,)
        if code_version is not None:
            sql, args = sql + " AND code_version = ?", args + (code_version,)
        with self._connect() as con:
            row = con.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._check_row(row)

