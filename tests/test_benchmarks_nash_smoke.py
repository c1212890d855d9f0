"""Keep benchmarks/bench_nash.py runnable: a seconds-long smoke run, no timing assertions."""

import importlib.util
import math
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_nash.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_nash", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nash_benchmark_smoke(capsys):
    bench = _load()
    rows = bench.main(["--tiny", "--repeats", "1"])  # the OpenSpiel part runs only if installed
    out = capsys.readouterr().out
    assert "## a. One exact Nash-MP iteration" in out and "| K | Pref (MB) |" in out
    assert "## b. Sampled duels" in out and "| game.duel(i, j, rng=rng) (public) |" in out
    assert "## c. Cross-check against OpenSpiel" in out

    assert rows["iteration"]
    for K, n_iter, t_bound, t_public, t_raw, nbytes in rows["iteration"]:
        assert nbytes == 8 * K * K
        assert all(math.isfinite(t) and t > 0 for t in (t_bound, t_public, t_raw))
    assert rows["duels"]
    for _, n, sec in rows["duels"]:
        assert n > 0 and math.isfinite(sec) and sec > 0

    if bench.openspiel_available():
        assert rows["openspiel"] and "max over games" in out
        for _, r in rows["openspiel"]:
            assert all(math.isfinite(v) for v in r.values())
    else:
        assert rows["openspiel"] is None and "skipped" in out
