"""The README's Python examples run as written, print what they say, and its table of checks
lists exactly the registered checks."""

import re
from pathlib import Path

import labkit

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_DIR", str(tmp_path))
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python example"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    assert namespace["result"].passed
    gamma = namespace["mdp"].gamma
    assert abs(namespace["fit"].estimate - gamma) <= 1e-3 * (1 - gamma)  # what the text says
    out = capsys.readouterr().out
    assert "-0" not in out.split("KL after")[-1].split("(")[0]  # no negative round-off KL printed
    assert namespace["kl"][-1] <= namespace["envelope"][-1]


def test_readme_lists_every_registered_check():
    table = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", README.read_text(), flags=re.M))
    assert table == set(labkit.checks()), (sorted(set(labkit.checks()) - table), sorted(table - set(labkit.checks())))
