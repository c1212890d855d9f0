"""Sweeps on an existing Dask cluster, deployed the way a real one is: separate processes.

A scheduler (``python -m distributed.cli.dask_scheduler``) and two nanny-managed workers
(``python -m distributed.cli.dask_worker``) are started as subprocesses on 127.0.0.1, each in
its own process group (so killing a group kills the nanny and its worker, like losing a node).
The scheduler picks a free port and writes it to a scheduler file; the workers find it there.
The tests skip when the cluster cannot start within ``START_TIMEOUT`` seconds.

What is checked:

* ``labkit check --backend dask --scheduler ADDRESS`` (and ``$DASK_SCHEDULER_ADDRESS``) stores
  the same runs and the same check frame, bit for bit, as a serial run; the store is the
  caller's (the workers are given no lab directory);
* a worker killed mid-sweep loses no finished run: every run stored before the kill is still
  there, unchanged and not recomputed, the sweep completes on the surviving worker and returns
  the serial frame bit for bit;
* the command line's errors: ``--scheduler`` without ``--backend dask``, an unreachable address
  (named, within the timeout), ``--workers`` with a scheduler.

Cost: each cluster takes 3-8 s to start on a 2-core machine; each test runs in about 10-20 s,
so they run in the default test command (marked ``distributed``, not ``slow``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from labkit import ResultStore, sweep  # noqa: E402
from labkit import cli  # noqa: E402
from labkit.sweep import _batches, connect_scheduler  # noqa: E402
from tests import _sweep_funcs as funcs  # noqa: E402

pytestmark = pytest.mark.distributed

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0
CHECK = "value_iteration.garnet_contraction"


class Cluster:
    """A scheduler and ``n_workers`` single-threaded workers as subprocesses on loopback."""

    def __init__(self, tmp: Path, n_workers: int = 2, env: dict | None = None):
        self.tmp = tmp
        self.file = tmp / "scheduler.json"
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                        **(env or {}))
        self.env.pop("DASK_SCHEDULER_ADDRESS", None)
        self.env.pop("LABKIT_DIR", None)  # the workers have no store: only the caller writes
        self.scheduler = self._spawn("dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(self.file), log="scheduler")
        self.workers = [
            self._spawn("dask_worker", "--scheduler-file", str(self.file), "--host", "127.0.0.1", "--nthreads", "1",
                        "--nworkers", "1", "--no-dashboard", "--name", f"w{i}", "--death-timeout", "60", log=f"w{i}")
            for i in range(n_workers)
        ]
        self.address = None

    def _spawn(self, module: str, *args: str, log: str) -> subprocess.Popen:
        out = open(self.tmp / f"{log}.log", "wb")
        return subprocess.Popen([sys.executable, "-m", f"distributed.cli.{module}", *args], cwd=ROOT, env=self.env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, n_workers: int) -> str:
        """The scheduler's address once ``n_workers`` workers have joined (skip the test otherwise)."""
        from distributed import Client

        deadline = time.monotonic() + START_TIMEOUT
        while not self.file.exists() or not self.file.read_text().strip():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                self.close()
                pytest.skip(f"the Dask scheduler did not start within {START_TIMEOUT:g} s")
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        try:
            with Client(self.address, timeout="10s", set_as_default=False) as client:
                client.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))
        except (OSError, TimeoutError):
            self.close()
            pytest.skip(f"{n_workers} Dask workers did not join within {START_TIMEOUT:g} s")
        return self.address

    def kill(self, i: int) -> None:
        """SIGKILL worker ``i``'s process group (nanny and worker): a node lost without warning."""
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(timeout=10)

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    c.wait(2)
    yield c
    c.close()


def _check(monkeypatch, capsys, lab: Path, *args: str) -> list[dict]:
    monkeypatch.setenv("LABKIT_DIR", str(lab))
    rc = cli.main(["check", CHECK, "--json", *args])
    assert rc == 0
    return json.loads(capsys.readouterr().out)


def _stored(lab: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Every stored run frame by experiment, and the stored check frame."""
    store = ResultStore(lab / "store.sqlite")
    runs = {name: store.load(name) for name in store.experiments()}
    _, frame = store.get_check(CHECK, "quick", 0)
    return runs, frame


def test_check_on_a_running_cluster_is_bit_identical_to_serial(cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    serial = _check(monkeypatch, capsys, tmp_path / "serial")
    flag = _check(monkeypatch, capsys, tmp_path / "flag", "--backend", "dask", "--scheduler", cluster.address)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)  # Dask's own convention
    env = _check(monkeypatch, capsys, tmp_path / "env", "--backend", "dask")
    keys = ("passed", "measured", "expected", "ci")
    assert [{k: r[k] for k in keys} for r in flag] == [{k: r[k] for k in keys} for r in serial]
    assert [{k: r[k] for k in keys} for r in env] == [{k: r[k] for k in keys} for r in serial]
    runs, frame = _stored(tmp_path / "serial")
    assert runs and all(len(f) for f in runs.values())
    for lab in ("flag", "env"):
        got_runs, got_frame = _stored(tmp_path / lab)
        assert got_runs.keys() == runs.keys()
        for name in runs:
            pd.testing.assert_frame_equal(got_runs[name].sort_values("run_key", kind="stable", ignore_index=True),
                                          runs[name].sort_values("run_key", kind="stable", ignore_index=True),
                                          check_exact=True)
        pd.testing.assert_frame_equal(got_frame, frame, check_exact=True)
    # the runs were computed on the cluster's workers, not in this process
    from distributed import Client

    with Client(cluster.address, set_as_default=False) as client:
        done = client.run_on_scheduler(_runs_done)
    n_tasks = sum(len(_batches(f["run_key"].nunique(), 2)) for f in runs.values())
    assert done >= 2 * n_tasks  # the flag's and the variable's commands each sent every run
    # the nanny caps each worker's BLAS threads at one (N workers use N cores)
    with connect_scheduler(cluster.address, timeout=20) as client:
        caps = sweep(funcs.blas_threads, [{}], n_seeds=4, backend="dask", client=client)
    assert set(caps["openblas"]) == {"1"} and set(caps["omp"]) == {"1"}


def _runs_done(dask_scheduler) -> int:
    """Tasks (batches of runs) of :func:`labkit.sweep._run_batch` finished on the cluster (Dask drops the ``_``)."""
    prefix = dask_scheduler.task_prefixes.get("run_batch")
    return 0 if prefix is None else int(prefix.state_counts["memory"])


def test_killed_worker_loses_no_finished_run(tmp_path):
    # every run sleeps 0.2 s on the workers (the sleep is read from the environment, so it does
    # not enter the run keys: the serial reference below computes the same runs without it)
    c = Cluster(tmp_path, env={"SWEEP_VICTIM_SLEEP": "0.2"})
    try:
        address = c.wait(2)
        path = tmp_path / "store.sqlite"
        exp, total = funcs.VICTIM_EXPERIMENT, len(funcs.VICTIM_CONFIGS) * funcs.VICTIM_N_SEEDS
        before: dict = {}

        def kill_when_half_way():
            watcher = ResultStore(path)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and watcher.count(exp) < 8:
                time.sleep(0.05)
            keys = watcher.keys(exp)
            before.update({k: v[2] for k, v in watcher._get_payloads(keys).items()})
            c.kill(0)

        killer = threading.Thread(target=kill_when_half_way, daemon=True)
        with connect_scheduler(address, timeout=20) as client:
            killer.start()
            got = sweep(funcs.slow_draws, funcs.VICTIM_CONFIGS, n_seeds=funcs.VICTIM_N_SEEDS, seed=funcs.VICTIM_SEED,
                        backend="dask", client=client, store=path, experiment=exp)
            killer.join(timeout=30)
            assert c.workers[0].poll() is not None, "the worker was not killed before the sweep ended"
            assert len(client.scheduler_info()["workers"]) == 1
        assert 8 <= len(before) < total
        store = ResultStore(path)
        assert store.count(exp) == total
        after = {k: v[2] for k, v in store._get_payloads(store.keys(exp)).items()}
        assert {k: after[k] for k in before} == before  # finished runs kept, not recomputed
        reference = sweep(funcs.slow_draws, funcs.VICTIM_CONFIGS, n_seeds=funcs.VICTIM_N_SEEDS,
                          seed=funcs.VICTIM_SEED, experiment=exp)
        pd.testing.assert_frame_equal(got, reference, check_exact=True)
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# command-line errors (no cluster needed)
# ---------------------------------------------------------------------------------------------
def _error(capsys, argv) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    return err[0]


def test_scheduler_needs_the_dask_backend(capsys):
    msg = _error(capsys, ["check", CHECK, "--no-store", "--scheduler", "tcp://127.0.0.1:8786"])
    assert "--scheduler tcp://127.0.0.1:8786 needs --backend dask (got --backend serial)" in msg


def test_scheduler_variable_is_ignored_without_the_dask_backend(monkeypatch, capsys):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    assert cli.main(["check", "value_iteration.tight_rate", "--no-store", "--json"]) == 0


def test_unreachable_scheduler_is_named_within_the_timeout(capsys):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    msg = _error(capsys, ["check", CHECK, "--no-store", "--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{port}",
                          "--scheduler-timeout", "2"])
    assert time.perf_counter() - t0 < 15
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 2 s" in msg


def test_unreachable_scheduler_from_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    msg = _error(capsys, ["check", CHECK, "--no-store", "--backend", "dask", "--scheduler-timeout", "1"])
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s" in msg


def test_workers_flag_is_refused_with_a_scheduler(capsys):
    msg = _error(capsys, ["check", CHECK, "--no-store", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1",
                          "--workers", "2"])
    assert "--workers sizes a private local cluster" in msg and "tcp://127.0.0.1:1" in msg


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "x"])
def test_scheduler_timeout_must_be_positive(bad, capsys):
    with pytest.raises(SystemExit):
        cli.main(["check", CHECK, "--backend", "dask", "--scheduler-timeout", bad])
    assert "scheduler timeout must be a positive number of seconds" in capsys.readouterr().err


def test_connect_scheduler_validates_its_arguments():
    with pytest.raises(TypeError, match="address must be a non-empty str"):
        connect_scheduler("")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        connect_scheduler("tcp://127.0.0.1:1", timeout=0)


def test_runs_travel_in_batches():
    assert [len(b) for b in _batches(10, 2)] == [1] * 10  # fewer than four runs per thread: one each
    assert [len(b) for b in _batches(40, 2)] == [5] * 8
    sizes = [len(b) for b in _batches(504, 2)]
    assert max(sizes) == 16 and sum(sizes) == 504  # capped: a lost worker takes at most 16 runs
    assert [list(b) for b in _batches(5, 1)] == [[0], [1], [2], [3], [4]] and _batches(0, 4) == []


def test_a_worker_running_other_code_fails_the_run_not_the_store(tmp_path):
    """Workers that join after the connection check still refuse to compute under another code version."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            Client(lc, set_as_default=False) as client:
        from labkit.sweep import _CODE_VERSIONS, RunError

        _CODE_VERSIONS[(funcs.draws.__module__, funcs.draws.__qualname__)] = "0" * 64  # this "worker"'s code
        try:
            with pytest.raises(RunError, match="runs other code"):
                sweep(funcs.draws, [{"n": 2}], n_seeds=2, backend="dask", client=client, store=tmp_path / "s.sqlite")
        finally:
            _CODE_VERSIONS.clear()
        assert ResultStore(tmp_path / "s.sqlite").count("tests._sweep_funcs.draws") == 0
