"""docs/tutorial.md runs: its plugin package is written out, registered, run, drawn, and then
broken with the tutorial's planted bug, which the check must catch."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
CHECK = "bisection.halving_bound"
PACKAGE = "my_theorems"

BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks():
    return [(lang, body) for lang, body in BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))]


def _files():
    files = {}
    for _, body in _blocks():
        first = body.partition("\n")[0]
        if first.startswith("# file: "):
            files[first[len("# file: "):].strip()] = body  # the "# file:" line is a comment in both languages
    return files


def _mutation():
    (diff,) = [body for lang, body in _blocks() if lang == "diff"]
    old = [line[1:] for line in diff.splitlines() if line.startswith("-")]
    new = [line[1:] for line in diff.splitlines() if line.startswith("+")]
    return "\n".join(old), "\n".join(new)


def _forget_plugin():
    from labkit.check import _REGISTRY

    _REGISTRY.pop(CHECK, None)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def _load(root: Path):
    """Install-free registration: the package directory on sys.path, then its register()."""
    import labkit

    _forget_plugin()
    importlib.invalidate_caches()
    plugin = importlib.import_module(PACKAGE)
    plugin.register()
    assert not [e for e in labkit.load_errors() if PACKAGE in str(e)], labkit.load_errors()
    return labkit.checks()[CHECK]


def test_tutorial_declares_the_entry_point():
    toml = _files()["pyproject.toml"]
    assert '[project.entry-points."labkit.checks"]' in toml
    assert f'{PACKAGE} = "{PACKAGE}:register"' in toml
    import tomllib

    parsed = tomllib.loads(toml)
    assert parsed["project"]["entry-points"]["labkit.checks"] == {PACKAGE: f"{PACKAGE}:register"}


def test_tutorial_documents_the_contract():
    text = TUTORIAL.read_text(encoding="utf-8")
    for field in ("name", "paper", "claim", "tag", "measure", "plot", "family", "requires", "install", "cost",
                  "url", "measured", "ci", "expected", "relation", "tol", "data", "details", "extras", "interval"):
        assert f"| `{field}` |" in text, field
    for needle in ("ctx.pick", "ctx.sweep(fn, configs, n_seeds=..., experiment=...)", "labkit.worst_case",
                   '`"<="`', '`">="`', '`"=="`', "fn(config, rng)", "module level", "result.extras",
                   "code version", "--backend process"):
        assert needle in text, needle


def test_tutorial_check_runs_passes_draws_and_catches_the_planted_bug(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = _files()
    assert {"pyproject.toml", f"{PACKAGE}/__init__.py", f"{PACKAGE}/bisection.py"} <= set(files)
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        check = _load(tmp_path)
        assert check.family == "tutorial" and check.tag == "R"
        result = check.run(scale="quick", rng=0)
        assert result.error is None, result.error
        assert result.passed, result.details
        assert result.relation == "<=" and result.interval == "range"
        fig = check.plot(result)
        assert fig.axes and fig.axes[0].get_legend() is not None
        plt.close(fig)
        # the tutorial's "run it from Python" block, as written
        (snippet,) = [body for lang, body in _blocks() if lang == "python" and f'checks()["{CHECK}"].run' in body]
        namespace = {}
        exec(compile(snippet, str(TUTORIAL), "exec"), namespace)
        assert namespace["result"].passed
        plt.close(namespace["fig"])

        # the tutorial's planted bug: the check must fail
        old, new = _mutation()
        source = tmp_path / PACKAGE / "bisection.py"
        text = source.read_text(encoding="utf-8")
        assert text.count(old) == 1, "the planted bug no longer matches the tutorial's code"
        source.write_text(text.replace(old, new), encoding="utf-8")
        broken = _load(tmp_path)
        bad = broken.run(scale="quick", rng=0)
        assert bad.error is None, bad.error
        assert not bad.passed, f"the planted bug went unnoticed: {bad.measured} {bad.details}"
        assert bad.measured > 1.0
    finally:
        _forget_plugin()
    import labkit

    assert CHECK not in labkit.checks()


@pytest.mark.parametrize("lang", ["python"])
def test_tutorial_python_blocks_compile(lang):
    for block_lang, body in _blocks():
        if block_lang == lang:
            compile(body, str(TUTORIAL), "exec")
