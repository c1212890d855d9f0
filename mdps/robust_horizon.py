r"""Finite-horizon robust MDPs: robust backward induction over rectangular balls.

The model
---------
A finite-horizon nominal MDP :math:`(\hat P_h, R_h)_{h<H}` (stationary or stage-dependent, as in
:mod:`mdps.finite_horizon`) and, at every stage, the balls of :class:`mdps.RobustMDP` around the
nominal rows of that stage: (s,a)-rectangular :math:`U_{h,s,a} = \{p \in \Delta_S : D(p, \hat P_h(s,a))
\le r_{s,a}\}` for ``kind`` in ``l1, tv, linf, kl, chi2``, or s-rectangular (Kumar, Wang, Levy and
Mannor's relaxed L1 / L-infinity ball over the stacked ``(A, S)`` block, see :func:`mdps.srect_bellman`, or the
exact KL / chi-square ball :math:`\sum_a D(p_a \| \hat P_h(s,a)) \le r_s`, :mod:`mdps._srect_kernels`).
The uncertainty set is the product over stages and (state, action) pairs (resp. states): the adversary
may pick a different kernel at every stage ((s,a,h)-rectangular; Iyengar 2005, Sec. 2-3; Nilim and El
Ghaoui 2005, Sec. 3, whose finite-horizon robust DP this is). The radius may depend on the stage: a
radius array of shape ``(H, S, A)`` ((s,a)-rectangular) or ``(H, S)`` (s-rectangular) gives stage ``h`` the
balls of radius ``radius[h]``; the backup at stage ``h`` is the stationary one with that radius, so a
stage array equal across stages reproduces the common radius bit for bit, and (nested balls, monotone
backups) the robust value is non-increasing in each stage's radius.

Robust backward induction **[R]** (Iyengar 2005, Thm 2.1; Nilim & El Ghaoui 2005, Thm 2.1)
------------------------------------------------------------------------------------------
With :math:`V_H \equiv 0`, for :math:`h = H-1, \dots, 0`:

.. math::

    Q_h(s, a) = R_h(s, a) + \min_{p \in U_{h,s,a}} \langle p, V_{h+1}\rangle, \qquad
    V_h(s) = \max_a Q_h(s, a), \qquad \pi_h(s) \in \arg\max_a Q_h(s, a)

((s,a)-rectangular), and for s-rectangular sets
:math:`V_h(s) = \max_{\pi_s \in \Delta_A} \min_{P_s \in U_{h,s}} \sum_a \pi_s(a)[R_h(s,a) + \langle P_{s,a},
V_{h+1}\rangle] = \max_{\pi_s} \langle \pi_s, \hat Q_h(s)\rangle - r_s \kappa_q(V_{h+1}) \|\pi_s\|_q`
(the closed forms of :func:`mdps.srect_bellman` with :math:`\gamma = 1`; randomised greedy policies).
Exact after ``H`` backups; :math:`V_0` is the robust optimum :math:`\sup_\pi \inf_{P \in U} V^\pi_P` over
Markov policies and stage-wise kernels.

Worst-case model and the identity the tests and checks use (exact, derived)
--------------------------------------------------------------------------
At every stage the minimisers of the inner problems at :math:`V_{h+1}` form a kernel
:math:`P^w_h \in U_h` (``P_worst[h]``). For the returned policy :math:`\pi`, plain finite-horizon
evaluation on :math:`P^w` gives :math:`V^\pi_{P^w, h} = r_{\pi_h} + P^w_{h,\pi_h} V^\pi_{P^w,h+1}`; by induction
from :math:`h = H` this equals :math:`V_h`, because :math:`\sum_a \pi_h(a|s)[R_h(s,a) + \langle P^w_h(s,a),
V_{h+1}\rangle] = V_h(s)` is the backup itself. For (s,a)-rectangular sets the backup is also the
optimality equation of :math:`P^w` (each ``Q_h(s, a)`` uses the minimiser for that action), so
:math:`V^*_{P^w} = V` (nominal backward induction on the worst model reproduces the robust value:
the saddle point). Since :math:`\hat P_h \in U_h`, :math:`V \le V^*_{\hat P}`; the balls grow with the
radius, so :math:`V` is non-increasing in it; radius 0 gives the nominal backward induction exactly.
The relaxed s-rectangular worst model has rows summing to 1 but may have negative entries where
``P >= 0`` would bind (:func:`mdps.srect_bellman`); there the identity holds for the linear recursion,
not for a :class:`mdps.TabularMDP`.

References
----------
.. [1] G. N. Iyengar, "Robust dynamic programming", Mathematics of Operations Research 30(2), 2005.
.. [2] A. Nilim and L. El Ghaoui, "Robust control of Markov decision processes with uncertain
   transition matrices", Operations Research 53(5), 2005.
.. [3] N. Kumar, K. Wang, K. Y. Levy and S. Mannor, "Efficient value iteration for s-rectangular robust
   Markov decision processes", ICML 2024.
"""

from __future__ import annotations

import numpy as np

from mdps import _robust_kernels as _rk
from mdps.robust import (
    KINDS,
    S_EXACT_KINDS,
    RobustMDP,
    RobustSolution,
    _check_robust,
    _srect_exact,
    _srect_optimal,
    _srect_worst,
    _stage_radius,
)
from mdps.validation import check_float64_range

__all__ = ["robust_backward_induction"]


def robust_backward_induction(rmdp: RobustMDP) -> RobustSolution:
    r"""Robust backward induction on a :class:`mdps.RobustMDP` with a finite-horizon nominal model.

    Parameters
    ----------
    rmdp : RobustMDP
        ``mdps.RobustMDP(mdp, kind=..., radius=..., rectangularity=...)`` where ``mdp`` is a
        finite-horizon :class:`mdps.TabularMDP` (``horizon=H``; ``P`` of shape ``(S, A, S)`` or
        ``(H, S, A, S)``). Every (s,a)-rectangular ball; s-rectangular ``l1`` and ``linf``.

    Returns
    -------
    RobustSolution
        ``method="robust_backward_induction"``; ``V`` (H, S) robust values (``V_H = 0`` implicit),
        ``Q`` (H, S, A) with ``Q[h] = R_h + sigma_h(V[h+1])`` ((s,a)-rectangular) or the nominal
        ``R_h + P_h V[h+1]`` (s-rectangular, whose value is not a max over ``Q``), ``policy``
        (H, S, A) greedy (one-hot, ties to the lowest action, for (s,a)-rectangular sets; randomised
        for s-rectangular ``l1``), ``P_worst`` (H, S, A, S) the worst-case model of every stage,
        ``n_iter = H``, ``converged = True`` (exact), empty ``residuals``.

    Raises
    ------
    TypeError, ValueError
        ``rmdp`` is not a RobustMDP, or its nominal model is not finite-horizon; values outside
        the float64 range.

    Examples
    --------
    >>> import mdps
    >>> mdp = mdps.river_swim(5, horizon=4)
    >>> sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind="l1", radius=0.1))
    >>> sol.V.shape, sol.policy.shape, sol.P_worst.shape
    ((4, 5), (4, 5, 2), (4, 5, 2, 5))
    """
    rmdp = _check_robust(rmdp, criterion="finite_horizon")
    mdp = rmdp._mdp  # the nominal model
    H, S, A = mdp.horizon, rmdp.n_states, rmdp.n_actions
    V = np.empty((H, S))
    Q = np.empty((H, S, A))
    policy = np.zeros((H, S, A))
    P_worst = np.empty((H, S, A, S))
    V_next = np.zeros(S)
    sa = rmdp.rectangularity == "sa"
    if sa:
        code, factor = KINDS[rmdp.kind]
    with np.errstate(over="ignore", invalid="ignore"):
        for h in range(H - 1, -1, -1):
            P2 = np.ascontiguousarray(mdp.P_matrix(h))
            R = np.ascontiguousarray(mdp.R_stage(h), dtype=float)
            if sa:
                rad = np.ascontiguousarray(_stage_radius(rmdp, h) * factor)
                _rk.robust_q_serial(code, P2, R, rad, 1.0, V_next, Q[h])
                a = Q[h].argmax(axis=1)
                policy[h, np.arange(S), a] = 1.0
                V[h] = Q[h, np.arange(S), a]
                out = np.empty_like(P2)
                _rk.worst_case_rows(code, P2, rad, V_next, out)
                P_worst[h] = out.reshape(S, A, S)
            else:
                Q[h] = R + (P2 @ V_next).reshape(S, A)
                if rmdp.kind in S_EXACT_KINDS:
                    V[h], policy[h], P_worst[h] = _srect_exact(rmdp, V_next, gamma=1.0, h=h)
                else:
                    V[h], policy[h] = _srect_optimal(rmdp, V_next, Qn=Q[h], gamma=1.0, h=h)
                    P_worst[h] = _srect_worst(rmdp, V_next, policy[h], h=h)
            V_next = V[h]
    check_float64_range([V, Q], "robust_backward_induction: the robust values", R=mdp.R)
    return RobustSolution(V=V, Q=Q, policy=policy, P_worst=P_worst, n_iter=H, method="robust_backward_induction",
                          converged=True,
                          settings={"horizon": H, "kind": rmdp.kind, "rectangularity": rmdp.rectangularity,
                                    "stopping": "exact after H backups"})
