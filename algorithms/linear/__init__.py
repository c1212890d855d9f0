"""algorithms.linear: linear bandits (and, to come, linear MDPs) with exact regret.

=================================  ==========================================================
:func:`linucb`                     OFUL / LinUCB (Abbasi-Yadkori, Pál, Szepesvári 2011),
                                   compiled, batched seeds, exact optimistic step on the ball
:func:`oful_regret_bound`          the OFUL high-probability regret bound (Theorem 3)
:class:`LinearBanditRun`           one run: exact per-round pseudo-regret, actions played
:class:`LinearBanditBatch`         ``n_runs`` runs
=================================  ==========================================================

Every name loads its module on first attribute access, so ``from algorithms import linear``
compiles nothing. Theory: docs/theory/linear.md.
"""

from __future__ import annotations

import importlib

_LINUCB = ("linucb", "oful_regret_bound", "LinearBanditRun", "LinearBanditBatch", "LinUCBSettings")
_HOME = {n: "algorithms.linear.linucb" for n in _LINUCB}

__all__ = list(_LINUCB)


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'algorithms.linear' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))
