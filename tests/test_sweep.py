"""labkit.sweep: same seed, same DataFrame, on every backend, resumed or not."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labkit
from labkit import ResultStore, expand_grid, sweep
from labkit.provenance import code_version
from labkit.seeding import run_seed
from labkit.sweep import RunError, SerialBackend
from tests import _sweep_funcs as funcs

REPO = Path(__file__).resolve().parents[1]
GRID = expand_grid(n=[2, 5], mu=[0.0, 1.5, -2.0])


# ---------------------------------------------------------------------------------------------
# grids and output layout
# ---------------------------------------------------------------------------------------------
def test_public_names_whatever_the_import_order():
    # labkit.sweep is both a submodule and the function; both must run the sweep
    assert callable(sweep) and callable(labkit.sweep)
    a = labkit.sweep(funcs.one_row, [{"scale": 1}], n_seeds=2)
    pd.testing.assert_frame_equal(a, sweep(funcs.one_row, [{"scale": 1}], n_seeds=2))


def test_expand_grid_is_the_ordered_cartesian_product():
    assert expand_grid(a=[1, 2], b=["x", "y"]) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert expand_grid() == [{}]
    assert expand_grid(a=[1], b=[]) == []
    assert expand_grid(a=range(3)) == [{"a": 0}, {"a": 1}, {"a": 2}]
    with pytest.raises(TypeError, match="axis 'b' must be a list"):
        expand_grid(a=[1], b=0.5)
    with pytest.raises(TypeError, match="axis 'b' must be a list"):
        expand_grid(b="abc")


def test_output_layout_and_run_seeds():
    df = sweep(funcs.draws, GRID, n_seeds=3, seed=5, experiment="layout")
    assert list(df.columns) == ["n", "mu", "replicate", "step", "x", "u", "run_key"]
    assert isinstance(df.index, pd.RangeIndex) and len(df) == 3 * (2 + 5) * 3
    runs = df.drop_duplicates("run_key")[["n", "mu", "replicate"]].values.tolist()
    assert runs == [[c["n"], c["mu"], r] for c in GRID for r in range(3)]
    # each run's rows are fn(config, default_rng(run_seed(seed, r))), with the store's key
    config, r = GRID[4], 2
    rows = df[(df.n == config["n"]) & (df.mu == config["mu"]) & (df.replicate == r)]
    expected = funcs.draws(config, np.random.default_rng(run_seed(5, r)))
    np.testing.assert_array_equal(rows["x"].to_numpy(), expected["x"].to_numpy())
    version = code_version(funcs.draws)
    assert set(rows["run_key"]) == {ResultStore.key("layout", config, run_seed(5, r), code_version=version)}


def test_common_random_numbers_across_configs_and_independence_from_n_seeds():
    df = sweep(funcs.draws, expand_grid(n=[3], mu=[0.0, 1.0]), n_seeds=4, seed=9)
    u = df.pivot_table(index=["replicate", "step"], columns="mu", values="u")
    np.testing.assert_array_equal(u[0.0].to_numpy(), u[1.0].to_numpy())  # same stream per replicate
    assert df[df.mu == 0.0].groupby("replicate")["u"].first().nunique() == 4  # replicates differ
    short = sweep(funcs.draws, expand_grid(n=[3], mu=[0.0, 1.0]), n_seeds=2, seed=9)
    pd.testing.assert_frame_equal(short, df[df.replicate < 2].reset_index(drop=True))


def test_default_experiment_name():
    df = sweep(funcs.one_row, [{"scale": 2}], n_seeds=1)
    key = ResultStore.key("tests._sweep_funcs.one_row", {"scale": 2}, run_seed(0, 0),
                          code_version=code_version(funcs.one_row))
    assert df["run_key"].tolist() == [key]


def test_return_forms_and_bad_outputs():
    one = sweep(funcs.one_row, [{"scale": 1.0}, {"scale": 3.0}], n_seeds=2)
    assert list(one.columns) == ["scale", "replicate", "value", "label", "run_key"] and len(one) == 4
    many = sweep(funcs.rows, [{"T": 3}], n_seeds=2)
    assert many["t"].tolist() == [0, 1, 2, 0, 1, 2]
    with pytest.raises(TypeError, match=r"got ndarray for config=\{'k': 1\}, replicate=0"):
        sweep(funcs.bad_output, [{"k": 1}], n_seeds=1)
    with pytest.raises(ValueError, match=r"clash with the config keys"):
        sweep(funcs.one_row, [{"scale": 1.0, "value": 0}], n_seeds=1)
    with pytest.raises(TypeError, match="item 1 is a int"):
        sweep(lambda c, rng: [{"a": 1}, 2], [{}], n_seeds=1)


def test_argument_validation():
    with pytest.raises(TypeError, match="cannot be split"):
        sweep(funcs.draws, GRID, n_seeds=1, seed=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"configs\[1\]\['f'\]"):
        sweep(funcs.draws, [{"n": 1}, {"n": 2, "f": object()}], n_seeds=1)
    with pytest.raises(TypeError, match="configs must be a list of dicts"):
        sweep(funcs.draws, {"n": 1}, n_seeds=1)
    with pytest.raises(ValueError, match=r"n_seeds must be an int in \[1, 1e7\]"):
        sweep(funcs.draws, GRID, n_seeds=0)
    with pytest.raises(ValueError, match="backend must be"):
        sweep(funcs.draws, GRID, n_seeds=1, backend="threads")
    with pytest.raises(ValueError, match="reserved column names"):
        sweep(funcs.draws, [{"replicate": 1}], n_seeds=1)
    assert sweep(funcs.draws, [], n_seeds=2).empty


def test_duplicate_and_nested_configs():
    configs = [{"n": 2, "mu": 0.0}, {"n": 2, "mu": 0.0}]
    df = sweep(funcs.draws, configs, n_seeds=2)
    pd.testing.assert_frame_equal(df.iloc[:4].reset_index(drop=True), df.iloc[4:].reset_index(drop=True))
    nested = sweep(funcs.draws, [{"n": 2, "sizes": [1, 2], "opt": {"b": 1, "a": None}}], n_seeds=1)
    assert nested["sizes"].tolist() == ["[1,2]", "[1,2]"]
    assert nested["opt"].tolist() == ['{"a":null,"b":1}'] * 2


def test_runs_without_rows_do_not_upcast(tmp_path):
    configs = expand_grid(k=[0, 1, 2])
    df = sweep(funcs.sometimes_empty, configs, n_seeds=2)
    assert df["count"].dtype == np.int64 and df["k"].tolist() == [0, 0, 2, 2]
    store = ResultStore(tmp_path / "s.sqlite")
    pd.testing.assert_frame_equal(sweep(funcs.sometimes_empty, configs, n_seeds=2, store=store), df)
    assert store.count("tests._sweep_funcs.sometimes_empty") == 6  # empty runs are stored too
    pd.testing.assert_frame_equal(sweep(funcs.sometimes_empty, configs, n_seeds=2, store=store), df)


def test_progress_bar_runs(capsys):
    sweep(funcs.draws, GRID, n_seeds=2, progress=True, experiment="bar")
    assert "6/6" not in capsys.readouterr().out  # bars go to stderr, never stdout
    # counts runs: 6 configs x 2 replicates
    sweep(funcs.draws, GRID, n_seeds=2, progress=True, experiment="bar")
    assert "12/12" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# determinism across backends
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    return sweep(funcs.draws, GRID, n_seeds=3, seed=123)


def test_process_backend_is_bit_identical(reference):
    got = sweep(funcs.draws, GRID, n_seeds=3, seed=123, backend="process", n_workers=2)
    pd.testing.assert_frame_equal(got, reference, check_exact=True)


class ReversedBackend:
    """Completes runs in reverse order: the output must not notice."""

    def map_unordered(self, func, items):
        for i in reversed(range(len(items))):
            yield i, func(items[i])


def test_backend_objects_and_completion_order_do_not_matter(reference, tmp_path):
    for backend in (ReversedBackend(), SerialBackend()):
        got = sweep(funcs.draws, GRID, n_seeds=3, seed=123, backend=backend)
        pd.testing.assert_frame_equal(got, reference, check_exact=True)
    stored = sweep(funcs.draws, GRID, n_seeds=3, seed=123, backend=ReversedBackend(), store=tmp_path / "s.sqlite")
    pd.testing.assert_frame_equal(stored, reference, check_exact=True)
    with pytest.raises(TypeError, match="map_unordered"):
        sweep(funcs.draws, GRID, n_seeds=1, backend=object())


def test_process_backend_refuses_unimportable_functions():
    def closure(config, rng):
        return {"a": 1}

    for fn in (closure, lambda config, rng: {"a": 1}):
        with pytest.raises(TypeError, match="cannot be sent to worker processes.*module level"):
            sweep(fn, [{}], n_seeds=1, backend="process", n_workers=1)


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.distributed
def test_dask_backend_is_bit_identical(reference, dask_client, tmp_path):
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in dask_client.scheduler_info()["workers"])
    got = sweep(funcs.draws, GRID, n_seeds=3, seed=123, backend="dask", client=dask_client)
    pd.testing.assert_frame_equal(got, reference, check_exact=True)
    # dask pickles by value: a closure works there
    offset = 10.0

    def shifted(config, rng):
        return {"y": offset + rng.random()}

    a = sweep(shifted, GRID, n_seeds=2, seed=1, backend="dask", client=dask_client, store=tmp_path / "s.sqlite")
    pd.testing.assert_frame_equal(a, sweep(shifted, GRID, n_seeds=2, seed=1), check_exact=True)
    with pytest.raises(RunError, match=r"config=\{'k': 3\}, replicate=[01]"):
        sweep(funcs.fails_on_three, expand_grid(k=range(5)), n_seeds=2, backend="dask", client=dask_client)


@pytest.mark.distributed
def test_dask_backend_starts_its_own_loopback_cluster(reference):
    got = sweep(funcs.draws, GRID[:2], n_seeds=3, seed=123, backend="dask", n_workers=2)
    pd.testing.assert_frame_equal(got, reference.iloc[:2 * 3 * 2], check_exact=True)


# ---------------------------------------------------------------------------------------------
# store, resume, errors
# ---------------------------------------------------------------------------------------------
class Counting:
    """A serial-only fn that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, config, rng):
        self.calls += 1
        return funcs.draws(config, rng)


def test_store_resumes_without_recomputing(reference, tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    fn = Counting()
    part = sweep(fn, GRID[:2], n_seeds=3, seed=123, store=store, experiment="resume")
    assert fn.calls == 6 and store.count("resume") == 6
    full = sweep(fn, GRID, n_seeds=3, seed=123, store=store, experiment="resume")
    assert fn.calls == 6 + 12 and store.count("resume") == 18
    again = sweep(fn, GRID, n_seeds=3, seed=123, store=store, experiment="resume")
    assert fn.calls == 18
    expected = reference.assign(run_key=full["run_key"])  # other experiment name, other keys
    pd.testing.assert_frame_equal(full, expected, check_exact=True)
    pd.testing.assert_frame_equal(again, full, check_exact=True)
    pd.testing.assert_frame_equal(part, full.iloc[:len(part)], check_exact=True)
    more = sweep(fn, GRID, n_seeds=4, seed=123, store=store, experiment="resume")  # one more replicate
    assert fn.calls == 18 + 6
    pd.testing.assert_frame_equal(more[more.replicate < 3].reset_index(drop=True), full)


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_errors_name_the_run_and_finished_runs_are_stored(tmp_path, backend):
    store = ResultStore(tmp_path / "s.sqlite")
    configs = expand_grid(k=[0, 1, 2, 3, 4, 5])
    with pytest.raises(RunError, match=r"ValueError: k = 3 is unlucky in the run with config=\{'k': 3\}, replicate=0") as info:
        sweep(funcs.fails_on_three, configs, n_seeds=1, backend=backend, n_workers=2, store=store, experiment="e")
    assert isinstance(info.value.__cause__, ValueError) and info.value.replicate == 0
    done = store.count("e")
    if backend == "serial":
        assert done == 3  # the runs before the failing one
    else:
        assert 0 <= done <= 5
    for key in store.keys("e"):
        assert store.get(key)["k2"].iloc[0] in (0, 2, 4, 8, 10)


# ---------------------------------------------------------------------------------------------
# the interrupted sweep
# ---------------------------------------------------------------------------------------------
N_RUNS = len(funcs.VICTIM_CONFIGS) * funcs.VICTIM_N_SEEDS  # 40


def victim_sweep(backend="serial", store=None):
    return sweep(funcs.slow_draws, funcs.VICTIM_CONFIGS, n_seeds=funcs.VICTIM_N_SEEDS, seed=funcs.VICTIM_SEED,
                 backend=backend, store=store, experiment=funcs.VICTIM_EXPERIMENT, n_workers=2)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The victim sweep run to the end in a fresh store, and with no store at all."""
    fresh = victim_sweep("serial", ResultStore(tmp_path_factory.mktemp("fresh") / "fresh.sqlite"))
    pd.testing.assert_frame_equal(fresh, victim_sweep("serial"), check_exact=True)
    return fresh


@pytest.mark.parametrize("backend, sleep", [("serial", 0.05), ("process", 0.1)])
def test_a_killed_sweep_resumes_to_the_same_frame(tmp_path, backend, sleep, uninterrupted):
    path = tmp_path / "victim.sqlite"
    store = ResultStore(path)
    env = {**os.environ, "SWEEP_VICTIM_SLEEP": str(sleep)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests._sweep_victim", str(path), backend, str(sleep)],
        cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while store.count(funcs.VICTIM_EXPERIMENT) < N_RUNS // 2:
            assert proc.poll() is None, f"victim exited early: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "victim made no progress"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the victim and its worker processes (its own session)
        proc.wait()
        proc.stderr.close()
    killed_at = store.count(funcs.VICTIM_EXPERIMENT)
    assert N_RUNS // 2 <= killed_at < N_RUNS, "the sweep was not interrupted half way"

    resumed = victim_sweep(backend, store)  # no sleep in this process: only the missing runs run
    assert store.count(funcs.VICTIM_EXPERIMENT) == N_RUNS  # one record per run, no duplicates
    keys = store.keys(funcs.VICTIM_EXPERIMENT)
    assert len(keys) == N_RUNS and set(resumed["run_key"]) == keys
    for key in keys:  # every stored payload loads
        frame = store.get(key)
        assert list(frame.columns) == list(resumed.columns) and len(frame) == 3
    pd.testing.assert_frame_equal(resumed, uninterrupted, check_exact=True)


# ---------------------------------------------------------------------------------------------
# code versions: a stored run is never handed back to other code
# ---------------------------------------------------------------------------------------------
def test_runs_are_keyed_by_code_version(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    fn = Counting()
    first = sweep(fn, GRID[:2], n_seeds=2, store=store, experiment="v", code_version="code-A")
    assert fn.calls == 4 and first.attrs["labkit"]["computed"] == 4 and first.attrs["labkit"]["loaded"] == 0
    again = sweep(fn, GRID[:2], n_seeds=2, store=store, experiment="v", code_version="code-A")
    assert fn.calls == 4 and again.attrs["labkit"]["loaded"] == 4  # same code: resumed from the store
    assert again.attrs["labkit"]["created"] == pytest.approx(first.attrs["labkit"]["created"])
    other = sweep(fn, GRID[:2], n_seeds=2, store=store, experiment="v", code_version="code-B")
    assert fn.calls == 8 and other.attrs["labkit"]["computed"] == 4  # other code: computed afresh
    assert set(store.inventory()["code_version"]) == {"code-A", "code-B"}


def test_the_default_code_version_follows_the_source(tmp_path, monkeypatch):
    """Editing the module that defines the experiment changes the version (a fresh run)."""
    pkg = tmp_path / "plugin_pkg_cv"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("def run(config, rng):\n    return {'v': 1.0}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mod = importlib.import_module("plugin_pkg_cv")
    before = code_version(mod.run)
    time.sleep(0.01)
    (pkg / "__init__.py").write_text("def run(config, rng):\n    return {'v': 2.0}  # fixed\n")
    assert code_version(mod.run) != before
    assert code_version(funcs.draws) == code_version(funcs.one_row)  # one package, one version


def test_recompute_replaces_stored_runs(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    fn = Counting()
    sweep(fn, GRID[:1], n_seeds=2, store=store, experiment="r", code_version="c")
    redo = sweep(fn, GRID[:1], n_seeds=2, store=store, experiment="r", code_version="c", recompute=True)
    assert fn.calls == 4 and redo.attrs["labkit"]["computed"] == 2 and store.count("r") == 2


def test_a_damaged_stored_run_is_recomputed_and_replaced(tmp_path):
    import sqlite3

    from labkit.sweep import StoredRunWarning

    store = ResultStore(tmp_path / "s.sqlite")
    first = sweep(funcs.draws, GRID[:2], n_seeds=2, store=store, experiment="d")
    key = first["run_key"].iloc[0]
    con = sqlite3.connect(store.path)
    con.execute("UPDATE runs SET payload = ? WHERE key = ?", (b"garbage", key))
    con.commit()
    con.close()
    with pytest.warns(StoredRunWarning, match="unreadable payload"):
        again = sweep(funcs.draws, GRID[:2], n_seeds=2, store=store, experiment="d")
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert store.verify() == [] and again.attrs["labkit"]["computed"] == 1


# ---------------------------------------------------------------------------------------------
# the process backend: thread caps, no orphans, scripts from standard input
# ---------------------------------------------------------------------------------------------
def test_process_workers_get_capped_blas_threads(monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    df = sweep(funcs.blas_threads, [{}], n_seeds=2, backend="process", n_workers=2)
    per_worker = str(max(1, (os.cpu_count() or 1) // 2))
    assert set(df["openblas"]) == {per_worker} and set(df["omp"]) == {per_worker}
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the parent's environment is restored
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # the user's choice is kept
    assert set(sweep(funcs.blas_threads, [{}], n_seeds=1, backend="process", n_workers=2)["openblas"]) == {"3"}


def test_a_killed_parent_leaves_no_orphaned_workers(tmp_path):
    script = ("import sys; from labkit.sweep import sweep; from tests._sweep_funcs import sleepy_pid\n"
              "sweep(sleepy_pid, [{'i': i} for i in range(2)], n_seeds=1, backend='process', n_workers=2)\n")
    env = {**os.environ, "SWEEP_PID_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("*.pid"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "workers did not start"
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    proc.kill()  # SIGKILL: the parent cannot clean up
    proc.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in pids if _alive(pid)]
    assert not alive, f"orphaned workers still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def test_a_sweep_from_a_script_on_standard_input_works():
    script = ("from labkit.sweep import sweep\nfrom tests._sweep_funcs import draws\n"
              "df = sweep(draws, [{'n': 2}], n_seeds=2, backend='process', n_workers=2)\nprint(len(df))\n")
    proc = subprocess.run([sys.executable, "-"], input=script, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4"
    script_main = ("from labkit.sweep import sweep\ndef f(config, rng):\n    return {'x': 1}\n"
                   "sweep(f, [{}], n_seeds=1, backend='process')\n")
    proc = subprocess.run([sys.executable, "-"], input=script_main, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "defined interactively in __main__" in proc.stderr
