"""torch is optional: without it the lab imports, the registry loads, and the torch checks are
listed as unavailable and skipped with the install hint (torch hidden in a subprocess)."""

from __future__ import annotations

import subprocess
import sys

HIDE_TORCH = """
import sys, importlib.abc
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch'")
        return None
sys.meta_path.insert(0, Hide())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HIDE_TORCH + code], capture_output=True, text=True)


def test_torch_checks_are_skipped_with_the_install_hint_without_torch():
    out = _run("import labkit\n"
               "assert labkit.load_errors() == [], labkit.load_errors()\n"
               "from labkit.cli import main\n"
               "sys.exit(main(['check', 'torch_bridge.exact_iterates', 'torch_bridge.loss_gradients']))\n")
    assert out.returncode == 0, out.stderr
    assert "SKIP" in out.stdout and 'pip install "rl-theory-lab[torch]"' in out.stdout
    assert "2 skipped" in out.stdout


def test_the_lab_runs_without_torch():
    out = _run("import mdps, labkit, proofs_checks\n"
               "from algorithms import nash, preference_learning\n"
               "res = labkit.checks()['nash.equilibrium_fixed_point'].run(scale='quick', rng=0)\n"
               "print(res.passed, 'torch' in sys.modules)\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["True", "False"]
