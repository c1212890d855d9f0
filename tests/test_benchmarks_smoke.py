"""Keep the benchmark scripts runnable: a seconds-long smoke run, no timing assertions."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_planning.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_planning", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
def test_planning_benchmark_smoke(capsys):
    rows = _load().main(["--tiny", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "bandwidth bound" in out and "| lab VI |" in out
    for layout in ("dense", "sparse"):
        lab = [r for r in rows[layout] if r[0].startswith("lab")]
        assert lab and all(r[3] <= 1e-8 for r in lab)  # every lab solver reached the target error
