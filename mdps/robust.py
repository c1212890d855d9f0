r"""Robust MDPs: (s,a)-rectangular balls around a nominal model, exact inner problems, robust VI.

The model
---------
A nominal discounted MDP :math:`(\hat P, R, \gamma)` and, for every pair :math:`(s, a)`, a ball
:math:`U_{s,a} = \{p \in \Delta_S : D(p, \hat P_{s,a}) \le r_{s,a}\}`; the uncertainty set is the
product :math:`U = \times_{s,a} U_{s,a}` ((s,a)-rectangularity, Iyengar 2005; Nilim & El Ghaoui
2005). The robust value of a policy is :math:`V^\pi_U = \inf_{P \in U} V^\pi_P` and the robust
optimum :math:`V^*_U = \sup_\pi V^\pi_U`. The balls (``kind``):

========  =====================================================  ===============================
``kind``  ball                                                   zeros of :math:`\hat p`
========  =====================================================  ===============================
``l1``    :math:`\|p - \hat p\|_1 \le r`                          may receive mass
``tv``    :math:`\tfrac12 \|p - \hat p\|_1 \le r` (L1 at ``2r``)   may receive mass
``linf``  :math:`\max_i |p_i - \hat p_i| \le r`                  may receive mass
``kl``    :math:`\mathrm{KL}(p \,\|\, \hat p) \le r`              force :math:`p_i = 0` (p << p-hat)
``chi2``  :math:`\sum_i (p_i - \hat p_i)^2 / \hat p_i \le r`      force :math:`p_i = 0`
========  =====================================================  ===============================

Robust Bellman operators [R]
----------------------------
:math:`(T_U V)(s) = \max_a R(s, a) + \gamma \sigma_{s,a}(V)` and, for a policy,
:math:`(T^\pi_U V)(s) = \sum_a \pi(a|s)[R(s,a) + \gamma \sigma_{s,a}(V)]`, with the inner problem
:math:`\sigma_{s,a}(V) = \min_{p \in U_{s,a}} \langle p, V\rangle`. Each :math:`\sigma` is
1-Lipschitz in :math:`\|\cdot\|_\infty` and shifts by ``c`` under ``V + c``, so both operators are
:math:`\gamma`-contractions (Iyengar 2005, Thm 3.2); :math:`V^*_U` and :math:`V^\pi_U` are their
fixed points, and an optimal robust policy for (s,a)-rectangular sets is deterministic and
stationary. At the fixed point the minimisers form a *worst-case model* :math:`P^w \in U` with
:math:`V^\pi_{P^w} = V^\pi_U` (returned as ``P_worst``). Since :math:`\hat P \in U`,
:math:`V^*_U \le V^*_{\hat P}`; the balls grow with ``r``, so :math:`V^*_U` is non-increasing in
``r``, and ``r = 0`` gives the nominal value.

Inner problems, exact (kernels in :mod:`mdps._robust_kernels`)
-------------------------------------------------------------
* **L1** (and TV): move :math:`\delta = \min(r/2, 1 - \hat p_{i^*})` onto :math:`i^* = \arg\min v`,
  removing it from the other states in decreasing order of ``v`` (each gives at most its mass).
  An exchange argument shows it optimal: any feasible ``p`` moves at most ``r/2`` of mass, and
  moving mass from a higher to a lower value never helps less. ``O(S)`` after sorting ``v``.
  No-clipping closed form: :math:`\sigma = \langle \hat p, v\rangle - (r/2)\,\mathrm{sp}(v)` when the
  mass moved comes from one state.
* **L-infinity**: ``p`` starts at :math:`\max(0, \hat p - r)` and fills states in increasing ``v``
  up to :math:`\min(1, \hat p + r)` (a fractional knapsack). ``O(S)`` after the sort.
* **KL** (Nilim & El Ghaoui 2005; Iyengar 2005; Hu & Hong 2013): by Lagrange duality
  :math:`\sigma(v) = \max_{\lambda \ge 0} -\lambda r - \lambda \log \sum_s \hat p_s e^{-v_s/\lambda}`,
  a concave problem in one variable whose derivative is :math:`\mathrm{KL}(p_\lambda\|\hat p) - r` for
  the tilted :math:`p_\lambda \propto \hat p\, e^{-v/\lambda}` (decreasing in :math:`\lambda`). The
  kernel finds the root by safeguarded Newton on :math:`\log \lambda` (the derivative of the KL is
  :math:`-\mathrm{Var}_{p_\lambda}(v)/\lambda^2`) and returns the tilted mean
  :math:`\langle p_\lambda, v\rangle` at the bracket's feasible end (the dual objective there differs
  from it by :math:`\lambda(\mathrm{KL}(p_\lambda\|\hat p) - r)`, which round-off made 1e-8 on rows
  with a nominal mass of 1e-15). When
  :math:`r \ge \log(1/\hat p(\arg\min_{\mathrm{supp}} v))` the endpoint :math:`\lambda \to 0` is
  optimal: :math:`\sigma = \min_{\mathrm{supp}\,\hat p} v`.
* **Chi-square**: the KKT conditions give :math:`p \propto \hat p\,(\alpha - v)_+`. On the set ``K`` of
  support states below :math:`\alpha` (mass ``m``, :math:`\hat p`-mean :math:`\mu`, variance
  :math:`s^2`), :math:`\chi^2(p\|\hat p) = (1 + s^2/(\alpha-\mu)^2)/m - 1`, so the constraint is
  tight at :math:`\alpha = \mu + \sqrt{s^2/(m(1+r) - 1)}` with value
  :math:`\sigma = \mu - \sqrt{s^2 (m(1+r) - 1)}` (with ``K`` the whole support this is the classical
  :math:`\langle\hat p, v\rangle - \sqrt{r\,\mathrm{Var}_{\hat p}(v)}`). A scan in increasing ``v``
  finds the ``K`` whose :math:`\alpha` lies below the next value; exact, ``O(S)`` after sorting.
* Accuracy (KL and chi-square, any nominal row, tiny and subnormal masses included): the minimiser
  lies in the ball to :math:`r(1 + 10^{-9}) + 10^{-12}` and its expected value is the returned value to
  :math:`10^{-12}\max(1, \max|v|)`; the round-off analysis is in the kernels' docstrings and on the
  theory page ``docs/theory/robust.md``.

In a robust sweep every pair shares the value vector, so ``V`` is sorted once per sweep
(:func:`mdps._robust_kernels.robust_q`). Each kernel is certified against the independent exact
primal constructions of :mod:`mdps._robust_reference` (tests, and the ``robust.inner_exact``
check) and against cvxpy (``robust.inner_cvxpy``).

Scope
-----
Dense nominal models (sparse CSR models are refused, not silently densified).
``rectangularity="s"`` with ``kind="kl"`` or ``"chi2"`` (:data:`S_EXACT_KINDS`): the exact s-rectangular divergence
ball :math:`\sum_a D(p_a\|\hat P_{s,a}) \le r_s` (:mod:`mdps._srect_kernels`: projection costs, a safeguarded root
in the value, the saddle policy from the multipliers); :func:`srect_bellman`, :func:`srect_saddle`, robust VI and
finite-horizon backward induction, and the policy operator :math:`T^\pi_U` (robust evaluation, s-rectangular robust
policy iteration).
(s,a)-rectangular: every ball; robust VI, robust evaluation, robust policy iteration
(:func:`robust_policy_iteration`, ``solve(method="pi")``). ``rectangularity="s"``: L1 and L-infinity
balls over the stacked ``(A, S)`` block, on Kumar, Wang, Levy and Mannor's (ICML 2024) *relaxed* set
without ``P >= 0`` (:func:`srect_bellman`: closed forms, randomised optimal policies); robust VI,
evaluation and policy iteration (:func:`_srect_policy_iteration`: closed-form improvement, evaluation by
the adversary's piecewise-affine policy iteration). A finite-horizon nominal model is accepted too and solved by
:func:`mdps.robust_backward_induction` (:mod:`mdps.robust_horizon`); the discounted solvers refuse it. Where ``P >= 0`` binds the relaxed value is strictly below the true s-rectangular
robust value; :func:`mdps._robust_reference.srect_bellman_cvxpy` (``relaxed=False``) computes the
simplex-constrained operator exactly with cvxpy for small instances.

References
----------
.. [1] G. N. Iyengar, "Robust dynamic programming", Mathematics of Operations Research 30(2), 2005.
.. [2] A. Nilim and L. El Ghaoui, "Robust control of Markov decision processes with uncertain
   transition matrices", Operations Research 53(5), 2005.
.. [3] W. Wiesemann, D. Kuhn and B. Rustem, "Robust Markov decision processes", Mathematics of
   Operations Research 38(1), 2013 (rectangularity).
.. [4] Z. Hu and L. J. Hong, "Kullback-Leibler divergence constrained distributionally robust
   optimization", Optimization Online 2013 (the KL dual).
.. [5] N. Kumar, K. Wang, K. Y. Levy and S. Mannor, "Efficient value iteration for s-rectangular robust
   Markov decision processes", ICML 2024 (the s-rectangular closed forms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from mdps import _robust_kernels as _rk
from mdps import _srect_kernels as _sk
from mdps.tabular import TabularMDP
from mdps.validation import (
    as_float_array,
    check_choice,
    check_distribution,
    check_int,
    check_mdp,
    check_policy,
    check_positive,
    check_real,
    check_value,
    readonly,
)

__all__ = ["KINDS", "S_KINDS", "RobustMDP", "RobustSolution", "robust_inner", "robust_argmin", "robust_q_values",
           "l1_inner_kernel",
           "robust_bellman_operator", "worst_case_model", "robust_value_iteration", "robust_evaluate",
           "robust_policy_iteration", "srect_bellman", "srect_saddle", "S_EXACT_KINDS"]

#: The compiled L1 inner solver, for other compiled code (UCRL2's extended value iteration calls it
#: on ``-u``): ``l1_inner_kernel(p0, v, order, r, p_out, want_p) -> min_{||p - p0||_1 <= r} p . v``
#: with ``order = argsort(v)``; ``p_out`` receives the minimiser when ``want_p``. Python callers
#: use :func:`robust_inner`, which validates its arguments.
l1_inner_kernel = _rk.l1_inner

#: ball name -> (kernel code, factor applied to the radius before the kernel)
KINDS = {"l1": (_rk.L1, 1.0), "tv": (_rk.L1, 2.0), "linf": (_rk.LINF, 1.0), "kl": (_rk.KL, 1.0),
         "chi2": (_rk.CHI2, 1.0)}
#: relaxed s-rectangular balls (entrywise norm of the stacked (A, S) block, no P >= 0; closed forms)
S_KINDS = ("l1", "linf")
#: exact s-rectangular divergence balls sum_a D(p_a || p0_a) <= r_s (mdps._srect_kernels)
S_EXACT_KINDS = ("kl", "chi2")
#: instances with more than this many entries of P use the parallel sweep kernel
_PARALLEL_MIN = 200_000


def _check_kind(kind) -> str:
    return check_choice(kind, "kind", tuple(KINDS))


def _check_radius_scalar(radius) -> float:
    return check_real(radius, "radius", low=0.0)


def _check_radius_entries(arr) -> np.ndarray:
    """Every entry finite and non-negative; the error names the first offending index, e.g. ``radius[2, 1]``."""
    if not np.isfinite(arr).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        name = f"radius[{idx[0]}]" if arr.ndim == 1 else f"radius{list(idx)}"
        raise ValueError(f"{name} = {float(arr[idx])!r}, expected a finite radius")
    if (arr < 0).any():
        idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        name = f"radius[{idx[0]}]" if arr.ndim == 1 else f"radius{list(idx)}"
        raise ValueError(f"{name} = {float(arr[idx])!r} is negative, expected radius >= 0")
    return arr.copy()


def _check_radius(radius, S: int, A: int, H: int | None = None) -> np.ndarray:
    """A scalar radius or one per pair, shape ``(S, A)``, or (finite-horizon model, ``H`` given) one per stage and
    pair, shape ``(H, S, A)``; finite and non-negative."""
    if np.ndim(radius) == 0:
        return np.full((S, A), _check_radius_scalar(radius))
    arr = as_float_array(radius, "radius")
    if arr.shape != (S, A) and (H is None or arr.shape != (H, S, A)):
        stage = f" or (H, S, A) = ({H}, {S}, {A}) (one per stage)" if H is not None else ""
        raise ValueError(f"radius must be a scalar or have shape (S, A) = ({S}, {A}){stage} for (s,a)-rectangular "
                         f"sets, got shape {arr.shape}")
    return _check_radius_entries(arr)


def _check_radius_s(radius, S: int, H: int | None = None) -> np.ndarray:
    """s-rectangular radius: a scalar or one per state, shape ``(S,)``, or (finite-horizon model, ``H`` given) one per
    stage and state, shape ``(H, S)``; finite and non-negative."""
    if np.ndim(radius) == 0:
        return np.full(S, _check_radius_scalar(radius))
    arr = as_float_array(radius, "radius")
    if arr.shape != (S,) and (H is None or arr.shape != (H, S)):
        stage = f" or (H, S) = ({H}, {S}) (one per stage)" if H is not None else ""
        raise ValueError(f"radius must be a scalar or have shape (S,) = ({S},){stage} for s-rectangular sets "
                         f"(one budget per state), got shape {arr.shape}")
    return _check_radius_entries(arr)


def _stage_radius(rmdp, h: int) -> np.ndarray:
    """The radius of stage ``h``: ``(S, A)`` / ``(S,)`` (the common one unless the radius varies by stage)."""
    r = rmdp._radius
    return r[h] if r.ndim == (3 if rmdp._rect == "sa" else 2) else r


def _prepare_inner(p0, v, radius, kind):
    kind = _check_kind(kind)
    p0 = as_float_array(p0, "p0", ndim=1)
    n = p0.shape[0]
    p0 = check_distribution(p0, "p0", n)
    v = check_value(v, "v", n)
    r = _check_radius_scalar(radius)
    code, factor = KINDS[kind]
    return np.ascontiguousarray(p0), np.ascontiguousarray(v), r * factor, code


def robust_inner(p0, v, radius, kind: str = "l1") -> float:
    r"""The inner worst case :math:`\min_{p \in \Delta,\ D(p, p_0) \le r} \langle p, v\rangle`, exactly.

    Parameters
    ----------
    p0 : array_like, shape (S,)
        Nominal distribution (zeros allowed; for ``kl`` and ``chi2`` they force ``p`` to zero).
    v : array_like, shape (S,)
        Values (finite).
    radius : float >= 0
        The ball's radius (finite).
    kind : {"l1", "tv", "linf", "kl", "chi2"}
        The ball (module table).

    Returns
    -------
    float

    Examples
    --------
    >>> import mdps
    >>> round(mdps.robust_inner([0.5, 0.5], [0.0, 1.0], 0.2, kind="l1"), 12)
    0.4
    """
    p0, v, r, code = _prepare_inner(p0, v, radius, kind)
    return float(_rk.inner(code, p0, v, np.argsort(v, kind="stable"), r, np.empty(0), False))


def robust_argmin(p0, v, radius, kind: str = "l1") -> np.ndarray:
    """A minimiser ``p`` (S,) of :func:`robust_inner`'s problem (same arguments)."""
    p0, v, r, code = _prepare_inner(p0, v, radius, kind)
    p = np.empty_like(p0)
    _rk.inner(code, p0, v, np.argsort(v, kind="stable"), r, p, True)
    return p


#: the largest dense nominal kernel (bytes) :class:`RobustMDP` builds from a sparse model
DENSE_LIMIT_BYTES = 2 * 2**30


class RobustMDP:
    r"""A discounted MDP with an (s,a)-rectangular ball around each nominal row, or an
    s-rectangular ball around each state's stacked block of rows.

    Parameters
    ----------
    mdp : TabularMDP
        The nominal model: discounted or finite-horizon. A sparse (CSR) ``P`` is densified (up to
        :data:`DENSE_LIMIT_BYTES`; above it a clear error): the worst case of a ball can move mass
        to any state.
    kind : {"l1", "tv", "linf", "kl", "chi2"}
    radius : float or array_like of shape (S, A) (``"sa"``) or (S,) (``"s"``)
        Non-negative, finite; one radius per pair (per state for ``"s"``) or a common one. With a
        finite-horizon nominal model the radius may also vary by stage: shape (H, S, A) (``"sa"``) or
        (H, S) (``"s"``), used by :func:`mdps.robust_backward_induction`.
    rectangularity : {"sa", "s"}
        ``"sa"``: :math:`U = \times_{s,a} U_{s,a}`. ``"s"`` with ``kind`` in :data:`S_KINDS`: Kumar, Wang,
        Levy and Mannor's *relaxed* s-rectangular ball (ICML 2024; see :func:`srect_bellman`)
        :math:`U_s = \{\hat P_s + D : \|D\|_p \le r_s,\ D 1 = 0\}` over the
        stacked ``(A, S)`` block, *without* the constraint ``P >= 0``. ``"s"`` with ``kind`` in
        :data:`S_EXACT_KINDS` (``"kl"``, ``"chi2"``): the exact divergence ball
        :math:`U_s = \{(p_a)_a \in \Delta_S^A : \sum_a D(p_a \| \hat P_{s,a}) \le r_s\}`
        (:mod:`mdps._srect_kernels`; robust VI, evaluation, policy iteration, backward induction).
    """

    __slots__ = ("_mdp", "_kind", "_radius", "_rect", "_frozen")

    def __init__(self, mdp, kind: str = "l1", radius=0.0, rectangularity: str = "sa"):
        object.__setattr__(self, "_frozen", False)
        mdp = check_mdp(mdp, criterion=("discounted", "finite_horizon"))
        rect = check_choice(rectangularity, "rectangularity", ("sa", "s"))
        if sp.issparse(mdp.P):
            # the worst case of an L1, TV, L-infinity or chi-square ball can move mass to any state, so
            # the robust operators work on dense rows: a sparse nominal model is densified here when
            # it fits (zeros stay zeros, and a KL ball keeps them: KL(p || p0) < inf forces p = 0 there)
            S_, A_ = mdp.n_states, mdp.n_actions
            need = 8.0 * S_ * A_ * S_
            if need > DENSE_LIMIT_BYTES:
                raise ValueError(f"RobustMDP densifies a sparse nominal model (the worst case of a ball can put mass on "
                                 f"any state), which here needs {need / 2**30:.1f} GiB (S = {S_}, A = {A_}), above "
                                 f"mdps.robust.DENSE_LIMIT_BYTES = {DENSE_LIMIT_BYTES / 2**30:.1f} GiB")
            mdp = mdp.to_dense()
        if mdp.action_mask is not None:
            s, a = (int(i) for i in np.argwhere(~mdp.action_mask)[0])
            raise ValueError(f"RobustMDP does not support infeasible actions yet: mdp.feasible[{s}, {a}] is False "
                             f"(robust operators take the max over every action)")
        self._mdp = mdp
        self._kind = _check_kind(kind)
        self._rect = rect
        if rect == "s":
            if self._kind not in S_KINDS + S_EXACT_KINDS:
                raise NotImplementedError(f"kind={self._kind!r} is not implemented for rectangularity='s'; "
                                          f"s-rectangular balls: {', '.join(S_KINDS + S_EXACT_KINDS)}")
            self._radius = readonly(_check_radius_s(radius, mdp.n_states, mdp.horizon))
        else:
            self._radius = readonly(_check_radius(radius, mdp.n_states, mdp.n_actions, mdp.horizon))
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("RobustMDP is immutable")
        object.__setattr__(self, name, value)

    mdp = property(lambda self: self._mdp, doc="the nominal TabularMDP")
    kind = property(lambda self: self._kind, doc="the ball")
    radius = property(lambda self: self._radius, doc="radius per pair, (S, A), or per state, (S,) for "
                                                     "rectangularity 's', with a leading stage axis (H, ...) when it "
                                                     "varies by stage (finite horizon); read-only")
    gamma = property(lambda self: self._mdp.gamma, doc="the discount (None for a finite-horizon nominal model)")
    horizon = property(lambda self: self._mdp.horizon, doc="H for a finite-horizon nominal model, else None")
    n_states = property(lambda self: self._mdp.n_states)
    n_actions = property(lambda self: self._mdp.n_actions)
    rectangularity = property(lambda self: self._rect)

    def _kernel_args(self):
        if self._rect != "sa":
            raise ValueError("per-pair inner problems are not defined for an s-rectangular RobustMDP "
                             "(rectangularity='s'); use robust_bellman_operator or srect_bellman")
        code, factor = KINDS[self._kind]
        P2 = np.ascontiguousarray(self._mdp.P_matrix())
        return code, P2, self._mdp.R, np.ascontiguousarray(self._radius * factor)

    def __repr__(self):
        r = self._radius
        rad = f"{r.flat[0]:g}" if (r == r.flat[0]).all() else f"per-pair in [{r.min():g}, {r.max():g}]"
        crit = f"gamma={self.gamma:g}" if self.horizon is None else f"horizon={self.horizon}"
        return (f"RobustMDP(kind={self._kind!r}, radius={rad}, rectangularity={self._rect!r}, "
                f"S={self.n_states}, A={self.n_actions}, {crit})")


def _check_robust(rmdp, criterion: str = "discounted") -> RobustMDP:
    """``rmdp`` itself if it is a RobustMDP of the wanted criterion (``"discounted"`` for the stationary solvers
    and operators, ``"finite_horizon"`` for :func:`mdps.robust_backward_induction`)."""
    if not isinstance(rmdp, RobustMDP):
        raise TypeError(f"rmdp must be a RobustMDP, got {type(rmdp).__name__}")
    have = rmdp._mdp.criterion
    if have != criterion:
        hint = ("use mdps.robust_backward_induction(rmdp) (or mdps.solve(rmdp))" if have == "finite_horizon"
                else "the discounted solvers (robust_value_iteration, robust_policy_iteration) apply")
        raise ValueError(f"rmdp must have a {criterion.replace('_', '-')} nominal model here, but its nominal model is "
                         f"{have.replace('_', '-')} (gamma={rmdp.gamma!r}, horizon={rmdp.horizon!r}); {hint}")
    return rmdp


def robust_q_values(rmdp: RobustMDP, V) -> np.ndarray:
    r"""``Q[s, a] = R[s, a] + gamma * sigma_{s,a}(V)`` (S, A)."""
    rmdp = _check_robust(rmdp)
    V = np.ascontiguousarray(check_value(V, "V", rmdp.n_states))
    return _robust_q(rmdp, V)


def _robust_q(rmdp, V):
    code, P2, R, rad = rmdp._kernel_args()
    Q = np.empty((rmdp.n_states, rmdp.n_actions))
    kernel = _rk.robust_q if P2.size >= _PARALLEL_MIN else _rk.robust_q_serial
    kernel(code, P2, R, rad, rmdp.gamma, V, Q)
    return Q


def robust_bellman_operator(rmdp: RobustMDP, V, pi=None) -> np.ndarray:
    r"""``T_U V`` (``pi=None``) or ``T^pi_U V`` for a policy (int (S,) or stochastic (S, A)); (S,)."""
    rmdp = _check_robust(rmdp)
    if rmdp.rectangularity == "s":
        V = np.ascontiguousarray(check_value(V, "V", rmdp.n_states))
        if pi is None:
            return _srect_optimal(rmdp, V)[0]
        return _srect_policy(rmdp, V, _as_stochastic(rmdp, pi))
    Q = robust_q_values(rmdp, V)
    if pi is None:
        return Q.max(axis=1)
    pol = _as_stochastic(rmdp, pi)
    return np.einsum("sa,sa->s", pol, Q)


def _as_stochastic(rmdp, pi) -> np.ndarray:
    pol = check_policy(pi, rmdp.n_states, rmdp.n_actions)
    if pol.dtype.kind == "i":
        out = np.zeros((rmdp.n_states, rmdp.n_actions))
        out[np.arange(rmdp.n_states), pol] = 1.0
        return out
    return np.asarray(pol, dtype=float)


def worst_case_model(rmdp: RobustMDP, V) -> np.ndarray:
    """The minimiser of every pair's inner problem at ``V``: a kernel ``P[s, a, s']`` in ``U``, (S, A, S)."""
    rmdp = _check_robust(rmdp)
    V = np.ascontiguousarray(check_value(V, "V", rmdp.n_states))
    code, P2, _, rad = rmdp._kernel_args()
    out = np.empty_like(P2)
    _rk.worst_case_rows(code, P2, rad, V, out)
    return out.reshape(rmdp.n_states, rmdp.n_actions, rmdp.n_states)


@dataclass(frozen=True, eq=False)
class RobustSolution:
    """The output of robust value iteration or robust policy evaluation.

    Attributes
    ----------
    V : ndarray (S,)
        Final iterate, within ``tol`` of the robust value in sup norm when ``converged``.
    Q : ndarray (S, A)
        Robust state-action values ``R + gamma * sigma(V_prev)`` of the last sweep.
    policy : ndarray (S, A)
        Always a stochastic-policy array: the greedy deterministic policy as one-hot rows (VI,
        lowest maximising action) or the evaluated policy.
    P_worst : ndarray (S, A, S)
        The worst-case model: the minimiser of every pair's inner problem at ``V``.
    n_iter : int
        Sweeps done.
    method : str
        ``"robust_vi"`` or ``"robust_evaluation"``.
    residuals : ndarray (n_iter,)
        ``||V_{k+1} - V_k||_inf`` per sweep (VI, evaluation); for robust PI the robust Bellman
        residual ``||T_U V_k - V_k||_inf`` of each evaluated policy.
    converged : bool
        Whether ``gamma / (1 - gamma) * residual <= tol`` was seen before ``max_iter`` (VI,
        evaluation), or whether robust PI stopped with a certified ``tol``.
    settings : mapping
    policy_history : ndarray (n_iter, S), int, or (n_iter, S, A), float
        Robust PI only: the policy evaluated at each iteration, deterministic ((s,a)-rectangular) or
        randomised (``rectangularity="s"``); empty otherwise.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    P_worst: np.ndarray
    n_iter: int
    method: str
    residuals: np.ndarray = field(default_factory=lambda: np.empty(0))
    converged: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)
    policy_history: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.int64))

    def __post_init__(self):
        for name in ("V", "Q", "policy", "P_worst", "residuals", "policy_history"):
            readonly(getattr(self, name))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def __repr__(self):
        return (f"RobustSolution(method={self.method!r}, n_iter={self.n_iter}, converged={self.converged}, "
                f"V.shape={self.V.shape})")


def _default_max_iter(rmdp, v0, tol):
    g = rmdp.gamma
    if g == 0.0:
        return 11
    D0 = float(np.abs(v0).max()) + float(np.abs(rmdp._mdp.R).max()) / (1.0 - g)
    if D0 == 0.0:
        return 11
    k = math.log(2.0 * g * D0 / ((1.0 - g) * tol)) / -math.log(g)
    return max(int(math.ceil(k)), 1) + 10


def _iterate(rmdp, pol, tol, max_iter, v0, method):
    """Robust VI (``pol=None``) or robust evaluation of ``pol`` (S, A): one loop, VI's stopping rule."""
    g = rmdp.gamma
    tol = check_positive(tol, "tol")
    V = np.zeros(rmdp.n_states) if v0 is None else np.array(check_value(v0, "v0", rmdp.n_states))
    max_iter = _default_max_iter(rmdp, V, tol) if max_iter is None else check_int(max_iter, "max_iter", low=1)
    srect = rmdp.rectangularity == "s"
    L = g
    if srect:  # Lipschitz modulus of the relaxed operator (srect_bellman): kappa_q is (1 or S)-Lipschitz
        L = _srect_modulus(rmdp)
    coef = L / (1.0 - L) if L < 1.0 else g / (1.0 - g)
    res = []
    converged = False
    Q = None
    greedy = None
    for _ in range(max_iter):
        if srect:
            if pol is None:
                new, greedy = _srect_optimal(rmdp, V)
            else:
                new = _srect_policy(rmdp, V, pol)
        else:
            Q = _robust_q(rmdp, V)
            new = Q.max(axis=1) if pol is None else np.einsum("sa,sa->s", pol, Q)
        r = float(np.abs(new - V).max())
        res.append(r)
        V = new
        if coef * r <= tol:
            converged = True
            break
    if srect:
        pol = greedy if pol is None else pol
        P_worst = _srect_worst(rmdp, V, pol)
        Q = rmdp._mdp.R + g * np.einsum("sat,t->sa", P_worst, V)
    else:
        if pol is None:
            pol = np.zeros((rmdp.n_states, rmdp.n_actions))
            pol[np.arange(rmdp.n_states), Q.argmax(axis=1)] = 1.0
        P_worst = worst_case_model(rmdp, V)
    return RobustSolution(V=V, Q=Q, policy=pol, P_worst=P_worst, n_iter=len(res),
                          method=method, residuals=np.array(res), converged=converged,
                          settings={"tol": tol, "max_iter": max_iter, "kind": rmdp.kind, "modulus_bound": L,
                                    "certified": L < 1.0,
                                    "stopping": "L/(1-L) * ||V_{k+1} - V_k||_inf <= tol, L the modulus bound "
                                                "(gamma; for the relaxed s-rectangular operator gamma (1 + r (1 or S)))"})


def robust_value_iteration(rmdp: RobustMDP, *, tol: float = 1e-8, max_iter: int | None = None,
                           v0=None) -> RobustSolution:
    r"""Robust value iteration :math:`V_{k+1} = T_U V_k` from ``v0`` (default 0).

    ``T_U`` is a :math:`\gamma`-contraction, so the stopping rule
    :math:`\frac{\gamma}{1-\gamma}\|V_{k+1} - V_k\|_\infty \le` ``tol`` certifies
    :math:`\|V_{k+1} - V^*_U\|_\infty \le` ``tol`` (as for nominal VI, :mod:`mdps.discounted`).
    The default cap is the a-priori sweep count plus 10; ``converged`` is ``False`` if it is hit.

    Examples
    --------
    >>> import mdps
    >>> rmdp = mdps.RobustMDP(mdps.river_swim(6, gamma=0.9), kind="l1", radius=0.1)
    >>> sol = mdps.solve(rmdp, method="vi")
    >>> sol.policy.shape
    (6, 2)
    """
    rmdp = _check_robust(rmdp)
    return _iterate(rmdp, None, tol, max_iter, v0, "robust_vi")


def robust_evaluate(rmdp: RobustMDP, pi, *, tol: float = 1e-10, max_iter: int | None = None,
                    v0=None) -> RobustSolution:
    r"""The robust value :math:`V^\pi_U = \inf_{P \in U} V^\pi_P` of a policy (int (S,) or (S, A)),
    by iterating the :math:`\gamma`-contraction :math:`T^\pi_U` to ``tol`` (VI's stopping rule);
    ``P_worst`` attains it: :math:`V^\pi_{P_{worst}} = V^\pi_U` up to ``tol``."""
    rmdp = _check_robust(rmdp)
    return _iterate(rmdp, _as_stochastic(rmdp, pi), tol, max_iter, v0, "robust_evaluation")


# ---------------------------------------------------------------------------------------------
# s-rectangular sets: the closed forms of Kumar, Wang, Levy and Mannor (ICML 2024) on the relaxed set
# ---------------------------------------------------------------------------------------------

def _kappa(V, kind) -> float:
    r""":math:`\kappa_q(V) = \min_\omega \|V - \omega 1\|_q`, ``q`` the Hoelder conjugate of the ball's ``p``:
    ``l1`` (q = inf): ``sp(V) / 2`` (omega the mid-range); ``linf`` (q = 1): ``sum |V - median(V)|``."""
    if kind == "l1":
        return 0.5 * float(V.max() - V.min())
    return float(np.abs(V - np.median(V)).sum())


def _nominal_q(rmdp, V):
    m = rmdp._mdp
    return m.R + rmdp.gamma * (m.P_matrix() @ V).reshape(rmdp.n_states, rmdp.n_actions)


def _srect_exact_policy(rmdp, V, pol, gamma=None, h=0):
    """``(T^pi_U V (S,), worst-case rows for pi (S, A, S))`` on the exact s-rectangular KL / chi-square ball
    (:func:`mdps._srect_kernels.srect_policy_state`), around the nominal model of stage ``h``."""
    S, A = rmdp.n_states, rmdp.n_actions
    m = rmdp._mdp
    P2 = np.ascontiguousarray(m.P_matrix(h), dtype=float)
    R = np.ascontiguousarray(m.R_stage(h), dtype=float)
    g = float(rmdp.gamma if gamma is None else gamma)
    TV, P = np.empty(S), np.empty_like(P2)
    _sk.srect_policy_sweep(KINDS[rmdp.kind][0], P2, R, np.ascontiguousarray(_stage_radius(rmdp, h), dtype=float), g,
                           np.ascontiguousarray(V, dtype=float), np.ascontiguousarray(pol, dtype=float), TV, P)
    return TV, P.reshape(S, A, S)


def _srect_exact(rmdp, V, gamma=None, h=0):
    """``(T_U V (S,), saddle policy (S, A), worst-case rows (S, A, S))`` on the exact s-rectangular KL / chi-square
    ball (:mod:`mdps._srect_kernels`), around the nominal kernel and rewards of stage ``h``."""
    S, A = rmdp.n_states, rmdp.n_actions
    m = rmdp._mdp
    P2 = np.ascontiguousarray(m.P_matrix(h), dtype=float)
    R = np.ascontiguousarray(m.R_stage(h), dtype=float)
    g = float(rmdp.gamma if gamma is None else gamma)
    TV, pol, P = np.empty(S), np.empty((S, A)), np.empty_like(P2)
    _sk.srect_sweep(KINDS[rmdp.kind][0], P2, R, np.ascontiguousarray(_stage_radius(rmdp, h), dtype=float), g,
                    np.ascontiguousarray(V, dtype=float), TV, pol, P)
    return TV, pol, P.reshape(S, A, S)


def _srect_optimal(rmdp, V, Qn=None, gamma=None, h=0):
    """``(T_U V, greedy policy (S, A))`` for the relaxed s-rectangular ball (closed forms, :func:`srect_bellman`).
    ``Qn`` (S, A) and ``gamma`` default to the discounted nominal ``R + gamma P V``; the finite-horizon backup
    passes ``Qn = R_h + P_h V``, ``gamma = 1`` and the stage ``h``. Exact KL / chi-square balls:
    :func:`_srect_exact` (``Qn`` unused)."""
    if rmdp.kind in S_EXACT_KINDS:
        return _srect_exact(rmdp, V, gamma, h)[:2]
    S, A = rmdp.n_states, rmdp.n_actions
    Qn = _nominal_q(rmdp, V) if Qn is None else Qn
    c = (rmdp.gamma if gamma is None else gamma) * _stage_radius(rmdp, h) * _kappa(V, rmdp.kind)
    pol = np.zeros((S, A))
    if rmdp.kind == "linf":  # ||pi||_1 = 1: the penalty does not depend on pi; greedy is deterministic
        a = Qn.argmax(axis=1)
        pol[np.arange(S), a] = 1.0
        return Qn[np.arange(S), a] - c, pol
    order = np.argsort(-Qn, axis=1, kind="stable")
    cand = (np.cumsum(np.take_along_axis(Qn, order, axis=1), axis=1) - c[:, None]) / np.arange(1, A + 1)
    k = cand.argmax(axis=1)  # the smallest maximising k: uniform on the top k + 1 actions
    for s in range(S):
        pol[s, order[s, : k[s] + 1]] = 1.0 / (k[s] + 1)
    return cand[np.arange(S), k], pol


def _srect_policy(rmdp, V, pol):
    r"""``T^pi_U V`` on the relaxed s-rectangular ball: ``<pi_s, Qhat_s> - gamma r_s kappa_q(V) ||pi_s||_q``; on the
    exact KL / chi-square balls :func:`_srect_exact_policy`."""
    if rmdp.kind in S_EXACT_KINDS:
        return _srect_exact_policy(rmdp, V, pol)[0]
    Qn = _nominal_q(rmdp, V)
    norm = pol.max(axis=1) if rmdp.kind == "l1" else pol.sum(axis=1)
    return np.einsum("sa,sa->s", pol, Qn) - rmdp.gamma * rmdp._radius * _kappa(V, rmdp.kind) * norm


def _srect_worst(rmdp, V, pol, h=0):
    """A minimiser ``P = Phat + D`` (S, A, S) of ``sum_a pi(a|s) <P_{s,a}, V>`` over the relaxed ball at every
    state (around the nominal kernel of stage ``h``). Its rows sum to 1 but may have negative entries where the
    relaxation differs from the simplex. Exact KL / chi-square balls: the minimiser for ``pol`` from
    :func:`_srect_exact_policy` (rows on the simplex)."""
    if rmdp.kind in S_EXACT_KINDS:
        return _srect_exact_policy(rmdp, V, pol, 1.0 if rmdp.gamma is None else None, h)[1]
    S, A = rmdp.n_states, rmdp.n_actions
    P = np.array(rmdp._mdp.P_matrix(h), dtype=float).reshape(S, A, S)
    r = _stage_radius(rmdp, h)
    order = np.argsort(V, kind="stable")
    if rmdp.kind == "l1":
        lo, hi = order[0], order[-1]
        if V[hi] == V[lo]:
            return P
        for s in range(S):
            top = np.flatnonzero(pol[s] == pol[s].max())  # the budget goes to the most played actions
            P[s, top, lo] += r[s] / (2 * top.size)
            P[s, top, hi] -= r[s] / (2 * top.size)
        return P
    half = S // 2
    D = np.zeros(S)
    D[order[:half]] = 1.0
    D[order[S - half:]] = -1.0
    return P + r[:, None, None] * D[None, None, :]


def srect_bellman(rmdp: RobustMDP, V):
    r"""The s-rectangular robust Bellman operator on Kumar et al.'s relaxed ball, in closed form.

    The set (Kumar, Wang, Levy and Mannor, "Efficient value iteration for s-rectangular robust
    Markov decision processes", ICML 2024; also Kumar, Levy, Wang and Mannor, "Efficient policy
    iteration for robust Markov decision processes via regularization", 2022) **[R]**:
    :math:`U_s = \{\hat P_s + D : D \in \mathbb R^{A \times S},\ D 1 = 0,\ \|D\|_p \le r_s\}` with the
    entrywise ``p``-norm of the stacked block (``kind="l1"``: p = 1; ``"linf"``: p = infinity). The
    constraint :math:`\hat P_s + D \ge 0` is **dropped**: the closed forms below hold on this relaxed
    set and coincide with the simplex-constrained ball exactly when the minimiser they imply is
    non-negative (always for small enough radii when :math:`\hat P > 0`).

    Derivation (exact, on the relaxed set). For a policy :math:`\pi_s`,
    :math:`\min_{D} \sum_a \pi_s(a)\langle D_a, V\rangle = -r_s \min_{\omega \in \mathbb R^A}
    \|\pi_s V^\top - \omega 1^\top\|_q = -r_s \|\pi_s\|_q \kappa_q(V)` (Hoelder duality for the norm ball
    with the zero-row-sum subspace; the minimum over :math:`\omega` separates by rows, row ``a``
    giving :math:`\pi_s(a) \kappa_q(V)`), :math:`\kappa_q(V) = \min_\omega \|V - \omega 1\|_q`. Hence
    :math:`(T_U V)(s) = \max_{\pi_s \in \Delta_A} \langle \pi_s, \hat Q_s\rangle - c_s \|\pi_s\|_q`,
    :math:`\hat Q = R + \gamma \hat P V`, :math:`c_s = \gamma r_s \kappa_q(V)`.

    * ``linf`` (q = 1): :math:`\|\pi_s\|_1 = 1`, so :math:`(T_U V)(s) = \max_a \hat Q_s(a) - c_s` with
      :math:`\kappa_1(V) = \sum_i |V_i - \mathrm{median}(V)|`; a deterministic greedy policy is optimal.
    * ``l1`` (q = infinity, :math:`\kappa_\infty = \mathrm{sp}(V)/2`): with :math:`\hat Q_s` sorted
      decreasingly, :math:`(T_U V)(s) = \max_{1 \le k \le A} (\sum_{i \le k} \hat Q_{s,(i)} - c_s)/k`,
      attained by the uniform policy on the top ``k`` actions (randomised). Proof: for
      :math:`\max_a \pi(a) = t \in [1/(k+1), 1/k]` the best :math:`\langle \pi, \hat Q\rangle` fills the
      top ``k`` actions with ``t`` and the next with ``1 - kt``, linear in ``t``; the objective is
      piecewise linear in ``t`` with breakpoints ``t = 1/k``. Equivalently the value ``x`` solves
      :math:`\sum_a (\hat Q_s(a) - x)_+ = c_s` (the water-filling form of Kumar et al.).

    Contraction. :math:`\kappa_\infty` is 1-Lipschitz and :math:`\kappa_1` is ``S``-Lipschitz in the sup norm and
    :math:`\|\pi\|_q \le 1`, so the relaxed operator is Lipschitz with modulus at most
    :math:`L = \gamma(1 + r_{max})` (``l1``) or :math:`\gamma(1 + S r_{max})` (``linf``) [derived]: a contraction
    only when ``L < 1`` (the true simplex-constrained operator is always a :math:`\gamma`-contraction). Robust VI
    on ``rectangularity="s"`` stops when ``L/(1-L) * residual <= tol`` (a certificate) if ``L < 1``, and otherwise
    falls back to VI's rule without a certificate (``settings["certified"]`` is then ``False``).

    Returns ``(T_U V (S,), pi (S, A))``, the greedy (randomised) policy, rows on the simplex.
    Certified against cvxpy on the same relaxed set (tests; ``robust_srect.closed_form_cvxpy``).

    ``kind="kl"`` / ``"chi2"`` (:data:`S_EXACT_KINDS`): the exact operator on
    :math:`U_s = \{(p_a)_a \in \Delta_S^A : \sum_a D(p_a\|\hat P_{s,a}) \le r_s\}` (no relaxation), by the
    minimax theorem :math:`\min_{P \in U_s} \max_a R(s,a) + \gamma\langle p_a, V\rangle`, computed through the
    actions' projection costs (:mod:`mdps._srect_kernels`, where the derivation and the accuracy guarantee are);
    the policy is the saddle policy :math:`\pi_a \propto -c_a'(t^*)`. A :math:`\gamma`-contraction.
    Certified against cvxpy (tests; ``robust_srect.kl_chisq_cvxpy``). :func:`srect_saddle` also returns the
    worst-case rows.
    """
    rmdp = _check_robust(rmdp)
    if rmdp.rectangularity != "s":
        raise ValueError("srect_bellman needs rectangularity='s'; got an (s,a)-rectangular RobustMDP")
    V = np.ascontiguousarray(check_value(V, "V", rmdp.n_states))
    return _srect_optimal(rmdp, V)


def srect_saddle(rmdp: RobustMDP, V):
    r"""``(T_U V (S,), pi (S, A), P (S, A, S))``: the s-rectangular robust Bellman operator, its optimal
    (randomised) policy and a worst-case model for that policy at ``V``.

    For the exact KL / chi-square balls ``(pi, P)`` is a saddle point of
    :math:`\sum_a \pi_a (R(s,a) + \gamma \langle P_{s,a}, V\rangle)` at every state: ``P`` lies in :math:`U_s`
    (to :math:`r_s(1 + 10^{-9}) + 10^{-12}`) and :math:`\max_a R(s,a) + \gamma\langle P_{s,a}, V\rangle = (T_U V)(s)`
    (:mod:`mdps._srect_kernels`). For the relaxed L1 / L-infinity balls ``P`` is the minimiser for ``pi`` on the
    relaxed set (rows sum to 1, entries may be negative).

    Examples
    --------
    >>> import mdps
    >>> rm = mdps.RobustMDP(mdps.garnet(4, 2, 3, gamma=0.9, rng=0), kind="kl", radius=0.1, rectangularity="s")
    >>> TV, pi, P = mdps.srect_saddle(rm, [0.0, 1.0, 2.0, 3.0])
    >>> TV.shape, pi.shape, P.shape
    ((4,), (4, 2), (4, 2, 4))
    """
    rmdp = _check_robust(rmdp)
    if rmdp.rectangularity != "s":
        raise ValueError("srect_saddle needs rectangularity='s'; got an (s,a)-rectangular RobustMDP")
    V = np.ascontiguousarray(check_value(V, "V", rmdp.n_states))
    if rmdp.kind in S_EXACT_KINDS:
        return _srect_exact(rmdp, V)
    TV, pol = _srect_optimal(rmdp, V)
    return TV, pol, _srect_worst(rmdp, V, pol)


# ---------------------------------------------------------------------------------------------
# robust policy iteration, (s,a)-rectangular
# ---------------------------------------------------------------------------------------------

def _exact_robust_evaluation(rmdp, pi, V, eps, max_steps=10_000):
    r"""``V^pi_U`` for a deterministic ``pi`` (S,) by the adversary's policy iteration.

    ``P_k`` = the inner minimisers at ``V_k`` for the pairs ``(s, pi(s))``; ``V_{k+1} = V^pi_{P_k}``
    (a linear solve). For ``k >= 1``, :math:`V^\pi_U \le V_{k+1} \le T^\pi_U V_k \le V_k`, so the error
    contracts at least at rate :math:`\gamma` (and the loop ends finitely for polyhedral balls: the
    minimisers are vertices). Stops when :math:`\|T^\pi_U V - V\|_\infty \le` ``eps``, which certifies
    :math:`\|V - V^\pi_U\|_\infty \le` ``eps / (1 - gamma)``. Returns ``(V, steps)``."""
    S = rmdp.n_states
    g = rmdp.gamma
    code, P2, R, rad = rmdp._kernel_args()
    idx = np.arange(S) * rmdp.n_actions + pi
    rows, r_pi, rad_pi = P2[idx], R[np.arange(S), pi], np.ascontiguousarray(rad.reshape(-1)[idx])
    eye = np.eye(S)
    for step in range(1, max_steps + 1):
        W = np.empty_like(rows)
        _rk.worst_case_rows(code, np.ascontiguousarray(rows), rad_pi.reshape(S, 1), V, W)
        V = np.linalg.solve(eye - g * W, r_pi)
        Q = _robust_q(rmdp, V)
        if float(np.abs(Q[np.arange(S), pi] - V).max()) <= eps:
            return V, step
    return V, max_steps


def robust_policy_iteration(rmdp: RobustMDP, *, tol: float = 1e-10, max_iter: int = 1000,
                            pi0=None) -> RobustSolution:
    r"""Robust policy iteration for (s,a)-rectangular sets (Iyengar 2005, Sec. 4) **[R]**.

    ``pi_0`` = ``pi0`` (int (S,)) or, by default, ``argmax_a R``; at iteration ``k``: evaluate :math:`V_k \approx V^{\pi_k}_U` exactly to a
    robust Bellman residual :math:`\|T^{\pi_k}_U V_k - V_k\|_\infty \le \epsilon = (1-\gamma)\mathrm{tol}/4`
    (:func:`_exact_robust_evaluation`: the adversary's policy iteration with linear solves; the
    residual certifies :math:`\|V_k - V^{\pi_k}_U\|_\infty \le \mathrm{tol}/4`); compute the robust ``Q = R + gamma sigma(V_k)``; switch
    :math:`\pi_{k+1}(s) = \arg\max_a Q(s, a)` only where this beats :math:`Q(s, \pi_k(s))` by more than
    :math:`\theta = (1-\gamma)\mathrm{tol}/2`; stop when no state switches.

    Convergence (exact): :math:`T^{\pi_{k+1}}_U V^{\pi_k}_U \ge T^{\pi_k}_U V^{\pi_k}_U = V^{\pi_k}_U` and
    :math:`T^{\pi_{k+1}}_U` is monotone and a contraction, so :math:`V^{\pi_{k+1}}_U \ge V^{\pi_k}_U`
    (monotone improvement; strict at a switched state up to the evaluation error), and there are
    finitely many deterministic policies. Stopping certificate: at the end
    :math:`T_U V - V = (\max_a Q - Q_{\pi}) + (T^\pi_U V - V)`, so
    :math:`\|T_U V - V\|_\infty \le \theta + \epsilon = \tfrac34 (1-\gamma)\mathrm{tol}` and
    :math:`\|V - V^*_U\|_\infty \le \|T_U V - V\|_\infty / (1-\gamma) \le \tfrac34` ``tol``.

    s-rectangular sets (``rectangularity="s"``, the relaxed L1 / L-infinity balls): see
    :func:`_srect_policy_iteration` (randomised policies, closed-form improvement).

    Returns a :class:`RobustSolution` with ``method="robust_pi"``, ``n_iter`` the number of policies
    evaluated (improvement steps + 1), ``policy_history`` (n_iter, S), ``residuals`` the robust Bellman
    residual of each evaluated value, and ``settings["eval_steps"]`` the adversary's PI steps per evaluation.
    """
    rmdp = _check_robust(rmdp)
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", low=1)
    if rmdp.rectangularity == "s":
        if pi0 is not None:
            raise ValueError("pi0 is not used for rectangularity='s' (robust PI starts from the s-rectangular greedy "
                             "policy at V = 0); got pi0 != None")
        return _srect_policy_iteration(rmdp, tol, max_iter)
    g = rmdp.gamma
    S = rmdp.n_states
    eps = (1.0 - g) * tol / 4.0  # residual target: ||V - V^pi_U|| <= tol / 4
    theta = (1.0 - g) * tol / 2.0
    if pi0 is None:
        pi = np.asarray(rmdp._mdp.R.argmax(axis=1), dtype=np.int64)
    else:
        pi = np.asarray(check_policy(pi0, S, rmdp.n_actions, name="pi0", kind="deterministic"), dtype=np.int64)
    V = np.zeros(S)
    history, res, steps = [], [], []
    converged = False
    Q = None
    for _ in range(max_iter):
        V, n = _exact_robust_evaluation(rmdp, pi, V, eps)
        history.append(pi.copy())
        steps.append(n)
        Q = _robust_q(rmdp, V)
        res.append(float(np.abs(Q.max(axis=1) - V).max()))
        cur = Q[np.arange(S), pi]
        switch = Q.max(axis=1) > cur + theta
        if not switch.any():
            converged = True
            break
        pi = np.where(switch, Q.argmax(axis=1), pi)
    pol = np.zeros((S, rmdp.n_actions))
    pol[np.arange(S), pi] = 1.0
    return RobustSolution(V=V, Q=Q, policy=pol, P_worst=worst_case_model(rmdp, V), n_iter=len(history),
                          method="robust_pi", residuals=np.array(res), converged=converged,
                          settings={"tol": tol, "max_iter": max_iter, "kind": rmdp.kind, "eval_steps": tuple(steps),
                                    "stopping": "no state improves by more than (1-gamma) tol / 2"},
                          policy_history=np.array(history, dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# robust policy iteration, s-rectangular (relaxed L1 / L-infinity balls)
# ---------------------------------------------------------------------------------------------

def _srect_modulus(rmdp) -> float:
    """The Lipschitz bound ``L`` of the relaxed s-rectangular operators (:func:`srect_bellman`); ``gamma`` for the
    exact KL / chi-square balls (sets of stochastic kernels: a gamma-contraction, Wiesemann et al. 2013)."""
    if rmdp.kind in S_EXACT_KINDS:
        return rmdp.gamma
    return rmdp.gamma * (1.0 + float(rmdp._radius.max()) * (1.0 if rmdp.kind == "l1" else rmdp.n_states))


def _srect_evaluate(rmdp, pol, V, eps, max_steps=500):
    r"""The fixed point of :math:`T^\pi_U V = \langle \pi_s, \hat Q_s(V)\rangle - \gamma r_s \kappa_q(V)
    \|\pi_s\|_q` for a randomised ``pol`` (S, A) on the relaxed s-rectangular ball.

    :math:`T^\pi_U` is piecewise affine in ``V``: on each region where the adversary's minimiser
    ``P_w = _srect_worst(V, pi)`` is fixed (for L1: which states are the arg max / arg min of ``V``; for
    L-infinity: the order of ``V`` around its median) it equals the affine map :math:`r_\pi + \gamma P_{w,\pi} V`.
    So: solve :math:`V = r_\pi + \gamma P_{w,\pi} V` (a linear solve) for the region of the current ``V``; if the
    solution lies in the same region it is the exact fixed point (residual at round-off), otherwise repeat from
    it (the adversary's policy iteration). When a solve does not lower the residual :math:`\|T^\pi_U V - V\|`
    (regions can alternate, and the relaxed ``P_w`` may have negative entries, so monotonicity is not
    guaranteed), 20 steps of :math:`V \leftarrow T^\pi_U V` follow (a contraction when ``L < 1``). Stops when the
    residual is ``<= eps``. Returns ``(V, steps, residual)``."""
    S = rmdp.n_states
    g = rmdp.gamma
    R = rmdp._mdp.R
    r_pi = np.einsum("sa,sa->s", pol, R)
    eye = np.eye(S)
    best = np.inf
    res = float(np.abs(_srect_policy(rmdp, V, pol) - V).max())
    for step in range(1, max_steps + 1):
        if res <= eps:
            return V, step - 1, res
        P_pi = np.einsum("sa,sat->st", pol, _srect_worst(rmdp, V, pol))
        try:
            W = np.linalg.solve(eye - g * P_pi, r_pi)
            w_res = float(np.abs(_srect_policy(rmdp, W, pol) - W).max())
        except np.linalg.LinAlgError:
            w_res = np.inf
        if w_res < min(res, best):
            V, res = W, w_res
        else:
            for _ in range(20):
                V = _srect_policy(rmdp, V, pol)
            res = float(np.abs(_srect_policy(rmdp, V, pol) - V).max())
        best = min(best, res)
    return V, max_steps, res


def _srect_policy_iteration(rmdp, tol, max_iter):
    r"""Robust policy iteration on the relaxed s-rectangular L1 / L-infinity balls (Kumar, Levy, Wang and Mannor,
    "Efficient policy iteration for robust Markov decision processes via regularization", 2022, arXiv:2205.14327,
    Alg. 1 with the closed forms of :func:`srect_bellman`) **[R]** for the operators; convergence on the relaxed
    set **[U]** (see below).

    ``pi_0`` = the s-rectangular greedy policy at ``V = 0``; at iteration ``k``: evaluate
    :math:`V_k \approx V^{\pi_k}_U` (:func:`_srect_evaluate`, residual :math:`\le \epsilon = (1 - L)\,\mathrm{tol}/4`
    with ``L`` the modulus bound of :func:`srect_bellman`, or :math:`(1-\gamma)\,\mathrm{tol}/4` when ``L >= 1``);
    improve by the closed-form greedy policy :math:`\pi'` of :func:`srect_bellman` at :math:`V_k` (uniform on the
    top-``k`` actions for L1, deterministic for L-infinity), switching :math:`\pi_k(\cdot|s)` to :math:`\pi'(\cdot|s)`
    only where :math:`(T_U V_k)(s) > (T^{\pi_k}_U V_k)(s) + \theta`, :math:`\theta = (1 - L)\,\mathrm{tol}/2`; stop
    when no state switches. Certificate: then :math:`\|T_U V - V\|_\infty \le \theta + \epsilon`, so for ``L < 1``
    :math:`\|V - V^*_U\|_\infty \le (\theta + \epsilon)/(1 - L) \le \tfrac34` ``tol`` (``settings["certified"]``).
    Monotone improvement (exact for sets of stochastic kernels, Iyengar 2005) is not guaranteed on the relaxed set,
    whose minimisers may have negative entries; the loop stops at ``max_iter`` (``converged=False``) if it cycles.
    The exact KL / chi-square balls (:data:`S_EXACT_KINDS`) run the same loop with the kernels of
    :mod:`mdps._srect_kernels` (greedy = the saddle policy, :math:`T^\pi_U` and its minimiser exact, ``L = gamma``);
    there the rows are stochastic and the improvement argument applies **[R]**.
    """
    g = rmdp.gamma
    S, A = rmdp.n_states, rmdp.n_actions
    L = _srect_modulus(rmdp)
    margin = (1.0 - L) if L < 1.0 else (1.0 - g)
    eps = margin * tol / 4.0
    theta = margin * tol / 2.0
    V = np.zeros(S)
    pol = _srect_optimal(rmdp, V)[1]
    history, res, steps = [], [], []
    converged = False
    for _ in range(max_iter):
        V, n, _r = _srect_evaluate(rmdp, pol, V, eps)
        history.append(pol.copy())
        steps.append(n)
        TV, greedy = _srect_optimal(rmdp, V)
        cur = _srect_policy(rmdp, V, pol)
        res.append(float(np.abs(TV - V).max()))
        switch = TV > cur + theta
        if not switch.any():
            converged = _r <= eps
            break
        pol = np.where(switch[:, None], greedy, pol)
    P_worst = _srect_worst(rmdp, V, pol)
    Q = rmdp._mdp.R + g * np.einsum("sat,t->sa", P_worst, V)
    return RobustSolution(V=V, Q=Q, policy=pol, P_worst=P_worst, n_iter=len(history), method="robust_pi",
                          residuals=np.array(res), converged=converged,
                          settings={"tol": tol, "max_iter": max_iter, "kind": rmdp.kind, "eval_steps": tuple(steps),
                                    "modulus_bound": L, "certified": bool(converged and L < 1.0),
                                    "stopping": "no state improves by more than (1-L) tol / 2 (L the modulus bound; "
                                                "1-gamma when L >= 1)"},
                          policy_history=np.array(history))
