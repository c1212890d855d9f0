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
  :math:`-\mathrm{Var}_{p_\lambda}(v)/\lambda^2`) and returns the dual objective. When
  :math:`r \ge \log(1/\hat p(\arg\min_{\mathrm{supp}} v))` the endpoint :math:`\lambda \to 0` is
  optimal: :math:`\sigma = \min_{\mathrm{supp}\,\hat p} v`.
* **Chi-square**: the KKT conditions give :math:`p \propto \hat p\,(\alpha - v)_+`. On the set ``K`` of
  support states below :math:`\alpha` (mass ``m``, :math:`\hat p`-mean :math:`\mu`, variance
  :math:`s^2`), :math:`\chi^2(p\|\hat p) = (1 + s^2/(\alpha-\mu)^2)/m - 1`, so the constraint is
  tight at :math:`\alpha = \mu + \sqrt{s^2/(m(1+r) - 1)}` with value
  :math:`\sigma = \mu - \sqrt{s^2 (m(1+r) - 1)}` (with ``K`` the whole support this is the classical
  :math:`\langle\hat p, v\rangle - \sqrt{r\,\mathrm{Var}_{\hat p}(v)}`). A scan in increasing ``v``
  finds the ``K`` whose :math:`\alpha` lies below the next value; exact, ``O(S)`` after sorting.

In a robust sweep every pair shares the value vector, so ``V`` is sorted once per sweep
(:func:`mdps._robust_kernels.robust_q`). Each kernel is certified against the independent exact
primal constructions of :mod:`mdps._robust_reference` (tests, and the ``robust.inner_exact``
check) and against cvxpy (``robust.inner_cvxpy``).

Scope
-----
Discounted, (s,a)-rectangular, dense nominal models. ``rectangularity="s"`` and sparse (CSR)
nominal models are refused with an error saying so (not silently densified); robust policy
iteration is not implemented (``method="pi"`` is refused).

References
----------
.. [1] G. N. Iyengar, "Robust dynamic programming", Mathematics of Operations Research 30(2), 2005.
.. [2] A. Nilim and L. El Ghaoui, "Robust control of Markov decision processes with uncertain
   transition matrices", Operations Research 53(5), 2005.
.. [3] W. Wiesemann, D. Kuhn and B. Rustem, "Robust Markov decision processes", Mathematics of
   Operations Research 38(1), 2013 (rectangularity).
.. [4] Z. Hu and L. J. Hong, "Kullback-Leibler divergence constrained distributionally robust
   optimization", Optimization Online 2013 (the KL dual).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from mdps import _robust_kernels as _rk
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

__all__ = ["KINDS", "RobustMDP", "RobustSolution", "robust_inner", "robust_argmin", "robust_q_values",
           "robust_bellman_operator", "worst_case_model", "robust_value_iteration", "robust_evaluate"]

#: ball name -> (kernel code, factor applied to the radius before the kernel)
KINDS = {"l1": (_rk.L1, 1.0), "tv": (_rk.L1, 2.0), "linf": (_rk.LINF, 1.0), "kl": (_rk.KL, 1.0),
         "chi2": (_rk.CHI2, 1.0)}
#: instances with more than this many entries of P use the parallel sweep kernel
_PARALLEL_MIN = 200_000


def _check_kind(kind) -> str:
    return check_choice(kind, "kind", tuple(KINDS))


def _check_radius_scalar(radius) -> float:
    return check_real(radius, "radius", low=0.0)


def _check_radius(radius, S: int, A: int) -> np.ndarray:
    """A scalar radius or one per pair, shape ``(S, A)``; finite and non-negative."""
    if np.ndim(radius) == 0:
        return np.full((S, A), _check_radius_scalar(radius))
    arr = as_float_array(radius, "radius")
    if arr.shape != (S, A):
        raise ValueError(f"radius must be a scalar or have shape (S, A) = ({S}, {A}) for (s,a)-rectangular "
                         f"sets, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"radius{list(idx)} = {arr[idx]!r}, expected a finite radius")
    if (arr < 0).any():
        idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(f"radius{list(idx)} = {arr[idx]!r} is negative, expected radius >= 0")
    return arr.copy()


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


class RobustMDP:
    """A discounted MDP with an (s,a)-rectangular ball around each nominal row.

    Parameters
    ----------
    mdp : TabularMDP
        The nominal model: discounted, dense ``P`` (sparse models are refused).
    kind : {"l1", "tv", "linf", "kl", "chi2"}
    radius : float or array_like of shape (S, A)
        Non-negative, finite; one radius per pair or a common one.
    rectangularity : {"sa"}
        Only (s,a)-rectangular sets are implemented; ``"s"`` is refused.
    """

    __slots__ = ("_mdp", "_kind", "_radius", "_frozen")

    def __init__(self, mdp, kind: str = "l1", radius=0.0, rectangularity: str = "sa"):
        object.__setattr__(self, "_frozen", False)
        mdp = check_mdp(mdp, criterion="discounted")
        rect = check_choice(rectangularity, "rectangularity", ("sa", "s"))
        if rect == "s":
            raise NotImplementedError("rectangularity='s' (s-rectangular sets) is not implemented; use 'sa'")
        if sp.issparse(mdp.P):
            raise ValueError("RobustMDP needs a dense nominal model; mdp.P is sparse (CSR). Densify it "
                             "(TabularMDP(mdp.P.toarray().reshape(S, A, S), mdp.R, gamma=...)) if it fits in memory")
        self._mdp = mdp
        self._kind = _check_kind(kind)
        self._radius = readonly(_check_radius(radius, mdp.n_states, mdp.n_actions))
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("RobustMDP is immutable")
        object.__setattr__(self, name, value)

    mdp = property(lambda self: self._mdp, doc="the nominal TabularMDP")
    kind = property(lambda self: self._kind, doc="the ball")
    radius = property(lambda self: self._radius, doc="radius per pair, (S, A), read-only")
    gamma = property(lambda self: self._mdp.gamma)
    n_states = property(lambda self: self._mdp.n_states)
    n_actions = property(lambda self: self._mdp.n_actions)
    rectangularity = property(lambda self: "sa")

    def _kernel_args(self):
        code, factor = KINDS[self._kind]
        P2 = np.ascontiguousarray(self._mdp.P_matrix())
        return code, P2, self._mdp.R, np.ascontiguousarray(self._radius * factor)

    def __repr__(self):
        r = self._radius
        rad = f"{r.flat[0]:g}" if (r == r.flat[0]).all() else f"per-pair in [{r.min():g}, {r.max():g}]"
        return (f"RobustMDP(kind={self._kind!r}, radius={rad}, rectangularity='sa', "
                f"S={self.n_states}, A={self.n_actions}, gamma={self.gamma:g})")


def _check_robust(rmdp) -> RobustMDP:
    if not isinstance(rmdp, RobustMDP):
        raise TypeError(f"rmdp must be a RobustMDP, got {type(rmdp).__name__}")
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
        ``||V_{k+1} - V_k||_inf`` per sweep.
    converged : bool
        Whether ``gamma / (1 - gamma) * residual <= tol`` was seen before ``max_iter``.
    settings : mapping
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

    def __post_init__(self):
        for name in ("V", "Q", "policy", "P_worst", "residuals"):
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
    coef = g / (1.0 - g)
    res = []
    converged = False
    Q = None
    for _ in range(max_iter):
        Q = _robust_q(rmdp, V)
        new = Q.max(axis=1) if pol is None else np.einsum("sa,sa->s", pol, Q)
        r = float(np.abs(new - V).max())
        res.append(r)
        V = new
        if coef * r <= tol:
            converged = True
            break
    if pol is None:
        pol = np.zeros((rmdp.n_states, rmdp.n_actions))
        pol[np.arange(rmdp.n_states), Q.argmax(axis=1)] = 1.0
    return RobustSolution(V=V, Q=Q, policy=pol, P_worst=worst_case_model(rmdp, V), n_iter=len(res),
                          method=method, residuals=np.array(res), converged=converged,
                          settings={"tol": tol, "max_iter": max_iter, "kind": rmdp.kind,
                                    "stopping": "gamma/(1-gamma) * ||V_{k+1} - V_k||_inf <= tol"})


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
