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


def test_run_validates_arguments_and_return_type():
    chk = Check("contract.bad", "p", "c", "R", lambda ctx: 1.0)
    with pytest.raises(ValueError, match="scale"):
        chk.run("medium")
    with pytest.raises(ValueError, match="rng"):
        chk.run("quick", rng=-1)
    with pytest.raises(TypeError, match="Outcome"):
        chk.run("quick")


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
