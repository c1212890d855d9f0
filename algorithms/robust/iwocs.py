r"""IWOCS: a robust MDP solved as a sequence of non-robust ("static") MDPs.

Paper
-----
A. Zouitine, M. Geist, E. Rachelson, "Solving robust MDPs as a sequence of static RL problems",
preprint 2024, arXiv:2410.06212 (Algorithm 1, Properties 1-2). Tabular, exact instance [R]: the
paper's inner solver (VI) is replaced by exact policy iteration and its Monte-Carlo worst-case
search over a grid of models by the exact worst-case search of (s,a)-rectangular balls (robust
policy evaluation, :func:`mdps.robust_evaluate`).

The update
----------
Uncertainty set :math:`U = \times_{s,a} U_{s,a}` ((s,a)-rectangular, :class:`mdps.RobustMDP`),
start distribution :math:`\rho` (the nominal model's ``rho``; the paper's single start state is a
point mass), objective :math:`J(V) = \rho^\top V`. Start from the nominal kernel :math:`T_0 = \hat P`;
for :math:`i = 0, 1, \dots`::

    Q*_{T_i}  = optimal Q of the non-robust MDP (T_i, R, gamma)        (exact policy iteration)
    Q_i       = min(Q_{i-1}, Q*_{T_i}) = min_{j <= i} Q*_{T_j}            (pointwise)
    pi_i      = argmax_a Q_i(s, a)                                        (lowest index on ties)
    upper_i   = rho . max_a Q_i(., a)
    V_i       = robust evaluation of pi_i to a certified sup error eps     (mdps.robust_evaluate)
    T_{i+1}   = the minimiser of every pair's inner problem at V_i         (the worst model for pi_i)
    lower_i   = max(lower_{i-1}, rho . V_i - eps);  incumbent = the policy attaining lower_i
    certificate_i = upper_i - lower_i;  stop when certificate_i <= tol

Estimates and certificate (derivation) [R]
------------------------------------------
*Upper.* Each :math:`T_j \in U`, so :math:`Q^*_{T_j} \ge Q^*_U` pointwise (the adversary restricted
to one static model of ``U`` is weaker); hence :math:`Q_i \ge Q^*_U` and
:math:`\max_a Q_i(s, a) \ge \max_a Q^*_U(s, a) = V^*_U(s)`, so ``upper_i`` :math:`\ge \rho^\top V^*_U`
(the paper's Property 1, there stated through the rectangular hull of the models found).
:math:`Q_i` is a running pointwise minimum, so ``upper_i`` is non-increasing (Property 2).

*Lower.* ``robust_evaluate`` stops when :math:`\frac{\gamma}{1-\gamma}\|V_{k+1} - V_k\|_\infty \le
\varepsilon`, which certifies :math:`\|V_i - V^{\pi_i}_U\|_\infty \le \varepsilon`; so
:math:`\rho^\top V_i - \varepsilon \le \rho^\top V^{\pi_i}_U \le \rho^\top V^*_U`. The running maximum
makes ``lower_i`` non-decreasing, and the incumbent (the candidate attaining it) satisfies
:math:`\rho^\top V^{\text{inc}}_U \ge` ``lower_i``. (The paper's lower estimate is
:math:`V^{\pi_i}_{T_{i+1}}(s_0)`, which equals :math:`V^{\pi_i}_U(s_0)` for an exact worst model; the
certified :math:`\rho^\top V_i - \varepsilon` is the same quantity with its numerical error made
one-sided.)

*Certificate.* :math:`\rho^\top V^*_U - \rho^\top V^{\text{inc}}_U \le` ``upper_i - lower_i`` =
``certificate_i``: the robust suboptimality of the returned policy is at most the certificate, at
every iteration. This holds for (s,a)-rectangular sets with an exact worst-case search, which is
what :class:`mdps.RobustMDP` provides (the identity :math:`\max_a Q^*_U(s,a) = V^*_U(s)` and the exact
robust evaluation both use rectangularity). It is **not** claimed for s-rectangular sets, where the
robust optimum may be a stochastic policy and the greedy-in-:math:`Q_i` policies IWOCS builds are
deterministic; nor for finite, non-rectangular families of models searched by brute force.

No convergence rate is claimed (the paper gives none). IWOCS can stall: if the worst model of
:math:`\pi_i` is already in the set, :math:`Q_i` does not change and neither does :math:`\pi_i`; the
loop then stops with ``status="stalled"`` and a certificate that may be positive.

Cost per iteration: one policy iteration on an ordinary MDP and one robust evaluation (the
inner problem solved for ``S A`` pairs per sweep), against robust VI's inner problems for ``S A``
pairs in every sweep of its own loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

import mdps
from mdps.robust import RobustMDP, robust_evaluate
from mdps.validation import check_int, check_positive, readonly

__all__ = ["iwocs", "IWOCSResult"]

#: a model closer than this (sup norm over all rows) to one already found counts as found
DUPLICATE_ATOL = 1e-12


@dataclass(frozen=True, eq=False)
class IWOCSResult:
    """The output of :func:`iwocs`; ``n`` iterations were run.

    Attributes
    ----------
    policy : ndarray (S, A)
        The returned (incumbent) policy as one-hot rows: the candidate with the best certified
        lower estimate.
    upper : ndarray (n,)
        ``rho . max_a Q_i(., a)``: non-increasing upper estimates of ``rho . V*_U``.
    lower : ndarray (n,)
        Running maximum of the certified robust values ``rho . V^{pi_j}_U - eps``: non-decreasing
        lower estimates of ``rho . V*_U``, each a lower bound on the incumbent's robust value.
    lower_candidate : ndarray (n,)
        ``rho . V^{pi_i}_U - eps`` of the candidate of iteration ``i`` (not monotone in general).
    certificate : ndarray (n,)
        ``upper - lower``: bounds ``rho . (V*_U - V^{incumbent_i}_U)`` at every iteration.
    candidates, incumbents : ndarray of int (n, S)
        The greedy candidate ``pi_i`` and the incumbent after iteration ``i``.
    models : ndarray (m, S, A, S)
        The models found, ``models[0]`` the nominal one; ``m <= n + 1``.
    Q : ndarray (S, A)
        The final ``Q_i = min_j Q*_{T_j}``.
    n_iter : int
    status : str
        ``"certified"`` (certificate ``<= tol``), ``"stalled"`` (the worst model of the candidate
        was already in the set) or ``"max_iter"``.
    settings : mapping
    """

    policy: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    lower_candidate: np.ndarray
    certificate: np.ndarray
    candidates: np.ndarray
    incumbents: np.ndarray
    models: np.ndarray
    Q: np.ndarray
    n_iter: int
    status: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("policy", "upper", "lower", "lower_candidate", "certificate", "candidates", "incumbents",
                     "models", "Q"):
            readonly(getattr(self, name))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    @property
    def value(self) -> float:
        """The final certified lower estimate (the incumbent's robust value, up to ``eval_tol``)."""
        return float(self.lower[-1])

    def __repr__(self):
        return (f"IWOCSResult(status={self.status!r}, n_iter={self.n_iter}, models={self.models.shape[0]}, "
                f"certificate={self.certificate[-1]:.3g})")


def _optimal_q(P, R, gamma):
    """Exact optimal Q of the ordinary MDP (P, R, gamma) by policy iteration."""
    return np.asarray(mdps.solve(mdps.TabularMDP(P, R, gamma=gamma), method="pi").Q)


def iwocs(rmdp: RobustMDP, *, max_iter: int = 100, tol: float = 1e-8, eval_tol: float = 1e-11) -> IWOCSResult:
    r"""Incremental worst-case search (Zouitine, Geist, Rachelson 2024, arXiv:2410.06212) on an
    (s,a)-rectangular robust MDP; the update, the estimates and the certificate are in the module
    docstring.

    Parameters
    ----------
    rmdp : mdps.RobustMDP
    max_iter : int, >= 1
        Iterations at most (one non-robust solve and one robust evaluation each).
    tol : float, > 0
        Stop when the certificate ``upper - lower`` is at most ``tol``.
    eval_tol : float, > 0
        Certified sup error of each robust evaluation; the lower estimates subtract it.

    Examples
    --------
    >>> import mdps
    >>> from algorithms.robust import iwocs
    >>> rmdp = mdps.RobustMDP(mdps.river_swim(6, gamma=0.9), kind="l1", radius=0.2)
    >>> res = iwocs(rmdp)
    >>> res.status, bool(res.certificate[-1] <= 1e-8)
    ('certified', True)
    """
    if not isinstance(rmdp, RobustMDP):
        raise TypeError(f"rmdp must be a mdps.RobustMDP, got {type(rmdp).__name__}")
    if rmdp.gamma is None:
        raise ValueError(f"iwocs needs a discounted RobustMDP; rmdp has a finite-horizon nominal model "
                         f"(horizon={rmdp.horizon}): use mdps.robust_backward_induction(rmdp)")
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_positive(tol, "tol")
    eval_tol = check_positive(eval_tol, "eval_tol")
    rm = rmdp
    nominal = rm.mdp
    S, A, g = rmdp.n_states, rmdp.n_actions, rmdp.gamma
    R = np.asarray(nominal.R)
    rho = np.asarray(nominal.rho)
    models = [np.asarray(nominal.P, dtype=float).reshape(S, A, S)]
    Q = _optimal_q(models[0], R, g)
    best, incumbent = -np.inf, None
    upper, lower, lower_c, cands, incs = [], [], [], [], []
    status = "max_iter"
    for i in range(max_iter):
        if i > 0:
            Q = np.minimum(Q, _optimal_q(models[-1], R, g))
        pi = Q.argmax(axis=1)
        ev = robust_evaluate(rmdp, pi, tol=eval_tol)
        v_pi = np.asarray(ev.V)
        low = float(rho @ v_pi) - eval_tol if ev.converged else -np.inf
        if low > best or incumbent is None:  # an unconverged evaluation gives the vacuous bound -inf
            best, incumbent = max(low, best), pi
        upper.append(float(rho @ Q.max(axis=1)))
        lower.append(best)
        lower_c.append(low)
        cands.append(pi)
        incs.append(incumbent)
        if upper[-1] - best <= tol:
            status = "certified"
            break
        new = np.asarray(ev.P_worst)
        if any(np.abs(new - m).max() <= DUPLICATE_ATOL for m in models):
            status = "stalled"
            break
        models.append(new)
    policy = np.zeros((S, A))
    policy[np.arange(S), incumbent] = 1.0
    upper = np.array(upper)
    lower = np.array(lower)
    return IWOCSResult(
        policy=policy, upper=upper, lower=lower, lower_candidate=np.array(lower_c), certificate=upper - lower,
        candidates=np.array(cands, dtype=np.int64), incumbents=np.array(incs, dtype=np.int64),
        models=np.array(models), Q=Q, n_iter=len(upper), status=status,
        settings={"max_iter": max_iter, "tol": tol, "eval_tol": eval_tol, "kind": rmdp.kind,
                  "inner_solver": "exact policy iteration", "worst_case": "exact robust policy evaluation"},
    )
