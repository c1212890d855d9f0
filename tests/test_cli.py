"""The `labkit` command line: list, check (table and JSON), figure, report, and its errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from labkit import cli
from labkit.check import _REGISTRY, Check, Outcome


@pytest.fixture(autouse=True)
def lab_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DIR", str(tmp_path / "lab"))
    return tmp_path / "lab"


@pytest.fixture
def failing_check():
    chk = Check("zz_test.always_exceeds", "test", "1 <= 0 (a check that must fail)", "R",
                lambda ctx: Outcome(1.0, (1.0, 1.0), 0.0, "<=", 0.0, pd.DataFrame({"v": [1.0]})))
    _REGISTRY[chk.name] = chk
    yield chk
    del _REGISTRY[chk.name]


def test_list_text_and_json(capsys):
    assert cli.main(["list"]) == 0
    assert "value_iteration.tight_rate" in capsys.readouterr().out
    assert cli.main(["list", "--json"]) == 0
    names = {c["name"] for c in json.loads(capsys.readouterr().out)}
    assert {"value_iteration.tight_rate", "policy_iteration.matches_lp"} <= names


def test_check_all_json_passes_and_follows_design(capsys, lab_dir):
    code = cli.main(["check", "--all", "--json", "--seed", "0"])
    records = json.loads(capsys.readouterr().out)
    failed = [r["name"] for r in records if not r["passed"]]
    assert code == 0, f"failing checks: {failed}"
    assert len(records) >= 7
    for rec in records:
        assert {"name", "passed", "measured", "expected", "ci", "seconds"} <= set(rec)
        assert len(rec["ci"]) == 2
    assert (lab_dir / "store.sqlite").exists()


def test_failing_check_exits_1_with_table(capsys, failing_check):
    assert cli.main(["check", failing_check.name, "--no-store"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "0 passed, 1 failed" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "no_such.check"], "unknown check"),
        (["check"], "name at least one check"),
        (["check", "--all", "value_iteration.tight_rate"], "not both"),
        (["figure", "no_such.check"], "unknown check"),
    ],
)
def test_usage_errors_are_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.parametrize("argv", [["check", "--all", "--seed", "-3"], ["check", "--all", "--scale", "huge"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_figure_runs_missing_check_then_redraws_from_store(tmp_path, capsys):
    out = tmp_path / "figs"
    assert cli.main(["figure", "value_iteration.tight_rate", "--out", str(out)]) == 0
    pdf = out / "value_iteration.tight_rate.quick.pdf"
    png = out / "value_iteration.tight_rate.quick.png"
    assert pdf.stat().st_size > 0 and png.stat().st_size > 0
    capsys.readouterr()
    png.unlink()
    assert cli.main(["figure", "value_iteration.tight_rate", "--out", str(out)]) == 0
    assert "running" not in capsys.readouterr().err  # drawn from the store, not re-run
    assert png.exists()


def test_console_script_is_installed():
    # the script sits beside the interpreter of the environment the package is installed in
    exe = shutil.which("labkit", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "check", "no_such.check"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown check" in proc.stderr


def test_report_writes_markdown_with_figures(tmp_path, monkeypatch):
    from labkit.check import get_check

    only = {"value_iteration.tight_rate": get_check("value_iteration.tight_rate")}
    monkeypatch.setattr(cli, "checks", lambda: only)
    out = tmp_path / "report"
    assert cli.main(["report", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| `value_iteration.tight_rate` |" in text and "PASS" in text
    assert "figures/value_iteration.tight_rate.quick.png" in (out / "checks" / "value_iteration.tight_rate.html").read_text()
    assert (out / "figures" / "value_iteration.tight_rate.quick.png").exists()


# ---------------------------------------------------------------------------------------------
# a stored result never outlives the code that computed it (the newcomer review's scenario)
# ---------------------------------------------------------------------------------------------
PLUGIN_CHECKS = '''
import labkit
from labkit import Check, Outcome


def run(config, rng):
    return {"value": VALUE}


def measure(ctx):
    frame = ctx.sweep(run, [{"k": 1}], n_seeds=1)
    v = float(frame["value"].iloc[0])
    return Outcome(v, (v, v), 0.9, ">=", 0.0, frame, interval="exact")


def register():
    labkit.register(Check("myplug.demo", "me 2026", "value >= 0.9", "R", measure, family="myplug"))
'''


def _write_plugin(root: Path, value: float, *, hook: str = "myplug:register", body: str | None = None):
    pkg = root / "myplug"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text((body or PLUGIN_CHECKS).replace("VALUE", repr(value)))
    dist = root / "myplug-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[labkit.checks]\nmyplug = {hook}\n")


def _labkit(args, root: Path, lab: Path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)]), "LABKIT_DIR": str(lab)}
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True, env=env,
                          cwd=root, timeout=300)


REPO = Path(__file__).resolve().parents[1]


def test_an_edited_plugin_check_is_recomputed_not_reloaded(tmp_path):
    root, lab = tmp_path / "plugin", tmp_path / "lab"
    _write_plugin(root, 0.94)
    first = _labkit(["check", "myplug.demo", "--json"], root, lab)
    assert first.returncode == 0, first.stderr
    rec = json.loads(first.stdout)[0]
    assert rec["measured"] == 0.94 and rec["runs_computed"] == 1 and rec["runs_loaded"] == 0

    again = _labkit(["check", "myplug.demo"], root, lab)  # unchanged code: from the store, and it says so
    assert again.returncode == 0 and "stored" in again.stdout and "all 1 runs from the store" in again.stdout

    _write_plugin(root, 0.71)  # the user fixes (here: changes) the run function
    fixed = _labkit(["check", "myplug.demo", "--json"], root, lab)
    rec = json.loads(fixed.stdout)[0]
    assert fixed.returncode == 1 and rec["measured"] == 0.71 and rec["runs_computed"] == 1
    # the old version's results are still listed until pruned
    listing = _labkit(["store", "list"], root, lab)
    assert listing.returncode == 0 and listing.stdout.count("myplug.demo") == 4  # runs + check, 2 versions
    pruned = _labkit(["store", "prune"], root, lab)
    assert pruned.returncode == 0 and "deleted 1 runs and 1 check results" in pruned.stdout
    forced = _labkit(["check", "myplug.demo", "--recompute", "--json"], root, lab)
    assert json.loads(forced.stdout)[0]["runs_computed"] == 1


@pytest.mark.parametrize("hook, body, message", [
    ("myplug:register", "raise ImportError('no module named torchx')", "ImportError: no module named torchx"),
    ("myplug:register", "def register(registry):\n    pass\n", "TypeError"),
    ("myplug:missing", "x = 1\n", "AttributeError"),
])
def test_a_broken_plugin_is_named_and_skipped(tmp_path, hook, body, message):
    root, lab = tmp_path / "plugin", tmp_path / "lab"
    _write_plugin(root, 0.0, hook=hook, body=body)
    proc = _labkit(["list"], root, lab)
    assert proc.returncode == 0
    assert "value_iteration.tight_rate" in proc.stdout  # the lab's own checks are unaffected
    assert "plugin 'myplug'" in proc.stderr and message in proc.stderr and "Traceback" not in proc.stderr
    proc = _labkit(["check", "value_iteration.tight_rate", "--no-store"], root, lab)
    assert proc.returncode == 0 and "plugin 'myplug'" in proc.stderr


# ---------------------------------------------------------------------------------------------
# environment and store errors: one line, exit 2 (1 means a check failed)
# ---------------------------------------------------------------------------------------------
def _one_line_error(capsys, code, fragment):
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and fragment in err, err
    assert len([line for line in err.splitlines() if line.startswith("labkit")]) == 1


def test_lab_dir_that_is_a_file_or_under_a_file(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("LABKIT_DIR", str(blocker))
    _one_line_error(capsys, cli.main(["check", "value_iteration.tight_rate"]), "cannot use the result store")
    monkeypatch.setenv("LABKIT_DIR", str(blocker / "sub"))
    _one_line_error(capsys, cli.main(["figure", "value_iteration.tight_rate"]), "cannot use the result store")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_lab_dir(tmp_path, monkeypatch, capsys):
    lab = tmp_path / "ro"
    lab.mkdir()
    lab.chmod(0o500)
    monkeypatch.setenv("LABKIT_DIR", str(lab))
    try:
        _one_line_error(capsys, cli.main(["check", "value_iteration.tight_rate"]), "store")
    finally:
        lab.chmod(0o700)


def test_corrupt_and_newer_stores(lab_dir, capsys):
    lab_dir.mkdir(parents=True)
    (lab_dir / "store.sqlite").write_bytes(b"not a database at all" * 100)
    _one_line_error(capsys, cli.main(["check", "value_iteration.tight_rate"]), "not a labkit result store")
    (lab_dir / "store.sqlite").unlink()
    from labkit.store import ResultStore
    import sqlite3

    ResultStore(lab_dir / "store.sqlite")
    con = sqlite3.connect(lab_dir / "store.sqlite")
    con.execute("PRAGMA user_version=99")
    con.commit()
    con.close()
    _one_line_error(capsys, cli.main(["store", "list"]), "newer than this labkit understands")


def test_disk_full_during_a_sweep_is_an_environment_error(monkeypatch, capsys):
    from labkit.store import ResultStore, StoreError

    def full(self, *args, **kwargs):
        raise StoreError("result store 'x': database or disk is full")

    monkeypatch.setattr(ResultStore, "_put_encoded", full)
    _one_line_error(capsys, cli.main(["check", "value_iteration.tight_rate"]), "disk is full")


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(capsys, cli.main(["figure", "value_iteration.tight_rate", "--out", str(blocker / "figs")]),
                    "cannot write figures")
    _one_line_error(capsys, cli.main(["report", "--out", str(blocker / "rep")]), "cannot write the report")


def test_dask_backend_without_dask(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    _one_line_error(capsys, cli.main(["check", "value_iteration.tight_rate", "--backend", "dask"]),
                    "pip install")


def test_seed_beyond_sqlite_range_is_refused_up_front(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", "value_iteration.tight_rate", "--seed", str(2**63)])
    assert exc.value.code == 2 and "2**63" in capsys.readouterr().err
    assert cli.main(["check", "value_iteration.tight_rate", "--seed", str(2**63 - 1), "--no-store"]) == 0


def test_ctrl_c_is_one_line_and_the_store_survives(capsys, lab_dir):
    def interrupted(ctx):
        raise KeyboardInterrupt

    chk = Check("zz_test.interrupted", "t", "c", "R", interrupted)
    _REGISTRY[chk.name] = chk
    try:
        assert cli.main(["check", "value_iteration.tight_rate", chk.name]) == 130
    finally:
        del _REGISTRY[chk.name]
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    from labkit.store import ResultStore

    assert ResultStore(lab_dir / "store.sqlite").verify() == []
    assert not ResultStore(lab_dir / "store.sqlite").inventory().empty  # the finished check's runs


def test_a_check_that_raises_fails_without_stopping_the_others(capsys):
    def broken(ctx):
        raise FloatingPointError("planted")

    chk = Check("zz_test.broken", "t", "c", "R", broken)
    _REGISTRY[chk.name] = chk
    try:
        code = cli.main(["check", chk.name, "value_iteration.tight_rate", "--json", "--no-store"])
    finally:
        del _REGISTRY[chk.name]
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert records[chk.name]["passed"] is False and "FloatingPointError: planted" in records[chk.name]["error"]
    assert records["value_iteration.tight_rate"]["passed"] is True


def test_patterns_families_version_and_store_commands(capsys):
    assert cli.main(["list", "nash_md.*"]) == 0
    out = capsys.readouterr().out
    assert "nash_md.constant_step_plateau" in out and "value_iteration" not in out
    assert cli.main(["list", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert all({"family", "tag", "cost_seconds", "available"} <= set(r) for r in recs)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and "labkit" in capsys.readouterr().out
    assert cli.main(["check", "value_iteration.*", "--no-store", "--json"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert names == {"value_iteration.tight_rate", "value_iteration.garnet_contraction"}
    assert cli.main(["store", "verify"]) == 0 and "0 unreadable records" in capsys.readouterr().out
    assert cli.main(["store", "evict", "no-such-key"]) == 2


def test_a_closed_pipe_is_not_a_traceback():
    proc = subprocess.run(f"{sys.executable} -m labkit.cli list --json | head -c 100", shell=True,
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_figure_styles_names_and_metadata(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "figs"
    assert cli.main(["figure", "value_iteration.tight_rate", "--out", str(out), "--style", "icml",
                     "--column", "single"]) == 0
    assert cli.main(["figure", "value_iteration.tight_rate", "--out", str(out), "--scale", "full", "--seed", "3"]) == 0
    quick, full = out / "value_iteration.tight_rate.quick.png", out / "value_iteration.tight_rate.full.seed3.png"
    assert quick.exists() and full.exists()  # quick and full scale do not overwrite each other
    meta = Image.open(quick).text
    assert meta["Title"] == "value_iteration.tight_rate"
    assert "scale=quick" in meta["Keywords"] and "seed=0" in meta["Keywords"] and "code=" in meta["Keywords"]
    assert "scale=full" in Image.open(full).text["Keywords"]
    width_in = Image.open(quick).size[0] / 300  # 300 dpi, tight bounding box: about one ICML column
    assert 2.5 < width_in < 3.6
    assert b"value_iteration.tight_rate" in (out / "value_iteration.tight_rate.quick.pdf").read_bytes()
    with pytest.raises(SystemExit):
        cli.main(["figure", "value_iteration.tight_rate", "--style", "nature"])


def test_the_cli_style_choices_match_the_figure_styles():
    from labkit import figures

    assert cli.STYLES == tuple(sorted(figures.STYLES)) and cli.COLUMNS == figures.COLUMNS
