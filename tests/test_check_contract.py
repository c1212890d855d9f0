"""The Check contract: verdicts come from the numbers, the registry is strict, results round-trip."""

import math

import numpy as np
import pandas as pd
import pytest

import labkit
from labkit.check import Check, CheckResult, Outcome, verdict


@pytest.mark.parametrize(
    "measured, ci, expected, relation, tol, passed",
    [
        (0.9, (0.89, 0.91), 0.9, "==", 1e-3, True),
        (0.95, (0.94, 0.96), 0.9, "==", 1e-3, False),   # CI misses the band
        (0.90, (0.85, 0.905), 0.9, "<=", 1e-3, False),  # upper limit above bound + tol
        (0.90, (0.85, 0.9005), 0.9, "<=", 1e-3, True),
        (0.50, (0.45, 0.55), 0.5, ">=", 0.1, True),
        (0.50, (0.35, 0.55), 0.5, ">=", 0.1, False),
    ],
)
def test_verdict_relations(measured, ci, expected, relation, tol, passed):
    assert verdict(measured, ci, expected, relation, tol) is passed


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_verdict_never_passes_non_finite(bad):
    assert not verdict(bad, (0.0, 0.0), 0.0, "<=", 1.0)
    assert not verdict(0.0, (bad, 0.0), 0.0, "==", 1.0)
    assert not verdict(0.0, (0.0, 0.0), bad, ">=", 1.0)


def test_verdict_rejects_unknown_relation():
    with pytest.raises(ValueError, match="relation"):
        verdict(0.0, (0.0, 0.0), 0.0, "<", 0.0)


def _outcome(measured):
    return Outcome(measured=measured, ci=(measured, measured), expected=1.0, relation="<=", tol=0.0,
                   data=pd.DataFrame({"x": [measured]}))


def test_run_derives_verdict_from_numbers_and_round_trips():
    chk = Check("contract.demo", "nobody 2026", "x <= 1", "R", lambda ctx: _outcome(ctx.pick(0.5, 2.0)))
    quick, full = chk.run("quick", rng=3), chk.run("full", rng=3)
    assert quick.passed and not full.passed
    assert quick.seed == 3 and quick.scale == "quick" and quick.seconds >= 0
    back = CheckResult.from_json(quick.to_json(), quick.data)
    assert back.to_json() == quick.to_json()


def test_run_validates_arguments_and_a_wrong_return_type_fails():
    chk = Check("contract.bad", "p", "c", "R", lambda ctx: 1.0)
    with pytest.raises(ValueError, match="scale"):
        chk.run("medium")
    with pytest.raises(ValueError, match="rng"):
        chk.run("quick", rng=-1)
    with pytest.raises(ValueError, match="rng"):
        chk.run("quick", rng=2**63)  # the store keeps seeds as SQLite integers
    res = chk.run("quick")
    assert not res.passed and "expected Outcome" in res.error


def test_an_exception_in_a_check_is_a_failed_verdict_with_the_error():
    def broken(ctx):
        raise ZeroDivisionError("planted")

    res = Check("contract.raises", "p", "c", "R", broken).run("quick")
    assert res.passed is False and math.isnan(res.measured)
    assert "ZeroDivisionError: planted" in res.details and "Traceback" in res.error
    rec = res.to_json()
    assert rec["passed"] is False and "planted" in rec["error"]


def test_store_errors_and_interrupts_propagate():
    from labkit.store import StoreError

    def store_broken(ctx):
        raise StoreError("disk full")

    with pytest.raises(StoreError):
        Check("contract.store", "p", "c", "R", store_broken).run("quick")

    def interrupted(ctx):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Check("contract.interrupt", "p", "c", "R", interrupted).run("quick")


def test_tags_are_one_vocabulary():
    assert set(labkit.TAGS) == {"V", "A", "R", "U"}
    with pytest.raises(ValueError, match="tag must be one of"):
        Check("contract.tag", "p", "c", "mem", lambda ctx: None)
    for chk in labkit.checks().values():
        assert chk.tag in labkit.TAGS, chk.name


def test_worst_case_reports_a_labelled_range():
    out = labkit.worst_case([0.1, 0.5, 0.3], "<=", 1.0, 0.0, pd.DataFrame(), "d")
    assert out.measured == 0.5 and out.ci == (0.1, 0.5) and out.interval == "range"
    assert out.interval_label == "range over instances"
    low = labkit.worst_case([0.1, 0.5], ">=", 0.0, 0.0, pd.DataFrame(), "d")
    assert low.measured == 0.1
    nan = labkit.worst_case([0.1, float("nan")], "<=", 1.0, 0.0, pd.DataFrame(), "d")
    assert math.isnan(nan.measured)  # an instance without a measurement cannot pass
    with pytest.raises(ValueError):
        labkit.worst_case([], "<=", 1.0, 0.0, pd.DataFrame(), "d")


def test_checkpoints_are_log_spaced_unique_and_end_at_n():
    pts = labkit.checkpoints(10**5, 40, dense=5)
    assert pts[0] == 0 and pts[-1] == 10**5 and np.all(np.diff(pts) > 0)
    assert {0, 1, 2, 3, 4} <= set(pts.tolist()) and len(pts) <= 45
    with pytest.raises(ValueError, match="n must be"):
        labkit.checkpoints(0)


def test_outcome_extras_must_be_json_data():
    with pytest.raises(TypeError, match=r"extras\['fit'\]"):
        Outcome(0.0, (0.0, 0.0), 0.0, "<=", 0.0, pd.DataFrame(), extras={"fit": object()})


def test_requires_marks_a_check_unavailable_without_breaking_others():
    chk = Check("contract.needs_extra", "p", "c", "R", lambda ctx: _outcome(0.5),
                requires=("no_such_module_xyz",), install='pip install "rl-theory-lab[xyz]"')
    assert not chk.available and "no_such_module_xyz" in chk.unavailable_reason()
    assert "pip install" in chk.unavailable_reason()
    with pytest.raises(RuntimeError, match="unavailable"):
        chk.run("quick")


def test_select_by_pattern_and_family():
    nash_md = labkit.select(["nash_md.*"])
    assert nash_md and all(c.name.startswith("nash_md.") for c in nash_md)
    with pytest.raises(KeyError, match="no check matches"):
        labkit.select(["zz_nothing.*"])
    with pytest.raises(KeyError, match="unknown family"):
        labkit.select(families=["no_such_family"])


def test_outcome_rejects_unknown_relation():
    with pytest.raises(ValueError, match="relation"):
        Outcome(0.0, (0.0, 0.0), 0.0, "~", 0.0, pd.DataFrame())


def test_registry_is_strict_and_finds_plugins():
    registry = labkit.checks()
    assert "value_iteration.tight_rate" in registry  # found through the entry point
    twin = Check("value_iteration.tight_rate", "p", "c", "R", lambda ctx: None)
    with pytest.raises(ValueError, match="already registered"):
        labkit.register(twin)
    with pytest.raises(KeyError, match="unknown check"):
        labkit.get_check("value_iteration.no_such_claim")


def test_json_maps_non_finite_to_null():
    res = CheckResult("n", False, np.nan, (np.nan, np.inf), 1.0, "<=", 0.0, 0.1, "quick", 0, "c", "R",
                      pd.DataFrame())
    rec = res.to_json()
    assert rec["measured"] is None and rec["ci"] == [None, None]
    assert set(rec) >= {"name", "passed", "measured", "expected", "ci", "seconds"}


def test_a_check_module_that_fails_to_import_is_reported_and_skipped(tmp_path, monkeypatch):
    from labkit.check import _LOAD_ERRORS, _REGISTRY

    (tmp_path / "half_broken_checks.py").write_text(
        "import labkit\n"
        "labkit.register(labkit.Check('zz_half.first', 'p', 'c', 'R', lambda ctx: None))\n"
        "import torch_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    n_errors = len(_LOAD_ERRORS)
    try:
        errors = labkit.load_modules(["half_broken_checks"])
        assert len(errors) == 1 and "module half_broken_checks" in str(errors[0])
        assert "ModuleNotFoundError" in errors[0].error
        assert "zz_half.first" not in _REGISTRY  # nothing half-registered
        assert errors[0] in labkit.load_errors()
    finally:
        del _LOAD_ERRORS[n_errors:]
