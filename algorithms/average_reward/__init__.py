"""algorithms.average_reward: learning in average-reward MDPs with exact regret against the optimal gain.

=================================  ==========================================================
:func:`ucrl2`                      UCRL2 with extended value iteration (Jaksch, Ortner, Auer
                                   2010, JMLR 11)
:func:`span_bounded_ucrl`          SCAL-style UCRL with a known bias-span bound (Fruit et al.
                                   2018, arXiv:1802.04020; the tabular instance of LOOP, He,
                                   Zhong, Yang 2024, arXiv:2404.12648)
:func:`ucrl2_regret_bound`         ``34 D S sqrt(A T log(T / delta))`` (JOA 2010, Theorem 2)
:func:`extended_value_iteration`   EVI on L1 confidence sets, optional span truncation
:class:`AverageRewardRun`          one run: ``regret`` (pseudo), ``realised_regret``, path
:class:`AverageRewardBatch`        ``n_runs`` parallel runs (``n_runs=``), ``.run(i)``
=================================  ==========================================================

Every name loads its module on first attribute access, so ``from algorithms import
average_reward`` compiles nothing. Theory: docs/theory/average_reward.md.
"""

from __future__ import annotations

import importlib

_UCRL = ("ucrl2", "span_bounded_ucrl", "ucrl2_regret_bound", "extended_value_iteration", "AverageRewardRun",
         "AverageRewardBatch", "EVIResult")
_HOME = {n: "algorithms.average_reward.ucrl" for n in _UCRL}

__all__ = list(_UCRL)


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'algorithms.average_reward' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))
