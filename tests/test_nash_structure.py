"""The shape of algorithms.nash (issue 7): the stable entry point, one-way public imports, the
oracle that owns its accounting, and the typed settings records."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import algorithms.nash as nash
from algorithms.nash import (
    DNOSettings,
    INPOSettings,
    MirrorProxSettings,
    NashSettings,
    OMDSettings,
    SPOSettings,
    WinRateOracle,
)
from tests._nash_helpers import seeded_game

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_algorithms_then_attribute_access_and_it_stays_cheap():
    """design.md's entry point ``import algorithms; algorithms.nash.nash_md`` (was AttributeError);
    ``import algorithms`` alone loads no subpackage and compiles nothing (no numba)."""
    code = ("import sys, algorithms; cheap = 'numba' not in sys.modules and 'algorithms.nash' not in sys.modules; "
            "f = algorithms.nash.nash_md; print(cheap, callable(f), 'nash' in dir(algorithms))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]
    import algorithms

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        algorithms.nope  # noqa: B018


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def test_algorithms_import_only_public_mdps_names():
    """algorithms imports mdps' public modules and names only (no ``mdps._x``, no ``_name``)."""
    bad = []
    for path in sorted((ROOT / "algorithms").rglob("*.py")):
        for module, names in _imports(path):
            if module.split(".")[0] != "mdps":
                continue
            if any(part.startswith("_") for part in module.split(".")) or any(n.startswith("_") for n in names):
                bad.append(f"{path.relative_to(ROOT)}: {module} {names}")
    assert not bad, bad


def test_public_api_is_listed_and_importable():
    for name in nash.__all__:
        assert getattr(nash, name) is not None, name


# --------------------------------------------------------------------------------------------- oracle
def test_oracle_counts_its_own_queries_and_duels():
    game = seeded_game(3, 4)
    P3 = np.asarray(game.Pref)[None]
    pi = np.full((1, 4), 0.25)
    exact = WinRateOracle(game, P3, "exact")
    np.testing.assert_allclose(exact.win_rates(pi), (P3[0] @ pi[0])[None], rtol=1e-15)
    exact.population()
    assert (exact.queries, exact.duels) == (2, 0)
    orc = WinRateOracle(game, P3, "sampled", n_samples=5, noise=0.1, rng=np.random.default_rng(0))
    orc.win_rates(pi)  # one query, K * n_samples duels
    assert (orc.queries, orc.duels) == (1, 20)
    a, b = orc.sample(pi, 7), orc.sample(pi, 7)  # sampling responses is not a query
    assert (orc.queries, orc.duels) == (1, 20) and a.shape == (1, 7)
    out = orc.pair_duels(a, b)  # one query, 7 duels
    assert (orc.queries, orc.duels) == (2, 27) and out.shape == (1, 7) and set(np.unique(out)) <= {0.0, 1.0}
    for attr in ("queries", "duels"):
        with pytest.raises(AttributeError):
            setattr(orc, attr, 0)


def test_results_report_the_oracle_counts():
    """NashResult.queries / duels are the oracle's counters after each iterate (module docstring)."""
    game = seeded_game(4, 5)
    res = nash.inpo(game, 0.3, 1.0, 4, fit="pair_loss", oracle="sampled", n_pairs=9, rng=1)
    np.testing.assert_array_equal(res.queries, np.arange(5))
    np.testing.assert_array_equal(res.duels, 9 * np.arange(5))
    res = nash.inpo(game, 0.3, 1.0, 4, fit="pair_loss")  # exact population loss: queries, no duels
    np.testing.assert_array_equal(res.queries, np.arange(5))
    np.testing.assert_array_equal(res.duels, 0)


# --------------------------------------------------------------------------------------------- settings
SETTINGS = [
    (lambda g: nash.nash_mirror_prox(g, 0.2, 2.0, 2), MirrorProxSettings, {"inner_steps": None}),
    (lambda g: nash.nash_md(g, 0.2, 1.0, 2), NashSettings, {}),
    (lambda g: nash.nash_ema(g, 0.2, 1.0, 2, schedule="decaying"), NashSettings, {"schedule": "decaying"}),
    (lambda g: nash.online_mirror_descent(g, 0.0, 1.0, 2, prox="exact"), OMDSettings, {"prox": "exact"}),
    (lambda g: nash.inpo(g, 0.2, 1.0, 2, fit="pair_loss", oracle="sampled", n_pairs=3, rng=0), INPOSettings,
     {"fit": "pair_loss", "n_pairs": 3, "n_samples": None, "oracle": "sampled"}),
    (lambda g: nash.spo(g, 1.0, 2, oracle="sampled", n_rollouts=4, rng=0), SPOSettings,
     {"n_rollouts": 4, "n_samples": None, "beta": 0.0}),
    (lambda g: nash.dno(g, 1.0, 2, fit="soft_label"), DNOSettings, {"fit": "soft_label", "n_pairs": None}),
    (lambda g: nash.nash_md(g, 0.2, 1.0, 2, schedule=lambda t: 0.5), NashSettings, {"schedule": "callable"}),
]


@pytest.mark.parametrize("run, cls, expected", SETTINGS, ids=[c[1].__name__ + str(i) for i, c in enumerate(SETTINGS)])
def test_settings_are_typed_frozen_records(run, cls, expected):
    res = run(seeded_game(5, 4))
    s = res.settings
    assert type(s) is cls and isinstance(s, NashSettings)
    assert (s.n_iter, s.n_contexts, s.n_responses) == (2, 1, 4) and s.step_sizes.shape == (2,)
    for name, value in expected.items():
        assert getattr(s, name) == value, name
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.beta = 1.0
    with pytest.raises(TypeError):
        s["beta"]  # noqa: B018  (no string-keyed access any more)
