"""algorithms.exploration: episodic exploration with exact pseudo-regret (compiled engine).

=================================  ==========================================================
:func:`ucbvi`                      UCBVI, Hoeffding or Bernstein bonus (Azar, Osband, Munos
                                   2017, arXiv:1703.05449); ``n_runs`` for a seed batch
:func:`greedy`                     the no-bonus control (certainty-equivalence planning)
:func:`psrl`                       posterior sampling (Osband, Russo, Van Roy 2013,
                                   arXiv:1306.0940), known rewards
:func:`ucbvi_regret_bound`         UCBVI-CH's regret bound (Theorem 1) [U: constants]
:func:`log_term`                   ``L = ln(5 S' A T / delta)``
:func:`hoeffding_bonus`            ``c * 7 H L / sqrt(max(1, n))``
:class:`ExplorationRun`            one run: ``values``, ``returns``, ``v_star``, ``regret``
:class:`ExplorationBatch`          ``n_runs`` runs, ``(n_runs, K)`` arrays; ``.run(i)``
=================================  ==========================================================

The engine (:mod:`algorithms.exploration.engine`) loads on first attribute access, so
``from algorithms import exploration`` compiles nothing.
"""

from __future__ import annotations

import importlib

_PUBLIC = ("ucbvi", "greedy", "psrl", "ucbvi_regret_bound", "log_term", "hoeffding_bonus", "run_seeds",
           "ExplorationRun", "ExplorationBatch", "ExplorationSettings")

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module("algorithms.exploration.engine"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'algorithms.exploration' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
