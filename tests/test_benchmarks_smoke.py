"""Keep the benchmark scripts runnable: seconds-long smoke runs, no timing assertions."""

import math

import pytest

from benchmarks import bench_nash, bench_planning


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
def test_planning_benchmark_smoke(capsys):
    rows = bench_planning.main(["--tiny", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "bandwidth bound" in out and "| lab VI |" in out
    assert "| lab solve() default (tol=1e-10) |" in out and "| lab solve(tol=eps) (auto route) |" in out
    for layout in ("dense", "sparse"):
        lab = [r for r in rows[layout] if r[0].startswith("lab")]
        assert lab and all(r[3] <= 1e-8 for r in lab)  # every lab solver reached the target error


def test_nash_benchmark_smoke(capsys):
    rows = bench_nash.main(["--tiny", "--repeats", "1"])  # the OpenSpiel part runs only if installed
    out = capsys.readouterr().out
    assert "## a. One exact iteration vs its K x K matvecs" in out and "| K | algorithm |" in out
    assert "## b. Sampled duels" in out and "| game.duel(i, j, rng=rng) (public) |" in out
    assert "## c. Cross-check against OpenSpiel" in out

    assert rows["iteration"]
    assert {r[1] for r in rows["iteration"]} == set(bench_nash.ALGORITHMS)
    for K, _, m, n_iter, t_bound, t_public, nbytes in rows["iteration"]:
        assert nbytes == 8 * K * K and m in (1, 2) and n_iter >= 1
        assert all(math.isfinite(t) and t > 0 for t in (t_bound, t_public))
    assert rows["duels"]
    for _, n, sec in rows["duels"]:
        assert n > 0 and math.isfinite(sec) and sec > 0

    if bench_nash.openspiel_available():
        assert rows["openspiel"] and "max over games" in out
        for _, r in rows["openspiel"]:
            assert all(math.isfinite(v) for v in r.values())
    else:
        assert rows["openspiel"] is None and "skipped" in out


def test_preference_benchmark_smoke(capsys):
    from benchmarks import bench_preference

    rows = bench_preference.main(["--tiny", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "### a. Against cvxpy" in out and "### b. Against one pass" in out
    assert rows["kkt"] <= 1e-9
    assert all(math.isfinite(rows[k]) and rows[k] > 0 for k in ("lab", "pass", "gather_pass"))
    for label, n, t_cvx, t_lab, diff in rows["cvxpy"]:
        assert n > 0 and t_cvx > 0 and t_lab > 0 and diff < 1e-3  # same minimiser to solver tolerance


def test_exploration_benchmark_smoke(capsys):
    from benchmarks import bench_exploration

    rows = bench_exploration.main(["--tiny", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "compute bound" in out and "rlberry" in out
    assert all(math.isfinite(rows[k]) and rows[k] > 0 for k in ("hoeffding", "bernstein", "bound", "speedup2"))


def test_bench_robust_tiny():
    from benchmarks import bench_robust

    rows = bench_robust.main(["--tiny", "--repeats", "1", "--cvxpy-pairs", "2"])
    assert rows and rows[0]["robust_s"] > 0 and rows[0]["cvxpy_s"] > 0


@pytest.mark.distributed
def test_cluster_benchmark_smoke(capsys):
    pytest.importorskip("distributed")
    from benchmarks import bench_cluster

    rows = bench_cluster.main(["--tiny"])  # a scheduler and two workers as processes on loopback
    out = capsys.readouterr().out
    assert "| serial |" in out and "measured value identical on every backend" in out
    assert [r["workers"] for r in rows] == [0, 1, 2]
    assert all(math.isfinite(r["seconds"]) and r["seconds"] > 0 for r in rows)


def test_submodular_benchmark_smoke(capsys):
    from benchmarks import bench_submodular

    rows = bench_submodular.main(["--tiny", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "SubPO" in out and "sampling" in out
    assert all(math.isfinite(v) and v > 0 for v in rows.values())


def test_linear_benchmark_smoke(capsys):
    from benchmarks import bench_linear

    rows = bench_linear.main(["--tiny", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "## a. One step of the ridge statistics" in out and "## b. Public runs" in out
    for d, n, t1, t2, diff in rows["steps"]:
        assert t1 > 0 and t2 > 0 and diff < 1e-10
    assert {r[0] for r in rows["public"]} == {"lsvi_ucb", "linucb"}


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
def test_scaling_benchmark_smoke(capsys, tmp_path):
    from benchmarks import bench_scaling

    out = bench_scaling.main(["--tiny", "--repeats", "1", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert "### dense Garnets" in text and "### sparse Garnets" in text
    assert "| one sweep (bandwidth bound) | dense |" in text and "| lab solve() default | sparse |" in text
    assert (tmp_path / "planning_scaling.png").is_file() and (tmp_path / "planning_scaling.pdf").is_file()
    lab = [name for name in bench_scaling.SERIES if name.startswith("lab")]
    for layout, sizes in bench_scaling.SIZES["tiny"].items():
        assert sorted(out["results"][layout]) == sorted(sizes)
        for name in (bench_scaling.BOUND, *lab):  # every lab point and the bound has a fitted slope
            assert math.isfinite(out["fits"][layout][name][0])
        for S, row in out["results"][layout].items():
            for name in lab:  # every lab solve reached the target error against the exact V*
                seconds, err, eps, note = row[name]
                assert eps is not None and err <= bench_scaling.bp.TARGET, (layout, S, name, note)
            assert math.isfinite(row[bench_scaling.BOUND][0]) and row[bench_scaling.BOUND][0] > 0
        for name, (slope, lo, hi) in out["fits"][layout].items():
            if math.isfinite(lo):
                assert lo <= slope <= hi


def test_scaling_slope_fit_is_exact_on_a_power_law():
    from benchmarks import bench_scaling

    S = [100.0, 1000.0, 10_000.0]
    slope, lo, hi = bench_scaling.fit_slope(S, [2e-6 * s**1.5 for s in S])
    assert slope == pytest.approx(1.5, abs=1e-12) and lo == pytest.approx(1.5, abs=1e-9)
    assert hi == pytest.approx(1.5, abs=1e-9)
    assert all(math.isnan(v) for v in bench_scaling.fit_slope(S[:2], [1.0, 2.0])[1:])
