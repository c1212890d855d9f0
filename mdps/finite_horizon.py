r"""Finite-horizon MDPs: backward induction and exact policy evaluation.

Model (Puterman 1994, ch. 4). Stages ``h = 0, ..., H-1`` (the book's ``t = 1, ..., N``),
transitions ``P_h[s, a, s']`` and rewards ``R_h[s, a]`` that may depend on the stage, and the
terminal value :math:`V_H \equiv 0`. For a Markov policy :math:`\pi = (\pi_0, \dots, \pi_{H-1})`

.. math::

    V^\pi_h(s) = \mathbb E^\pi\Big[\sum_{t=h}^{H-1} R_t(s_t, a_t) \,\Big|\, s_h = s\Big],
    \qquad V^\pi_h = r_{\pi_h} + P_{\pi_h} V^\pi_{h+1}.

Backward induction (Puterman §4.5; Bellman's principle of optimality)
    .. math::

        Q_h = R_h + P_h V_{h+1}, \qquad V_h = \max_a Q_h(\cdot, a), \qquad
        \pi^*_h(s) \in \arg\max_a Q_h(s, a),

    yields the optimal value :math:`V^*_h = \sup_\pi V^\pi_h` over *all* (history-dependent,
    randomised) policies, attained by the deterministic Markov policy :math:`\pi^*` (Puterman
    §4.4). It is exact after exactly ``H`` backups; no stopping rule, no error bound needed.
    Cost ``O(H S^2 A)`` dense (one BLAS product per stage), ``O(H nnz)`` sparse.

Ties go to the lowest action index (``numpy.argmax``). With rewards in ``[0, 1]``,
:math:`0 \le V_h \le H - h`. Values that leave the float64 range (rewards near ``1e308``)
raise ``ValueError`` instead of coming back as ``inf``.

Policies accepted by :func:`evaluate_finite_horizon`: stochastic ``(H, S, A)`` or stationary
``(S, A)`` float arrays (rows on the simplex), deterministic int ``(H, S)`` or ``(S,)``.
Evaluation is the exact linear recursion above (no linear solve is needed).

References
----------
.. [1] M. L. Puterman, *Markov Decision Processes: Discrete Stochastic Dynamic Programming*,
   Wiley, 1994, ch. 4 (§4.4, §4.5).
.. [2] D. P. Bertsekas, *Dynamic Programming and Optimal Control*, vol. I, 4th ed., 2017, ch. 1.
"""

from __future__ import annotations

import numpy as np

from mdps._backup import q_values
from mdps.results import Solution
from mdps.tabular import TabularMDP
from mdps.validation import (
    as_stochastic_policy,
    check_float64_range,
    check_mdp,
    check_policy,
    feasible_entries,
)

__all__ = ["backward_induction", "evaluate_finite_horizon"]


def _require_finite(mdp: TabularMDP, arr: np.ndarray) -> None:
    """Values are sums of up to ``H`` rewards: near ``1e308`` they leave the float64 range."""
    check_float64_range(arr, "the values", R=mdp.R,
                        detail=f" over horizon H = {mdp.horizon}: up to H max |R| = "
                               f"{mdp.horizon * float(np.abs(mdp.R).max()):.3g}")


def backward_induction(mdp: TabularMDP) -> Solution:
    r"""Optimal values and policy of a finite-horizon MDP by backward induction.

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon instance (``horizon=H``); stationary or stage-dependent ``P``/``R``,
        dense or sparse.

    Returns
    -------
    Solution
        ``method="backward_induction"``, ``V`` of shape ``(H, S)`` (``V[h]`` for
        ``h = 0..H-1``; ``V_H = 0`` is implicit), ``Q`` of shape ``(H, S, A)`` with
        ``Q[h] = R_h + P_h V[h+1]`` (``-inf`` at infeasible pairs), ``policy`` int ``(H, S)``
        greedy over the feasible actions with ties to the lowest action, ``n_iter = H``, ``converged=True``, empty ``errors``/``residuals`` (the answer
        is exact).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.array([[[1.0], [1.0]]]).reshape(1, 2, 1); R = np.array([[0.2, 0.7]])
    >>> sol = backward_induction(mdps.TabularMDP(P, R, horizon=3))
    >>> sol.V[:, 0].round(6).tolist(), sol.policy[:, 0].tolist()
    ([2.1, 1.4, 0.7], [1, 1, 1])
    """
    check_mdp(mdp, criterion="finite_horizon")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    V = np.empty((H, S))
    Q = np.empty((H, S, A))
    policy = np.empty((H, S), dtype=np.int64)
    V_next = np.zeros(S)
    mask = mdp.action_mask
    with np.errstate(over="ignore", invalid="ignore"):
        for h in range(H - 1, -1, -1):
            Q[h] = q_values(mdp.P_matrix(h), mdp.R_stage(h), V_next, 1.0, mask)
            policy[h] = Q[h].argmax(axis=1)
            V[h] = Q[h].max(axis=1)
            V_next = V[h]
    _require_finite(mdp, feasible_entries(Q, mask))
    return Solution(V=V, Q=Q, policy=policy, n_iter=H, method="backward_induction",
                    converged=True, settings={"horizon": H})


def evaluate_finite_horizon(mdp: TabularMDP, pi) -> np.ndarray:
    r"""Exact value :math:`V^\pi_h(s)` of a Markov policy in a finite-horizon MDP.

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon instance.
    pi : array_like
        Stochastic ``(H, S, A)`` or stationary ``(S, A)`` (float, rows on the simplex), or
        deterministic int ``(H, S)`` or ``(S,)``.

    Returns
    -------
    V : ndarray, shape (H, S)
        ``V[h] = r_{pi_h} + P_{pi_h} V[h+1]`` with ``V[H] = 0``.

    Raises
    ------
    ValueError, TypeError
        If ``mdp`` is not finite-horizon or ``pi`` has a wrong shape, a row off the simplex, or
        an action out of range (the message names ``pi`` and the offending entry).
    """
    check_mdp(mdp, criterion="finite_horizon")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pol = as_stochastic_policy(check_policy(pi, S, A, horizon=H, feasible=mdp.action_mask), A)
    V = np.empty((H, S))
    V_next = np.zeros(S)
    with np.errstate(over="ignore", invalid="ignore"):
        for h in range(H - 1, -1, -1):
            Qh = q_values(mdp.P_matrix(h), mdp.R_stage(h), V_next, 1.0)
            pih = pol[h] if pol.ndim == 3 else pol
            V[h] = np.einsum("sa,sa->s", pih, Qh)
            V_next = V[h]
    _require_finite(mdp, V)
    return V
