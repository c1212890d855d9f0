"""Sweeps: run ``fn(config, rng)`` over a grid of configs x replicates, on any backend.

The runner is a small function, not an experiment manager::

    sweep(fn, configs, n_seeds=..., seed=0, backend="serial" | "process" | "dask", store=...)

Every run ``(config, r)`` gets ``rng = numpy.random.default_rng(run_seed(seed, r))``, the
child of replicate ``r`` of the experiment's root seed (:mod:`labkit.seeding`). The seed of a
run is a function of ``(seed, r)`` only, so the output does not depend on the backend, the
number of workers, the order in which runs finish, or on which runs came from the store.
Replicate ``r`` uses the same stream for every config: the configs are compared under
*common random numbers* (deliberately; see :mod:`labkit.seeding`).

Output
------
``fn`` returns tidy rows: a ``pandas.DataFrame``, a list of dicts, or one dict (one row).
A non-default index of a returned frame is turned into columns; a default one is dropped.
Each run's rows get the config's entries as leading columns (non-scalar values such as lists
appear as their canonical JSON string, so the columns stay hashable and round-trip through the
store), then ``replicate``, then ``fn``'s columns, then ``run_key`` (the run's store key).
The sweep returns the concatenation in (config order, replicate) order with a fresh
``RangeIndex``. Column names of ``fn``'s output must be strings and must not repeat a config
key, ``replicate`` or ``run_key``. A run that returns no rows adds nothing to the output (it
is stored, so it is not recomputed, but it does not upcast the columns it lacks).

Store and resume
----------------
With ``store=`` (a :class:`labkit.store.ResultStore` or a path), runs whose key is already
stored are loaded, not recomputed, and every run that finishes is written to the store at
once, from the parent process, in its own transaction. A sweep killed at any moment loses at
most the runs in flight; calling it again computes only the missing runs and returns the same
DataFrame as an uninterrupted sweep. With a store, every run's frame in the output is the one
decoded from its stored Parquet payload, whether computed now or earlier, so a resumed sweep is
identical to a fresh one bit for bit.

The key of a run hashes the experiment's name, the config and the run's seed
(:meth:`labkit.store.ResultStore.key`). ``experiment`` defaults to
``f"{fn.__module__}.{fn.__qualname__}"``; pass it explicitly when the function may move or is
defined in ``__main__``.

Backends
--------
``"serial"``
    In this process, in (config, replicate) order.
``"process"``
    :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method on every
    platform (``n_workers`` defaults to ``os.cpu_count()``). ``fn`` is sent by reference, so
    it must be importable: a module-level function of an importable module, not a lambda, a
    closure, or a function defined in an interactive session. This is checked up front.
``"dask"``
    :mod:`dask.distributed`: the given ``client``, or a ``LocalCluster(n_workers=...,
    threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)`` started
    for the sweep and closed afterwards. ``fn`` is sent with cloudpickle. To run on an
    existing cluster, pass ``client=connect_scheduler("tcp://HOST:PORT")`` (what ``labkit
    check --backend dask --scheduler ADDRESS`` does): the workers compute, and the store stays
    with the caller, who writes every finished run as it arrives. A worker lost mid-sweep
    costs only the runs of the batch it was computing (runs travel in batches of at most
    ``MAX_BATCH``); the scheduler reruns them elsewhere, and with the
    same seeds they give the same rows.
A backend object
    Anything with ``map_unordered(func, items)`` returning an iterable of ``(index, func(items[index]))``
    pairs in any order (see :class:`SerialBackend`, :class:`ProcessBackend`,
    :class:`DaskBackend`). ``func`` never raises for an error in ``fn``: it returns it.

Errors
------
An exception in ``fn`` stops the sweep with a :class:`RunError` whose message names the
experiment, the config and the replicate (the original exception is its ``__cause__``; for
other processes its traceback text is in the message). Runs that finished before the error
was seen have been stored. A return value of the wrong type is a ``TypeError`` naming the run.

Examples
--------
>>> import numpy as np
>>> from labkit.sweep import expand_grid, sweep
>>> def mean_of_draws(config, rng):
...     return {"mean": float(rng.normal(size=config["n"]).mean())}
>>> df = sweep(mean_of_draws, expand_grid(n=[10, 100]), n_seeds=3, seed=0, experiment="demo")
>>> df[["n", "replicate"]].values.tolist()
[[10, 0], [10, 1], [10, 2], [100, 0], [100, 1], [100, 2]]
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from labkit.provenance import code_version as _code_version
from labkit.seeding import as_seed_sequence, run_seed
from labkit.store import ResultStore, StoreError, canonical_json, decode_frame, encode_frame

__all__ = [
    "expand_grid",
    "sweep",
    "RunError",
    "SerialBackend",
    "ProcessBackend",
    "DaskBackend",
    "connect_scheduler",
    "RESERVED_COLUMNS",
    "StoredRunWarning",
]

RESERVED_COLUMNS = ("replicate", "run_key")


class StoredRunWarning(UserWarning):
    """A stored run could not be read back; it is recomputed and its record replaced."""


class RunError(RuntimeError):
    """A run of a sweep raised; the message names the experiment, config and replicate."""

    def __init__(self, message: str, config: Mapping | None = None, replicate: int | None = None):
        super().__init__(message)
        self.config = config
        self.replicate = replicate

    def __reduce__(self):
        return (type(self), (self.args[0], self.config, self.replicate))


# ---------------------------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------------------------
def expand_grid(**axes: Iterable) -> list[dict]:
    """The cartesian product of the axes, as a list of config dicts.

    The order is deterministic: axes in keyword order, the last axis varying fastest
    (``itertools.product``). ``expand_grid(a=[1, 2], b=["x", "y"])`` is
    ``[{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]``.
    No axes give ``[{}]`` (one empty config); an empty axis gives ``[]``.
    """
    names = list(axes)
    values = []
    for name in names:
        axis = axes[name]
        if isinstance(axis, (str, bytes, Mapping)) or not isinstance(axis, Iterable):
            raise TypeError(
                f"axis {name!r} must be a list (or other iterable) of values, got {type(axis).__name__} "
                f"{axis!r}; wrap a single value in a list"
            )
        values.append(list(axis))
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


# ---------------------------------------------------------------------------------------------
# one run (executed in the worker)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
    fn: Callable
    config: dict
    replicate: int
    seed_seq: np.random.SeedSequence
    key: str
    encode: bool
    #: on a cluster's workers: the caller's code version, which the worker's must equal
    expect_code: str | None = None


def _describe(config: Mapping, replicate: int) -> str:
    return f"config={dict(config)!r}, replicate={replicate}"


def _config_column_value(value):
    """A config value as a cell: scalars as they are, anything else as canonical JSON."""
    if value is None or isinstance(value, (str, bool, int, float, np.generic)):
        return value
    return canonical_json(value, "config value")


def _tidy(out, task: _Task) -> pd.DataFrame:
    """``fn``'s return value as the run's frame (raises TypeError/ValueError naming the run)."""
    run = _describe(task.config, task.replicate)
    if isinstance(out, pd.DataFrame):
        frame = out.copy()
        if list(frame.index.names) != [None] or not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index(drop=list(frame.index.names) == [None])
        else:
            frame = frame.reset_index(drop=True)
    elif isinstance(out, Mapping):
        frame = pd.DataFrame([dict(out)])
    elif isinstance(out, list):
        bad = [i for i, row in enumerate(out) if not isinstance(row, Mapping)]
        if bad:
            raise TypeError(
                f"fn returned a list whose item {bad[0]} is a {type(out[bad[0]]).__name__}, expected "
                f"dicts (one per row) for {run}"
            )
        frame = pd.DataFrame([dict(row) for row in out])
    else:
        raise TypeError(
            f"fn must return a pandas DataFrame, a list of dicts or a dict (tidy rows), got "
            f"{type(out).__name__} for {run}"
        )
    names = list(frame.columns)
    bad_names = [c for c in names if not isinstance(c, str)]
    if bad_names:
        raise TypeError(f"fn returned non-string column names {bad_names[:5]!r} for {run}; use str names")
    clash = [c for c in names if c in task.config or c in RESERVED_COLUMNS]
    if clash:
        raise ValueError(
            f"fn returned columns {clash!r} that clash with the config keys or the reserved columns "
            f"{RESERVED_COLUMNS} for {run}; rename them"
        )
    for pos, (name, value) in enumerate(task.config.items()):
        frame.insert(pos, name, _config_column_value(value))
    frame.insert(len(task.config), "replicate", np.int64(task.replicate))
    frame["run_key"] = task.key
    return frame


def _execute(task: _Task):
    """Run one task; never raises for a failure of ``fn``, returns it instead.

    Returns ``("ok", frame_or_parquet_bytes, seconds)``, ``("bad_output", exc_class_name,
    message)`` or ``("error", exception, traceback_text)``.
    """
    if task.expect_code is not None:
        here = _code_version_here(task.fn)
        if here != task.expect_code:
            from labkit.provenance import short

            return ("error", RuntimeError(
                f"the worker on {_hostname()} runs other code (code version {short(here)}, the caller's "
                f"{short(task.expect_code)}): its runs would be stored as the caller's code's; install the same "
                "checkout and numerical libraries on every worker"), "")
    rng = np.random.default_rng(task.seed_seq)
    t0 = time.perf_counter()
    try:
        out = task.fn(dict(task.config), rng)
    except Exception as exc:  # noqa: BLE001 - reported to the parent with the run named
        tb = traceback.format_exc()
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an unpicklable exception travels as its text
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return ("error", exc, tb)
    try:
        frame = _tidy(out, task)
        payload = encode_frame(frame, f"the output of {_describe(task.config, task.replicate)}") if task.encode else frame
    except (TypeError, ValueError) as exc:
        return ("bad_output", type(exc).__name__, str(exc))
    return ("ok", payload, time.perf_counter() - t0)


_CODE_VERSIONS: dict = {}


def _code_version_here(fn: Callable) -> str:
    """This process's code version for ``fn``, computed once per process (its modules are loaded)."""
    name = (getattr(fn, "__module__", None), getattr(fn, "__qualname__", None))
    if name not in _CODE_VERSIONS:
        _CODE_VERSIONS[name] = _code_version(fn)
    return _CODE_VERSIONS[name]


def _hostname() -> str:
    import socket

    return socket.gethostname()


# ---------------------------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------------------------
class SerialBackend:
    """Runs the items in this process, in order."""

    def map_unordered(self, func: Callable, items: Sequence) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            yield i, func(item)


def _check_importable(fn: Callable) -> None:
    """Refuse functions a spawned worker could not import (``fn`` is pickled by reference)."""
    name = getattr(fn, "__qualname__", type(fn).__name__)
    hint = ("define it at module level in an importable module (not a lambda, a closure, or a "
            "function defined in an interactive session or notebook), or use backend='dask', which "
            "pickles functions by value")
    if getattr(fn, "__module__", None) == "__main__" and not _main_file():
        raise TypeError(f"fn {name!r} is defined interactively in __main__, so worker processes cannot import it; {hint}")
    try:
        pickle.dumps(fn)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same thing
        raise TypeError(
            f"fn {name!r} cannot be sent to worker processes ({type(exc).__name__}: {exc}); {hint}"
        ) from exc


def _main_file() -> str | None:
    """The file ``__main__`` was run from, or ``None`` (REPL, ``python -c``, ``python -`` reading
    standard input, a notebook kernel): worker processes can re-import only a real file."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path if path and os.path.isfile(path) else None


#: Thread-count variables of the BLAS/OpenMP runtimes numpy, scipy and numba may load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")


@contextlib.contextmanager
def _worker_environment(threads_per_worker: int):
    """While workers are spawned: cap their BLAS/OpenMP threads, hide a file-less ``__main__``.

    Spawned workers inherit ``os.environ`` at start, and the thread pools read it when they
    load, so the cap must be in place before a worker starts; variables the user set are left
    as they are. Two workers with two BLAS threads each on two cores made a 35 s sweep take
    537 s. A ``__main__`` without a real file (``python -`` reading a script from standard
    input) is hidden from the workers, which would otherwise try to re-run it and die.
    """
    added = [v for v in THREAD_VARIABLES if v not in os.environ]
    for var in added:
        os.environ[var] = str(threads_per_worker)
    main = sys.modules.get("__main__")
    hidden = getattr(main, "__file__", None) if main is not None and not _main_file() else None
    if hidden is not None:
        del main.__file__
    try:
        yield
    finally:
        for var in added:
            os.environ.pop(var, None)
        if hidden is not None:
            main.__file__ = hidden


def _worker_init(parent_pid: int) -> None:
    """In each worker: exit as soon as the parent is gone (killed parents leave no orphans)."""

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(70)
            time.sleep(0.5)

    threading.Thread(target=watch, name="labkit-orphan-watch", daemon=True).start()


class ProcessBackend:
    """A :class:`concurrent.futures.ProcessPoolExecutor` (``spawn`` start method by default).

    Each worker's BLAS/OpenMP threads are capped at ``cpu_count // n_workers`` (at least 1) so
    that workers do not oversubscribe the cores, and each worker exits when its parent dies.
    """

    def __init__(self, n_workers: int | None = None, mp_context: str = "spawn"):
        self.n_workers = _check_workers(n_workers)
        self.mp_context = mp_context

    def map_unordered(self, func: Callable, items: Sequence) -> Iterator[tuple[int, Any]]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        items = list(items)
        if not items:
            return
        workers = min(self.n_workers, len(items))
        ctx = multiprocessing.get_context(self.mp_context)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                   initargs=(os.getpid(),))
        try:
            with _worker_environment(max(1, (os.cpu_count() or 1) // workers)):
                futures = {pool.submit(func, item): i for i, item in enumerate(items)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=futures.__getitem__):
                    yield futures[fut], fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """:mod:`dask.distributed`: a given ``client``, or a private loopback ``LocalCluster``."""

    def __init__(self, client=None, n_workers: int | None = None):
        self.client = client
        self.n_workers = _check_workers(n_workers)

    def map_unordered(self, func: Callable, items: Sequence) -> Iterator[tuple[int, Any]]:
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "backend='dask' needs dask.distributed: pip install 'dask[distributed]'"
            ) from exc
        items = list(items)
        if not items:
            return
        cluster = client = None
        try:
            if self.client is None:
                with warnings.catch_warnings():
                    # no dashboard is asked for; distributed still binds its small HTTP server
                    # on loopback and warns when its default port is taken by another cluster
                    warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
                    cluster = LocalCluster(
                        n_workers=min(self.n_workers, len(items)), threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None,
                    )
                client = Client(cluster)
            else:
                client = self.client
            batches = _batches(len(items), sum(client.nthreads().values()))
            futures = client.map(_run_batch, [(func, [items[i] for i in batch]) for batch in batches], pure=False)
            index = {fut.key: batch for fut, batch in zip(futures, batches)}
            try:
                for fut in as_completed(futures, loop=client.loop):
                    yield from zip(index[fut.key], fut.result())
            finally:
                client.cancel(futures)
        finally:
            if cluster is not None:
                client.close()
                cluster.close()


#: The most runs one Dask task carries (see :func:`_batches`).
MAX_BATCH = 16


def _batches(n_items: int, n_threads: int) -> list[range]:
    """Runs grouped into Dask tasks: at least four tasks per worker thread, at most ``MAX_BATCH`` runs each.

    One task per run costs a scheduler round trip per run (a few milliseconds on a loaded
    machine), as much as a short run itself: a 504-run sweep of 14 ms runs took 1.6x its serial
    time on one worker of a loaded 2-core machine, one task per run. Batches amortise it; four per thread keep the load balanced; the cap
    bounds what a lost worker takes with it (the runs of its current batch) and keeps results
    streaming to the store. Consecutive runs share a config, so a batch's runs cost alike.
    """
    size = max(1, min(MAX_BATCH, n_items // (4 * max(1, n_threads))))
    return [range(start, min(start + size, n_items)) for start in range(0, n_items, size)]


def _run_batch(job) -> list:
    """In a Dask worker: ``func`` over a batch of items (``func`` returns errors, never raises)."""
    func, items = job
    return [func(item) for item in items]


def connect_scheduler(address: str, *, timeout: float = 30.0, check_code: bool = True):
    """A :class:`distributed.Client` connected to the Dask scheduler at ``address``.

    Waits up to ``timeout`` seconds to reach the scheduler and again for at least one worker,
    so that a wrong address or an empty cluster fails in seconds instead of hanging a sweep.
    With ``check_code`` (default), every connected worker must compute the same
    :func:`labkit.provenance.code_version` as this process: runs are stored under the caller's
    code version, so a worker with other code (another checkout, other numerical libraries)
    would file its results under the wrong key. Workers that join later (an adaptive cluster
    scaling up) are checked by the runs themselves: :func:`sweep` with a ``client`` has every
    run compare its worker's code version with the caller's, and fail (stored nowhere) if not equal.
    The caller closes the client (``with connect_scheduler(...) as client:``).

    Raises
    ------
    ImportError
        dask.distributed is not installed.
    TypeError, ValueError
        ``address`` is not a non-empty str or ``timeout`` is not a positive number.
    ConnectionError
        The scheduler cannot be reached, has no worker, or a worker cannot import the lab or
        runs other code; the message names the address.
    """
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("connecting to a Dask scheduler needs dask.distributed: "
                          "pip install 'dask[distributed]'") from exc
    if not isinstance(address, str) or not address.strip():
        raise TypeError(f"address must be a non-empty str such as 'tcp://HOST:PORT', got {address!r}")
    if isinstance(timeout, (bool, np.bool_)) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    address = address.strip()
    try:
        client = Client(address, timeout=f"{float(timeout)}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConnectionError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                              f"({type(exc).__name__}: {first})") from exc
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError) as exc:
            raise ConnectionError(f"the Dask scheduler at {address} has no worker after {timeout:g} s; "
                                  "start workers with `dask worker " + address + "`") from exc
        if check_code:
            _check_worker_code(client, address)
    except BaseException:
        client.close()
        raise
    return client


def _check_worker_code(client, address: str) -> None:
    """Refuse workers whose lab code differs from this process's (their runs would be mis-keyed)."""
    from labkit.provenance import code_version, short

    here = code_version()
    try:
        there = client.run(code_version)
    except Exception as exc:  # noqa: BLE001 - any failure means the workers cannot run the lab
        raise ConnectionError(f"the workers of the Dask scheduler at {address} cannot run the lab "
                              f"({type(exc).__name__}: {exc}); install the same rl-theory-lab on them") from exc
    other = {worker: v for worker, v in there.items() if v != here}
    if other:
        worker, v = sorted(other.items())[0]
        raise ConnectionError(
            f"{len(other)} of {len(there)} workers of the Dask scheduler at {address} run other code "
            f"(code version {short(v)} on {worker}, {short(here)} here); their runs would be stored as "
            "this code's: install the same checkout and numerical libraries on the workers"
        )


def _check_workers(n_workers) -> int:
    if n_workers is None:
        return os.cpu_count() or 1
    if isinstance(n_workers, (bool, np.bool_)) or not isinstance(n_workers, (int, np.integer)) or n_workers < 1:
        raise ValueError(f"n_workers must be an int >= 1 or None, got {n_workers!r}")
    return int(n_workers)


def _make_backend(backend, n_workers, client, fn):
    if isinstance(backend, str):
        if backend == "serial":
            return SerialBackend()
        if backend == "process":
            _check_importable(fn)
            return ProcessBackend(n_workers)
        if backend == "dask":
            return DaskBackend(client=client, n_workers=n_workers)
        raise ValueError(f"backend must be 'serial', 'process', 'dask' or a backend object, got {backend!r}")
    if callable(getattr(backend, "map_unordered", None)):
        return backend
    raise TypeError(
        f"backend must be 'serial', 'process', 'dask' or an object with map_unordered(func, items), "
        f"got {type(backend).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------
def _progress_bar(progress, total: int, initial: int, desc: str):
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="run", leave=True)


def sweep(
    fn: Callable[[dict, np.random.Generator], Any],
    configs: Sequence[Mapping],
    *,
    n_seeds: int,
    seed=0,
    backend="serial",
    store: ResultStore | str | os.PathLike | None = None,
    experiment: str | None = None,
    progress: bool | None = None,
    n_workers: int | None = None,
    client=None,
    code_version: str | None = None,
    recompute: bool = False,
) -> pd.DataFrame:
    """Run ``fn(config, rng)`` for every config and replicate; return the tidy concatenation.

    Parameters
    ----------
    fn : callable
        ``fn(config: dict, rng: numpy.random.Generator)`` returning a DataFrame, a list of
        dicts or a dict (tidy rows). It receives a copy of the config.
    configs : sequence of dict
        The configs (e.g. from :func:`expand_grid`); values must be JSON data. Equal configs
        are run once and repeated in the output.
    n_seeds : int >= 1
        Replicates per config; replicate ``r`` uses ``labkit.seeding.run_seed(seed, r)``.
    seed : int >= 0 or numpy.random.SeedSequence, default 0
        The experiment's root seed (a ``Generator`` is refused).
    backend : {"serial", "process", "dask"} or backend object, default "serial"
    store : ResultStore, str or os.PathLike, optional
        Load runs of the same code already stored, store each new run as soon as it finishes.
    experiment : str, optional
        Name under which runs are keyed and stored; default ``f"{fn.__module__}.{fn.__qualname__}"``.
        Checks name their experiments after themselves (:meth:`labkit.RunContext.sweep`).
    progress : bool, optional
        A tqdm bar over runs; ``None`` means on when stderr is a terminal.
    n_workers : int, optional
        Workers for ``"process"`` and a private ``"dask"`` cluster; default ``os.cpu_count()``.
    client : distributed.Client, optional
        An existing Dask client for ``backend="dask"`` (not closed by the sweep), e.g.
        :func:`connect_scheduler` ``(address)``. Unless ``code_version`` is given (or ``fn`` lives
        in ``__main__``), each run first checks that its worker computes the caller's code
        version, and raises :class:`RunError` otherwise.
    code_version : str, optional
        The version of the code computing the runs, part of every run's key; default
        :func:`labkit.provenance.code_version` ``(fn)``: the lab's sources, ``fn``'s package
        and the numerical libraries' versions. A run stored by other code is never loaded.
    recompute : bool, default False
        Compute every run afresh even if stored, and replace the stored records.

    Returns
    -------
    pandas.DataFrame
        Config columns, ``replicate``, ``fn``'s columns, ``run_key``; rows in (config order,
        replicate) order; identical for every backend and whether runs were computed or loaded.
        ``frame.attrs["labkit"]`` says where the runs came from: ``experiment``,
        ``code_version``, ``loaded`` and ``computed`` (numbers of runs), ``created`` (Unix time
        of the oldest run used, i.e. when the result was first computed) and
        ``compute_seconds`` (the runs' own compute time, summed, whenever they ran).

    Raises
    ------
    RunError
        ``fn`` raised; names the experiment, config and replicate. Finished runs are stored.
    TypeError, ValueError
        Invalid arguments, configs that are not JSON data, an unimportable ``fn`` for the
        process backend, or an output of the wrong shape.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable fn(config, rng), got {type(fn).__name__}")
    if isinstance(configs, (Mapping, str, bytes)) or not isinstance(configs, Iterable):
        raise TypeError(
            f"configs must be a list of dicts, got {type(configs).__name__}; for one config pass [config]"
        )
    configs = list(configs)
    for i, config in enumerate(configs):
        if not isinstance(config, Mapping):
            raise TypeError(f"configs[{i}] must be a dict, got {type(config).__name__} {config!r}")
        reserved = [k for k in config if k in RESERVED_COLUMNS]
        if reserved:
            raise ValueError(f"configs[{i}] uses the reserved column names {reserved!r}; rename them")
    if isinstance(n_seeds, (bool, np.bool_)) or not isinstance(n_seeds, (int, np.integer)) or not 1 <= n_seeds <= 10**7:
        raise ValueError(f"n_seeds must be an int in [1, 1e7], got {n_seeds!r}")
    root = as_seed_sequence(seed)
    if experiment is None:
        experiment = f"{getattr(fn, '__module__', None) or type(fn).__module__}." \
                     f"{getattr(fn, '__qualname__', None) or type(fn).__qualname__}"
    if not isinstance(experiment, str) or not experiment:
        raise TypeError(f"experiment must be a non-empty str, got {experiment!r}")
    if store is not None and not isinstance(store, ResultStore):
        if isinstance(store, (str, os.PathLike)):
            store = ResultStore(store)
        else:
            raise TypeError(f"store must be a ResultStore, a path or None, got {type(store).__name__}")
    if client is not None and backend != "dask":
        raise ValueError(f"client= is only used with backend='dask', got backend={backend!r}")
    # on a given cluster every worker checks that it runs the caller's code (workers may join
    # after connect_scheduler checked the first ones); a caller-given version is not checked
    expect_code = None
    if code_version is None:
        code_version = _code_version(fn)
        # (not for a function of ``__main__``: a worker may not find the source a notebook's cell has)
        if client is not None and getattr(fn, "__module__", "__main__") != "__main__":
            expect_code = code_version
    elif not isinstance(code_version, str) or not code_version:
        raise TypeError(f"code_version must be a non-empty str or None, got {code_version!r}")

    # the runs, keyed by their store key (equal configs share runs)
    seeds = [run_seed(root, r) for r in range(int(n_seeds))]
    order: list[str] = []
    tasks: dict[str, _Task] = {}
    encode = store is not None
    for i, config in enumerate(configs):
        canonical_json(config, f"configs[{i}]")  # TypeError naming the entry that is not JSON data
        config = dict(config)
        for r, seed_seq in enumerate(seeds):
            key = ResultStore.key(experiment, config, seed_seq, code_version=code_version)
            order.append(key)
            if key not in tasks:
                tasks[key] = _Task(fn, config, r, seed_seq, key, encode, expect_code)

    frames: dict[str, pd.DataFrame] = {}
    created: list[float] = []
    seconds: list[float] = []
    damaged: set[str] = set()
    if store is not None and not recompute:
        for key, (fmt, payload, when, secs) in store._get_payloads(tasks).items():
            try:
                frames[key] = store._decode(key, fmt, payload)
            except StoreError as exc:
                damaged.add(key)
                warnings.warn(f"{exc}; recomputing that run and replacing its record", StoredRunWarning,
                              stacklevel=2)
                continue
            created.append(when)
            if secs is not None:
                seconds.append(secs)
    loaded = len(frames)
    todo = [task for key, task in tasks.items() if key not in frames]

    bar = _progress_bar(progress, total=len(tasks), initial=len(frames), desc=experiment.rsplit(".", 1)[-1])
    now = time.time()
    try:
        if todo:
            runner = _make_backend(backend, n_workers, client, fn)
            results = runner.map_unordered(_execute, todo)
            try:
                for i, result in results:
                    task = todo[i]
                    replace = recompute or task.key in damaged
                    frames[task.key] = _collect(result, task, store, experiment, code_version, replace)
                    if result[0] == "ok":
                        seconds.append(result[2])
                    if bar is not None:
                        bar.update(1)
            finally:
                close = getattr(results, "close", None)
                if close is not None:
                    close()
    finally:
        if bar is not None:
            bar.close()

    if not order:
        out = pd.DataFrame()
    else:
        parts = [frames[key] for key in order]
        # runs with no rows add nothing but would upcast columns they lack (int -> float)
        rows = [part for part in parts if len(part)]
        out = pd.concat(rows or parts, ignore_index=True)
    out.attrs["labkit"] = {
        "experiment": experiment, "code_version": code_version, "loaded": loaded,
        "computed": len(todo), "created": min(created) if created else (now if todo else None),
        "compute_seconds": float(sum(seconds)),
    }
    return out


def _collect(result, task: _Task, store: ResultStore | None, experiment: str, code_version: str,
             replace: bool) -> pd.DataFrame:
    """Store a finished run (parent process) and return its frame; raise for a failed run."""
    status = result[0]
    if status == "ok":
        payload = result[1]
        if store is None:
            return payload
        store._put_encoded(task.key, experiment, canonical_json(task.config), task.replicate, payload,
                           code_version=code_version, seconds=result[2], replace=replace)
        return decode_frame(payload)
    if status == "bad_output":
        exc_type = ValueError if result[1] == "ValueError" else TypeError
        raise exc_type(result[2])
    exc, tb = result[1], result[2]
    raise RunError(
        f"experiment {experiment!r}: fn raised {type(exc).__name__}: {exc} in the run with "
        f"{_describe(task.config, task.replicate)}\n\nTraceback of the run:\n{tb}",
        config=task.config, replicate=task.replicate,
    ) from exc
