"""Throughput of a sweep-heavy check on an existing Dask cluster, against serial.

A scheduler and N single-threaded, nanny-managed workers are started as separate processes
on 127.0.0.1 (``python -m distributed.cli.dask_scheduler`` / ``dask_worker``), the way a real
deployment runs, and the check runs with ``client=connect_scheduler(address)``, exactly what
``labkit check NAME --backend dask --scheduler ADDRESS`` does (no store: only the compute is
timed). Workers are added one at a time (1, then 2, ...); before timing each size, one untimed
run lets the new workers import the lab and load Numba's cache. The serial baseline is timed
in this process after its own warm-up. Each figure is the median of ``--repeats`` runs; the
measured value of every run must equal the serial one bit for bit.

The nanny starts each worker with ``OMP_NUM_THREADS=1`` (and the MKL/OpenBLAS equivalents,
Dask's ``distributed.nanny.pre-spawn-environ``), so N workers use N cores, not N x cores.

::

    python -m benchmarks.bench_cluster                      # rdpo.estimation_rate (quick), 1 and 2 workers
    python -m benchmarks.bench_cluster --workers 1 2 3 --repeats 3
    python -m benchmarks.bench_cluster --check ucrl.regret_bound --scale full --warmup-scale quick
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECK = "rdpo.estimation_rate"  # 504 runs of an M-estimation at quick scale: all sweep


class LoopbackCluster:
    """A scheduler subprocess on 127.0.0.1 to which workers are added one at a time."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.env.pop("DASK_SCHEDULER_ADDRESS", None)
        self.procs = [self._spawn("dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(self.file))]
        deadline = time.monotonic() + 60
        while not (self.file.exists() and self.file.read_text().strip()):
            if time.monotonic() > deadline or self.procs[0].poll() is not None:
                self.close()
                raise RuntimeError("the Dask scheduler did not start within 60 s")
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.n_workers = 0

    def _spawn(self, module: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{module}-{len(getattr(self, 'procs', []))}.log", "wb")
        return subprocess.Popen([sys.executable, "-m", f"distributed.cli.{module}", *args], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def add_worker(self) -> None:
        self.procs.append(self._spawn("dask_worker", "--scheduler-file", str(self.file), "--host", "127.0.0.1",
                                      "--nthreads", "1", "--nworkers", "1", "--no-dashboard"))
        self.n_workers += 1

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def _timed(check, scale: str, repeats: int, warmup_scale: str | None = None,
           **backend) -> tuple[float, float, list[float]]:
    """Median wall time of ``repeats`` runs (after one untimed warm-up at ``warmup_scale``, default
    ``scale``), the measured value, all times."""
    first = check.run(scale=warmup_scale or scale, rng=0, **backend)
    if first.error:
        raise RuntimeError(f"{check.name} raised: {first.error}")
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = check.run(scale=scale, rng=0, **backend)
        times.append(time.perf_counter() - t0)
        if r.error:
            raise RuntimeError(f"{check.name} raised: {r.error}")
        if value is not None and not _same(r.measured, value):
            raise RuntimeError(f"{check.name}: measured {r.measured!r} differs from an earlier run's {value!r}")
        value = r.measured
    return float(np.median(times)), value, times


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_cluster", description=__doc__.splitlines()[0])
    p.add_argument("--check", default=DEFAULT_CHECK, help=f"a registered check (default {DEFAULT_CHECK})")
    p.add_argument("--scale", choices=("quick", "full"), default="quick")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes to time (default 1 2)")
    p.add_argument("--repeats", type=int, default=2, help="timed runs per configuration (default 2)")
    p.add_argument("--warmup-scale", choices=("quick", "full"), default=None,
                   help="scale of the untimed warm-up run of each configuration (default: --scale); a quick "
                        "warm-up loads the imports and Numba caches as well and saves a full run per configuration")
    p.add_argument("--tiny", action="store_true", help="a seconds-long smoke run (value_iteration.garnet_contraction)")
    args = p.parse_args(argv)
    if args.tiny:
        args.check, args.scale, args.workers, args.repeats = "value_iteration.garnet_contraction", "quick", [1, 2], 1
    if sorted(set(args.workers)) != args.workers or args.workers[0] < 1 or args.repeats < 1:
        p.error("--workers must be increasing integers >= 1 and --repeats >= 1")

    from labkit import checks
    from labkit.sweep import connect_scheduler

    check = checks()[args.check]
    print(f"# Cluster throughput: {check.name} ({args.scale}), {os.cpu_count()} CPUs, median of {args.repeats}, "
          f"warm-up at {args.warmup_scale or args.scale} scale\n")
    rows = []
    print(f"serial ... ({_load()})", file=sys.stderr, flush=True)
    t_serial, value, times = _timed(check, args.scale, args.repeats, args.warmup_scale)
    rows.append({"backend": "serial", "workers": 0, "seconds": t_serial, "times": times, "load": _load()})
    with tempfile.TemporaryDirectory(prefix="labkit-bench-cluster-") as tmp:
        cluster = LoopbackCluster(Path(tmp))
        try:
            for n in args.workers:
                while cluster.n_workers < n:
                    cluster.add_worker()
                with connect_scheduler(cluster.address, timeout=60) as client:
                    client.wait_for_workers(n, timeout=60)
                    print(f"{n} worker(s) ... ({_load()})", file=sys.stderr, flush=True)
                    load = _load()
                    t, got, times = _timed(check, args.scale, args.repeats, args.warmup_scale, backend="dask",
                                           client=client)
                if not _same(got, value):
                    raise RuntimeError(f"{check.name}: measured {got!r} on {n} workers, {value!r} serially")
                rows.append({"backend": "dask (loopback cluster)", "workers": n, "seconds": t, "times": times,
                             "load": load})
        finally:
            cluster.close()
    print("| backend | workers | seconds (median) | runs (s) | speed-up vs serial | load at start (1/5/15 min) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        r["speedup"] = t_serial / r["seconds"]
        runs = ", ".join(f"{t:.2f}" for t in r["times"])
        print(f"| {r['backend']} | {r['workers'] or ''} | {r['seconds']:.2f} | {runs} | {r['speedup']:.2f}x | "
              f"{r['load'].removeprefix('load average ')} |")
    print(f"\nmeasured value identical on every backend: {value!r}")
    return rows


if __name__ == "__main__":
    main()
