"""The `labkit` command line: list, check (table and JSON), figure, report, and its errors."""

import json
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
    pdf = out / "value_iteration__tight_rate.pdf"
    png = out / "value_iteration__tight_rate.png"
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
    assert "figures/value_iteration__tight_rate.png" in text
    assert (out / "figures" / "value_iteration__tight_rate.png").exists()
