"""algorithms.submodular: submodular RL on finite-horizon tabular MDPs (Prajapat, Mutný, Zeilinger,
Krause, "Submodular Reinforcement Learning", ICLR 2024, arXiv:2307.13372).

==================================  ==============================================================
:func:`submodular_optimum`          exact optimum over history-dependent policies: DP over
                                    (stage, state, visited set), tiny instances
:func:`greedy_policy`               the marginal-gain policy argmax_a E[Delta(s' | visited)]
:func:`history_policy_value`        exact J of a policy of (stage, state, visited set)
:func:`markov_value`                exact J of a time-indexed Markov policy (H, S, A)
:func:`exact_gradient`              J and its softmax gradient by enumerating trajectories
:func:`subpo_gradient`              the unbiased SubPO estimator (reward-to-go of marginal gains)
:func:`subpo`                       SubPO: policy gradient ascent on that estimator (tabular or
                                    linear softmax; compiled, batches of seeds with ``n_runs``)
:func:`linear_softmax_policy`       pi(a|s,h) proportional to exp(theta . phi(h, s, a))
==================================  ==============================================================

Every name loads its module on first attribute access. Theory: docs/theory/submodular.md.
"""

from __future__ import annotations

import importlib

_NAMES = ("submodular_optimum", "SubmodularOptimum", "greedy_policy", "GreedyPolicy", "history_policy_value",
          "markov_value", "exact_gradient", "subpo_gradient", "subpo", "SubPOResult", "SubPOBatch",
          "softmax_policy", "linear_softmax_policy")
_HOME = {n: "algorithms.submodular.subrl" for n in _NAMES}

__all__ = list(_NAMES)


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'algorithms.submodular' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))
