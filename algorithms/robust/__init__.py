"""algorithms.robust: algorithms for robust MDPs built on the exact machinery of :mod:`mdps.robust`.

=================================  ==========================================================
:func:`iwocs`                      incremental worst-case search: the robust problem as a
                                   sequence of non-robust ones (Zouitine, Geist, Rachelson
                                   2024, arXiv:2410.06212), with monotone upper/lower
                                   estimates and a certificate of robust suboptimality
:class:`IWOCSResult`               its record: ``policy``, ``upper``, ``lower``,
                                   ``certificate``, ``models``, ``incumbents``
=================================  ==========================================================

Every name loads its module on first attribute access, so ``from algorithms import robust``
compiles nothing. Theory: docs/theory/robust.md, section "IWOCS".
"""

from __future__ import annotations

import importlib

_IWOCS = ("iwocs", "IWOCSResult")
_HOME = {n: "algorithms.robust.iwocs" for n in _IWOCS}

__all__ = list(_IWOCS)


def __getattr__(name):
    if name in _HOME:
        # the submodule ``iwocs`` shares its name with its function: importing it binds the module
        # as this package's attribute, so every name of that module is bound here right after
        module = importlib.import_module(_HOME[name])
        for n, home in _HOME.items():
            if home == _HOME[name]:
                globals()[n] = getattr(module, n)
        return globals()[name]
    raise AttributeError(f"module 'algorithms.robust' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))
