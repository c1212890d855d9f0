r"""Instances shared by the preference-learning checks.

The trap instance (RPO and HyPO checks; docs/theory/preference_learning.md, section 'RPO and
HyPO'). One context, ``K = 10`` responses, one-hot features (``phi(x, y) = e_y``, ``d = K``),
temperature ``beta = 1`` (so the true reward is ``r* = theta_star``):

* ``theta_star = (1.5, 1.07, 0.64, 0.21, -0.21, -0.64, -1.07, -1.5, -4, -4)``: the covered
  responses 0..7 on an even grid, the two *trap* responses 8, 9 with low reward;
* the data policy :data:`DATA_POLICY` is supported on 0..7 only (weights 4,4,3,3,2,2,1,1 / 20),
  so the trap is never compared and the chosen responses concentrate on 0..3;
* the reference is uniform, or (``ref_trap`` given) ``ref_trap`` on each trap response and
  ``(1 - 2 ref_trap) / 8`` on each covered response.

Also the closed-form DPO member reached by gradient descent from ``init`` (the gradient of the
DPO loss never touches the trap logits and, with one-hot features, sums to zero over the covered
ones: :mod:`algorithms.preference_learning.gradient`), and the best policy supported on the
covered set, ``pi*_S = pi*`` restricted to ``S`` and renormalised (the comparator the RPO
guarantee covers).
"""

from __future__ import annotations

import numpy as np

import mdps

K_TRAP = 10
COVERED = np.arange(8)
TRAP = np.array([8, 9])
THETA_STAR = np.concatenate([np.linspace(1.5, -1.5, 8), [-4.0, -4.0]])
DATA_POLICY = np.array([4, 4, 3, 3, 2, 2, 1, 1, 0, 0], dtype=float) / 20.0
BETA = 1.0


def trap_task(ref_trap: float | None = None) -> mdps.LogLinearPreferenceTask:
    """The trap instance (module docstring)."""
    if ref_trap is None:
        ref = np.full(K_TRAP, 1.0 / K_TRAP)
    else:
        ref = np.full(K_TRAP, (1.0 - 2.0 * ref_trap) / 8.0)
        ref[TRAP] = ref_trap
    return mdps.LogLinearPreferenceTask(np.eye(K_TRAP)[None], ref, THETA_STAR, BETA)


def dpo_member(init) -> np.ndarray:
    """The population DPO minimiser gradient descent reaches from ``init`` on the trap instance:
    ``theta_S = theta*_S - mean(theta*_S) + mean(init_S)``, ``theta_trap = init_trap``."""
    init = np.asarray(init, dtype=float)
    th = init.copy()
    th[COVERED] = THETA_STAR[COVERED] - THETA_STAR[COVERED].mean() + init[COVERED].mean()
    return th


def covered_optimum(task) -> np.ndarray:
    """``pi*_S``: the optimal policy restricted to the covered responses, renormalised, ``(1, K)``."""
    p = np.array(task.optimal_policy(), copy=True)
    p[:, TRAP] = 0.0
    return p / p.sum(axis=1, keepdims=True)
