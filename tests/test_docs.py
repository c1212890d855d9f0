"""Every citation in the code, the notebooks and the README resolves inside the repository.

The theory the lab implements is written up in ``docs/`` (``docs/theory/planning.md``,
``docs/theory/nash.md``, provenance tags in ``docs/README.md``). Nothing a user can read may
point to notes outside the repository, or use the old note tags instead of ``labkit.TAGS``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED_DIRS = ("mdps", "algorithms", "proofs_checks", "labkit", "notebooks")
SCANNED_FILES = ("README.md",)
SUFFIXES = {".py", ".ipynb", ".md", ".rst", ".txt", ".toml", ".cfg"}

#: References to documents a user of the project does not have, and the retired note tags.
FORBIDDEN = ("theory/mdp.md", "theory/preference.md", "preference.md", "mdp.md", "design.md",
             "theory notes", "[mem]", "[der]", "[abs]")

DOC_PATH = re.compile(r"docs/[A-Za-z0-9_./-]*?\.md")


def _files():
    out = [ROOT / f for f in SCANNED_FILES if (ROOT / f).is_file()]
    for d in SCANNED_DIRS:
        base = ROOT / d
        if base.is_dir():
            out += sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in SUFFIXES
                          and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts)
    return out


FILES = _files()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_files_are_scanned():
    names = {_rel(p) for p in FILES}
    assert "README.md" in names
    assert any(n.startswith("proofs_checks/nash/") for n in names)
    assert any(n.startswith("notebooks/") for n in names)


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_no_citation_outside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    lower = text.lower()
    found = []
    for needle in FORBIDDEN:
        start = 0
        while (i := lower.find(needle.lower(), start)) >= 0:
            line = text.count("\n", 0, i) + 1
            found.append(f"{_rel(path)}:{line}: {needle!r}")
            start = i + 1
    assert not found, "citations of documents outside the repository or retired tags:\n" + "\n".join(found)


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_cited_docs_exist(path):
    text = path.read_text(encoding="utf-8")
    missing = sorted({m for m in DOC_PATH.findall(text) if not (ROOT / m).is_file()})
    assert not missing, f"{_rel(path)} cites docs that do not exist: {missing}"


def test_docs_are_cited_and_indexed():
    cited = set()
    for path in FILES:
        cited.update(DOC_PATH.findall(path.read_text(encoding="utf-8")))
    assert {"docs/theory/nash.md", "docs/theory/planning.md", "docs/README.md"} <= cited
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for page in ("theory/planning.md", "theory/nash.md", "tutorial.md", "mutation_suite.md"):
        assert f"({page})" in index, f"docs/README.md does not link {page}"


def test_theory_pages_cover_every_registered_check():
    import labkit

    pages = {"planning": (ROOT / "docs/theory/planning.md").read_text(encoding="utf-8"),
             "nash": (ROOT / "docs/theory/nash.md").read_text(encoding="utf-8"),
             "exploration": (ROOT / "docs/theory/exploration.md").read_text(encoding="utf-8"),
             "robust": (ROOT / "docs/theory/robust.md").read_text(encoding="utf-8"),
             "average_reward": (ROOT / "docs/theory/average_reward.md").read_text(encoding="utf-8"),
             "submodular": (ROOT / "docs/theory/submodular.md").read_text(encoding="utf-8"),
             "linear": (ROOT / "docs/theory/linear.md").read_text(encoding="utf-8"),
             "preference_learning": (ROOT / "docs/theory/preference_learning.md").read_text(encoding="utf-8"),
             "torch": (ROOT / "docs/theory/torch_bridge.md").read_text(encoding="utf-8")}
    missing = [f"{c.family}: {name}" for name, c in labkit.checks().items()
               if c.family in pages and f"### {name}\n" not in pages[c.family]]
    assert not missing, f"checks without a section on their theory page: {missing}"


def test_tag_vocabulary_is_documented():
    import labkit

    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for tag in labkit.TAGS:
        assert f"| **{tag}** |" in index
    for old, new in (("[abs]", "A"), ("[mem]", "U"), ("[der]", "R")):
        assert f"`{old}` -> **{new}**" in index
