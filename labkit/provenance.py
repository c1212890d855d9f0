"""Code versions: a fingerprint of the code that produced a result.

A stored result is only as current as the code that computed it. Every run the store keeps is
keyed by its experiment, config and seed *and* by the :func:`code_version` of the code that
produced it, so a run computed by other code is never handed back as current: after any edit
to the lab or to an experiment's module, the next sweep computes afresh, and finished runs of
unchanged code still resume after a kill.

What the fingerprint covers
---------------------------
* the source of every ``.py`` file of the lab's own packages, :data:`LAB_PACKAGES` (``labkit``
  knows their names but imports none of them: the files are found with
  :func:`importlib.util.find_spec` and read as bytes);
* the source of the package (or lone module) that defines the experiment function, so a
  plugin package's edits count as well as the lab's; for a function defined in ``__main__``
  without a file (a notebook cell, ``python -``), the function's own source, or its byte code
  when no source can be found;
* the Python minor version and the versions of the numerical libraries whose arithmetic the
  results depend on, :data:`NUMERIC_LIBRARIES`.

It is deliberately conservative: editing a comment anywhere in the lab invalidates every stored
run. A theory lab would rather recompute than trust a result another code computed. Nothing
outside ``.py`` files counts (READMEs, notebooks, data), and neither does the ``labkit``
command line's output format.

Cost: hashing reads each file once per process and re-reads it only when its size or
modification time changes, so computing a version costs a few hundred ``stat`` calls.

Examples
--------
>>> from labkit.provenance import code_version, short
>>> v = code_version()
>>> len(v), len(short(v))
(64, 10)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import inspect
import marshal
import os
import platform
import sys
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["LAB_PACKAGES", "NUMERIC_LIBRARIES", "code_version", "package_digest", "short", "environment"]

#: The lab's own top-level packages, hashed into every code version.
LAB_PACKAGES = ("labkit", "mdps", "algorithms", "proofs_checks")
#: Distributions whose versions enter every code version (their arithmetic is the results').
NUMERIC_LIBRARIES = ("numpy", "scipy", "numba")

_FILE_CACHE: dict[str, tuple[int, int, str]] = {}


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = str(path)
    hit = _FILE_CACHE.get(key)
    if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _FILE_CACHE[key] = (st.st_size, st.st_mtime_ns, digest)
    return digest


def _source_files(name: str) -> tuple[Path | None, list[Path]]:
    """``(root, files)`` of top-level module or package ``name``; ``(None, [])`` if not found."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None, []
    if spec is None:
        return None, []
    if spec.submodule_search_locations:
        roots = [Path(p) for p in spec.submodule_search_locations]
        files = sorted({f for root in roots for f in root.rglob("*.py") if "__pycache__" not in f.parts})
        return roots[0], files
    if spec.origin and spec.origin.endswith(".py"):
        path = Path(spec.origin)
        return path.parent, [path]
    return None, []


def package_digest(name: str) -> str:
    """SHA-256 of the ``.py`` sources of top-level package (or module) ``name``.

    Each file enters with its path relative to the package root, so moving a file changes the
    digest. A package that cannot be found hashes as ``"missing:<name>"``.
    """
    root, files = _source_files(name)
    h = hashlib.sha256(name.encode())
    if root is None:
        h.update(b"missing")
        return h.hexdigest()
    for f in files:
        try:
            rel = f.relative_to(root).as_posix()
        except ValueError:
            rel = f.name
        h.update(rel.encode())
        h.update(_file_digest(f).encode())
    return h.hexdigest()


def _function_digest(fn: Callable) -> str:
    """The source of ``fn`` (or its byte code): for functions without an importable module."""
    try:
        text = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = marshal.dumps(code) if code is not None else repr(fn).encode()
    return hashlib.sha256(text).hexdigest()


def _versions() -> list[str]:
    out = [f"python={sys.version_info.major}.{sys.version_info.minor}"]
    for dist in NUMERIC_LIBRARIES:
        try:
            out.append(f"{dist}={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist}=missing")
    return out


def code_version(fn: Callable | None = None, *, packages: Iterable[str] | None = None) -> str:
    """The fingerprint (SHA-256 hex) of the code a result of ``fn`` depends on.

    Parameters
    ----------
    fn : callable, optional
        An experiment function. Its top-level package (or, for ``__main__``, its own source)
        is hashed in addition to the lab's packages.
    packages : iterable of str, optional
        Top-level packages to hash instead of :data:`LAB_PACKAGES`.

    Returns
    -------
    str
        64 hex digits; equal for equal sources and library versions, different after any edit.
    """
    names = list(LAB_PACKAGES if packages is None else packages)
    parts = _versions()
    extra = None
    if fn is not None:
        module = getattr(fn, "__module__", None) or type(fn).__module__
        top = module.split(".")[0] if module else None
        main = sys.modules.get("__main__")
        if top == "__main__" or top is None:
            path = getattr(main, "__file__", None) if top == "__main__" else None
            extra = f"main:{_file_digest(Path(path))}" if path and Path(path).is_file() else f"fn:{_function_digest(fn)}"
        elif top not in names:
            names.append(top)
    for name in sorted(set(names)):
        parts.append(f"{name}:{package_digest(name)}")
    if extra:
        parts.append(extra)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def short(version: str | None) -> str:
    """The first 10 hex digits of a code version (for tables), or ``"unknown"``."""
    return version[:10] if version else "unknown"


def environment() -> dict:
    """A stamp of where results were computed: versions, machine, code version."""
    libs = {}
    for dist in (*NUMERIC_LIBRARIES, "pandas", "matplotlib", "rl-theory-lab"):
        try:
            libs[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            libs[dist] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "libraries": libs,
        "code_version": code_version(),
    }
