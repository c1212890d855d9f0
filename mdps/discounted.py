r"""Discounted tabular planning: Bellman operators, VI, PI, modified PI and the LP.

The model
---------
A discounted MDP :math:`M = (P, R, \gamma, \rho)` has transitions ``P[s, a, s']``, rewards
``R[s, a]`` and a discount :math:`\gamma \in [0, 1)`. A stochastic policy ``pi[s, a]`` (or a
deterministic one ``sigma[s]``) has value

.. math::  V^\pi = \sum_{t \ge 0} \gamma^t P_\pi^t r_\pi = (I - \gamma P_\pi)^{-1} r_\pi,

with :math:`P_\pi[s, s'] = \sum_a \pi[s, a] P[s, a, s']` and :math:`r_\pi[s] = \sum_a \pi[s,a] R[s,a]`.

Bellman operators
-----------------
:math:`T^\pi V = r_\pi + \gamma P_\pi V` and :math:`(T V)(s) = \max_a R(s, a) + \gamma (P V)(s, a)`.
Both are monotone (:math:`U \le V \Rightarrow TU \le TV`), shift by :math:`\gamma c` under
:math:`V \mapsto V + c \mathbf 1`, and are :math:`\gamma`-contractions in the sup norm, so each
has a unique fixed point: :math:`V^\pi` and :math:`V^*` (Banach's fixed-point theorem; Puterman 1994, sec 6.2).
The greedy policy :math:`G(V)(s) \in \arg\max_a [R + \gamma P V](s, a)` breaks ties towards
the lowest action index (except inside policy iteration, see below).

Value iteration (``value_iteration``), Puterman sec 6.3
-------------------------------------------------------
:math:`V_{k+1} = T V_k`. Two bounds follow from the contraction:

* a priori: :math:`\|V_k - V^*\|_\infty \le \gamma^k \|V_0 - V^*\|_\infty`;
* a posteriori: :math:`\|V_{k+1} - V^*\|_\infty \le \frac{\gamma}{1-\gamma} \|V_{k+1} - V_k\|_\infty`.

**Stopping rule.** ``tol`` is the *target sup-norm error of the returned value*: VI stops after
the first sweep with :math:`\frac{\gamma}{1-\gamma}\|V_{k+1} - V_k\|_\infty \le` ``tol``, which
guarantees :math:`\|V_{k+1} - V^*\|_\infty \le` ``tol`` (with :math:`\gamma = 0` one sweep is
exact). Puterman's Thm 6.3.1 phrasing, :math:`\|V_{k+1}-V_k\| < \varepsilon(1-\gamma)/(2\gamma)`
making :math:`G(V_{k+1})` :math:`\varepsilon`-optimal, is the same rule with
``tol = eps / 2``; by Singh & Yee (1994) the greedy policy of the returned value loses at most
:math:`2\gamma\,` ``tol`` :math:`/(1-\gamma)`.

**Default iteration cap.** With :math:`D_0 = \|V_0\|_\infty + \|R\|_\infty/(1-\gamma) \ge
\|V_0 - V^*\|_\infty` the residual satisfies :math:`\|V_{k+1}-V_k\| \le (1+\gamma)\gamma^k D_0`,
so the rule must fire by

.. math:: k_{\max} = \Big\lceil \frac{\log\big(2 \gamma D_0 / ((1-\gamma)\,\mathrm{tol})\big)}{\log(1/\gamma)} \Big\rceil + 10

sweeps in exact arithmetic (the ``+ 10`` absorbs round-off). If ``tol`` is below the floating
point floor of the residual (about :math:`10^{-16} \|V^*\|_\infty \gamma / (1-\gamma)`), the
cap is reached and ``converged`` is ``False``: the solver never claims a bound it did not see.
The count is evaluated as a sum of logarithms (rewards near ``1e308``, ``tol = 5e-324`` and
``gamma`` within ``1e-16`` of 1 give a finite number, never an overflow) and capped at
``2**53``. Near :math:`\gamma = 1` it is huge (``~ 2e10`` sweeps at ``gamma = 1 - 1e-9``):
value iteration is then the wrong tool and ``method="pi"`` the right one. The residual and
error traces grow with the sweeps actually done (doubling buffers), so a generous cap costs no
memory.

**Overflow.** Values are linear in ``R`` and may leave the float64 range when
``max |R| / (1 - gamma)`` approaches ``1.8e308``; every solver then raises ``ValueError``
(naming that ratio) instead of returning ``inf`` or ``nan``.

Policy iteration (``policy_iteration``), Howard 1960; Puterman sec 6.4
-----------------------------------------------------------------------
:math:`\pi_{k+1} = G(V^{\pi_k})`, each :math:`V^{\pi_k}` by an exact linear solve. The values
increase monotonically, :math:`V^{\pi_{k+1}} \ge T V^{\pi_k} \ge V^{\pi_k}`, and PI stops when
the policy is stable, which then is optimal. Ties in the improvement step are broken *in favour
of the current action* (a tie is a gap below ``1e-12 * max(1, ||V||_inf)``, the round-off of
the linear solve); without this, two equally good actions can alternate forever. The number
of iterations is strongly polynomial for fixed :math:`\gamma` (Ye 2011; Hansen, Miltersen &
Zwick 2013; Scherrer 2016); the lab records, in ``settings["iteration_bound"]``, the explicit
bound :math:`2 S (A-1) (1 + \lceil \log(1/(1-\gamma)) / (1-\gamma) \rceil)` on the number of
policy-changing iterations (theory note A.1, a safety factor 2 over Scherrer's bound).

Modified policy iteration (``modified_policy_iteration``), Puterman & Shin 1978; Puterman sec 6.5
-------------------------------------------------------------------------------------------------
**One loop.** Value iteration *is* the ``m = 1`` preset of modified policy iteration: both run
the same loop (``_iterate``) with the same stopping helper (``_stopping_statistic``, the sup
and span rules below); they differ only in their defaults (``v0 = 0`` for VI, the monotone
start below for MPI) and in the name and settings they report. Sparse instances run the
``m - 1`` evaluation sweeps of each step in one compiled call.

:math:`\pi_{k+1} = G(v_k)`, :math:`v_{k+1} = (T^{\pi_{k+1}})^m v_k` (:math:`m = 1` is VI,
:math:`m \to \infty` is PI). Note :math:`T^{\pi_{k+1}} v_k = T v_k`, so each step is one full
Bellman backup followed by :math:`m - 1` cheap policy backups. From a :math:`v_0` with
:math:`T v_0 \ge v_0` -- the default :math:`v_0 = (\min R / (1-\gamma)) \mathbf 1` -- the
iterates increase monotonically to :math:`V^*` and :math:`T^k v_0 \le v_k \le V^*`
(Puterman & Shin 1978; Puterman 1994, sec 6.5), hence the VI a-priori bound holds. The stopping rule is VI's, applied to
:math:`\|T v_k - v_k\|_\infty`; on stopping the returned value is :math:`T v_k`, which carries
the bound :math:`\|T v_k - V^*\| \le \frac{\gamma}{1-\gamma}\|T v_k - v_k\|`.

Inexact policy iteration (``inexact_policy_iteration``), Puterman & Brumelle 1979; Gargiani et al. 2024
--------------------------------------------------------------------------------------------------------
Policy iteration is Newton's method on :math:`TV = V`; here each Newton system
:math:`(I - \gamma P_{\sigma_k}) d = T v_k - v_k` is solved inexactly by GMRES on its centred
form, to a forcing tolerance that shrinks as the policy settles, and every step's Bellman backup
yields MacQueen's certified bound, so the answer carries a proof
(``certificate["bound"] >= ||V - V*||_inf``) whatever the Krylov solver did. It is the default
route of :func:`mdps.solve` on large instances (:mod:`mdps.solvers`); see its docstring for the
centring that keeps the certificate at ``~1e-11`` up to ``gamma = 0.999``.

Linear programming (``linear_programming``), Puterman sec 6.9
-------------------------------------------------------------
:math:`\min_V \rho^\top V` s.t. :math:`V(s) \ge R(s, a) + \gamma P[s, a, :] V` for all
:math:`(s, a)`. Any :math:`\rho > 0` gives :math:`V^*` as the unique solution; the lab uses
``mdp.rho`` when it is strictly positive and uniform weights otherwise (a zero weight leaves
the value of that state undetermined by the objective). Solved by HiGHS through
:func:`scipy.optimize.linprog`, with a sparse constraint matrix for sparse instances.

*Numerical range.* HiGHS reads any bound or right-hand side of magnitude ``>= 1e20`` as
infinite, so the LP is solved for ``R / 2**e`` (an exact power-of-two rescaling with
``max |R| / 2**e`` in ``[0.5, 1)``) and ``V`` multiplied back: the reward scale never matters.
The discount does: as :math:`\gamma \to 1` the constraint matrix :math:`\gamma P - E` becomes
singular within HiGHS's feasibility tolerance (``1e-7``); the values lose digits from
``1 - gamma ~ 1e-7`` and HiGHS fails or reports "infeasible" from about ``1e-9``. Below
``LP_MIN_ONE_MINUS_GAMMA = 1e-9`` the LP refuses up front, and a HiGHS failure with
``1 - gamma < 1e-6`` is reported as out of range; both messages point to ``method="pi"``,
whose linear solves stay accurate up to ``gamma = 1 - 1e-16``.

Infeasible actions
------------------
With state-dependent action sets (:attr:`TabularMDP.feasible`; QuantEcon's ``-inf`` rewards)
every max above runs over the feasible actions only: the compiled kernels and
``_backup.q_values`` take the mask and set ``Q = -inf`` at infeasible pairs by assignment, never
by ``-inf`` arithmetic; the LP keeps one constraint per feasible pair; policy iteration starts
from the best feasible myopic action; evaluation refuses a policy that uses an infeasible
action. The operator restricted to the feasible actions is still a ``gamma``-contraction, so
every guarantee above holds unchanged. Instances without a mask run the unmasked code path,
bit for bit as before.

References
----------
.. [1] M. L. Puterman, *Markov Decision Processes*, Wiley 1994, sections 6.2-6.5 and 6.9.
.. [2] R. A. Howard, *Dynamic Programming and Markov Processes*, MIT Press 1960.
.. [3] M. L. Puterman and M. C. Shin, "Modified policy iteration algorithms for discounted
   Markov decision problems", Management Science 24(11), 1978.
.. [4] B. Scherrer, "Improved and generalized upper bounds on the complexity of policy
   iteration", Mathematics of Operations Research 41(3), 2016 (arXiv:1306.0386).
.. [5] S. Singh and R. Yee, "An upper bound on the loss from approximate optimal-value
   functions", Machine Learning 16, 1994.
.. [6] M. L. Puterman and S. L. Brumelle, "On the convergence of policy iteration in stationary
   dynamic programming", Mathematics of Operations Research 4(1), 1979.
.. [7] R. S. Dembo, S. C. Eisenstat and T. Steihaug, "Inexact Newton methods", SIAM Journal on
   Numerical Analysis 19(2), 1982.
.. [8] M. Gargiani, R. Sieber, E. Balta, D. Liao-McPherson and J. Lygeros, "Inexact policy
   iteration methods for large-scale Markov decision processes", 2024, arXiv:2404.06136.
.. [10] M. Gargiani, D. Liao-McPherson, A. Zanelli and J. Lygeros, "Inexact GMRES policy
   iteration for large-scale Markov decision processes", 2022, arXiv:2211.04299.
.. [11] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002;
   N. J. Higham and T. Mary, "A new approach to probabilistic rounding error analysis", SIAM J.
   Sci. Comput. 41(5), 2019.
.. [9] Y. Saad and M. H. Schultz, "GMRES: a generalized minimal residual algorithm for solving
   nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 7(3), 1986.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg
from scipy.optimize import linprog

from mdps import _backup, _kernels
from mdps.numerics import binary_exponent
from mdps.results import ConvergenceWarning, Solution
from mdps.tabular import TabularMDP
from mdps.validation import (
    check_choice,
    check_float64_range,
    check_gamma,
    check_int,
    check_mdp,
    check_policy,
    check_positive,
    check_value,
    feasible_entries,
)

__all__ = [
    "q_values",
    "bellman_operator",
    "greedy_policy",
    "evaluate_policy",
    "value_iteration",
    "policy_iteration",
    "modified_policy_iteration",
    "linear_programming",
    "pi_iteration_bound",
    "inexact_policy_iteration",
]

#: Relative tolerance defining a tie in PI's improvement step: the round-off level of the
#: exact linear solve (``~ cond * eps``) on values of size ``max(1, ||V||_inf)``.
PI_TIE_RTOL = 1e-12
#: Extra sweeps on top of the a-priori iteration count (absorbs round-off in the residual).
_VI_SLACK = 10
#: Ceiling of the default sweep cap: 2^53 sweeps is beyond any run (and beyond the integers a
#: float counts exactly), so a larger a-priori count carries no information.
_MAX_ITER_CEILING = 2**53
#: Initial capacity of the growing residual / error traces (doubled when full).
_TRACE_CAPACITY = 256
#: The LP's range (HiGHS, scipy.optimize.linprog): below ``1 - gamma = 1e-9`` the constraint
#: matrix ``gamma P - E`` is singular within HiGHS's feasibility tolerance 1e-7 and HiGHS fails
#: or reports "infeasible" (and from about 1e-7 on the values lose digits).
LP_MIN_ONE_MINUS_GAMMA = 1e-9


# -- validation -------------------------------------------------------------------------------
def _check_discounted(mdp) -> TabularMDP:
    return check_mdp(mdp, criterion="discounted")


def _check_max_iter(max_iter):
    return None if max_iter is None else check_int(max_iter, "max_iter", low=1)


def _check_tol(tol) -> float:
    return check_positive(tol, "tol")


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _require_finite(mdp: TabularMDP, arr, what: str):
    """Values leave float64 when ``max |R| / (1 - gamma)`` nears 1.8e308 (hostile review D7)."""
    bound = float(np.abs(mdp.R).max()) / (1.0 - mdp.gamma)
    check_float64_range(arr, what, R=mdp.R, detail=f", max |R| / (1 - gamma) = {bound:.3g}")
    return arr


# -- operators --------------------------------------------------------------------------------
def _operator_output(mdp: TabularMDP, V: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Refuse an operator value that overflowed (finite ``R`` and ``V`` near ``1e308``); a ``Q``
    of shape ``(S, A)`` is read at its feasible pairs (``-inf`` elsewhere by design)."""
    check_float64_range(feasible_entries(out, mdp.action_mask) if out.ndim == 2 else out, "R + gamma * P V", R=mdp.R, detail=f", max |V| = {float(np.abs(V).max()):.3g}",
                        hint="rescale R and V")
    return out


def q_values(mdp: TabularMDP, V) -> np.ndarray:
    r"""State-action values :math:`Q = R + \gamma P V`.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP (dense or sparse).
    V : array_like, shape (S,)
        Value vector.

    Returns
    -------
    Q : ndarray, shape (S, A)
        ``Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s']``; ``-inf`` at infeasible pairs.
    """
    mdp = _check_discounted(mdp)
    V = check_value(V, "V", mdp.n_states)
    with np.errstate(over="ignore", invalid="ignore"):
        Q = _backup.q_values(mdp.P_matrix(), mdp.R, V, mdp.gamma, mdp.action_mask)
    return _operator_output(mdp, V, Q)


def bellman_operator(mdp: TabularMDP, V, pi=None) -> np.ndarray:
    r"""Apply the Bellman optimality operator :math:`T` or a policy operator :math:`T^\pi`.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP.
    V : array_like, shape (S,)
        Value vector.
    pi : None, int array (S,) or float array (S, A), optional
        ``None`` applies :math:`(TV)(s) = \max_a R(s,a) + \gamma (PV)(s,a)`; a deterministic
        ``sigma`` or a stochastic ``pi`` applies :math:`T^\pi V = r_\pi + \gamma P_\pi V`.

    Returns
    -------
    TV : ndarray, shape (S,)
    """
    mdp = _check_discounted(mdp)
    S, A = mdp.n_states, mdp.n_actions
    V = check_value(V, "V", S)
    P2 = mdp.P_matrix()
    mask = mdp.action_mask
    pol = None if pi is None else check_policy(pi, S, A, feasible=mask)
    with np.errstate(over="ignore", invalid="ignore"):
        if pol is None:
            out = _backup.bellman_max(P2, mdp.R, V, mdp.gamma, feasible=mask)[0]
        elif pol.dtype.kind == "i":
            out = _backup.policy_backup(P2, mdp.R, V, pol, mdp.gamma)
        else:
            # sum over the policy's support only: 0 * inf would be NaN where pi puts no mass
            Q = _backup.q_values(P2, mdp.R, V, mdp.gamma, mask)
            out = np.einsum("sa,sa->s", pol, np.where(pol > 0, Q, 0.0))
    return _operator_output(mdp, V, out)


def greedy_policy(mdp: TabularMDP, V) -> np.ndarray:
    r"""Greedy deterministic policy :math:`G(V)(s) = \arg\max_a [R + \gamma P V](s, a)`.

    Ties go to the lowest action index; infeasible actions are never chosen.

    Returns
    -------
    sigma : ndarray of int64, shape (S,)
    """
    return q_values(mdp, V).argmax(axis=1).astype(np.int64)


# -- exact evaluation -------------------------------------------------------------------------
def _policy_matrices(mdp: TabularMDP, pol: np.ndarray):
    """``(P_pi, r_pi)`` of a validated policy (int ``(S,)`` or float ``(S, A)``): dense ``(S, S)``
    array or CSR matrix (never densified), and ``(S,)``."""
    S, A = mdp.n_states, mdp.n_actions
    P2, R = mdp.P_matrix(), mdp.R
    states = np.arange(S)
    if pol.dtype.kind == "i":
        rows = states * A + pol
        r_pi = R[states, pol]
        P_pi = P2[rows] if not sp.issparse(P2) else sp.csr_array(P2[rows])
        return P_pi, r_pi
    r_pi = np.einsum("sa,sa->s", pol, R)
    if sp.issparse(P2):
        W = sp.csr_array((pol.ravel(), np.arange(S * A), np.arange(0, S * A + 1, A)), shape=(S, S * A))
        return sp.csr_array(W @ P2), r_pi
    return np.einsum("sa,sat->st", pol, mdp.P), r_pi


def _policy_lu_solve(P_pi, gamma: float, rhs: np.ndarray) -> np.ndarray:
    """``(I - gamma P_pi)^{-1} rhs`` by LU: SuperLU (COLAMD ordering, scipy's default) for a CSR
    ``P_pi``, LAPACK for a dense one. ``I - gamma P_pi`` is strictly diagonally dominant by rows
    (margin ``1 - gamma``)."""
    S = rhs.shape[0]
    if sp.issparse(P_pi):
        M = sp.identity(S, format="csc") - gamma * sp.csc_array(P_pi)
        return np.asarray(scipy.sparse.linalg.splu(M).solve(rhs), dtype=np.float64)
    M = np.eye(S) - gamma * P_pi
    return scipy.linalg.solve(M, rhs, check_finite=False)


def _solve_policy(mdp: TabularMDP, pol: np.ndarray) -> np.ndarray:
    P_pi, r_pi = _policy_matrices(mdp, pol)
    with np.errstate(over="ignore", invalid="ignore"):
        V = _policy_lu_solve(P_pi, mdp.gamma, r_pi)
    return _require_finite(mdp, V, "the policy's values")


def evaluate_policy(mdp: TabularMDP, pi) -> np.ndarray:
    r"""Exact value :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi` by a linear solve.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP. Dense instances use :func:`scipy.linalg.solve`; sparse ones build the CSR
        ``P_pi`` without densifying and factor with :func:`scipy.sparse.linalg.splu`.
    pi : int array (S,) or float array (S, A)
        Deterministic policy ``sigma[s]`` or stochastic ``pi[s, a]`` (rows on the simplex),
        validated by :func:`mdps.validation.check_policy`.

    Returns
    -------
    V : ndarray, shape (S,)

    Raises
    ------
    ValueError
        If ``pi`` is invalid, or the values exceed the float64 range (rewards near ``1e308``).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> mdp = mdps.TabularMDP(np.ones((1, 1, 1)), np.array([[1.0]]), gamma=0.5)
    >>> mdps.evaluate_policy(mdp, np.array([0]))
    array([2.])
    """
    mdp = _check_discounted(mdp)
    return _solve_policy(mdp, check_policy(pi, mdp.n_states, mdp.n_actions, feasible=mdp.action_mask))


# -- value iteration and modified policy iteration: one loop ----------------------------------
def _log_abs_max(x) -> float:
    m = float(np.abs(x).max()) if np.size(x) else 0.0
    return math.log(m) if m > 0.0 else -math.inf


def _default_max_iter(mdp: TabularMDP, v0: np.ndarray, tol: float) -> int:
    """A-priori sweep count after which the rule must have fired (module doc), in log space.

    ``log(2 gamma D0 / ((1 - gamma) tol)) / log(1 / gamma)`` with ``D0 = ||v0|| + ||R|| / (1 -
    gamma)`` is evaluated as a sum of logarithms, so rewards near 1e308, ``tol = 5e-324`` or
    ``gamma`` within 1e-16 of 1 give a finite count instead of an overflow; the count is capped
    at ``2**53``.
    """
    g = mdp.gamma
    if g == 0.0:
        return 1 + _VI_SLACK
    log_1mg = math.log1p(-g)
    log_D0 = float(np.logaddexp(_log_abs_max(v0), _log_abs_max(mdp.R) - log_1mg))
    log_target = math.log(2.0) + math.log(g) + log_D0 - log_1mg - math.log(tol)
    k = math.ceil(log_target / -math.log(g)) if log_target > 0.0 else 0
    return min(max(k, 1) + _VI_SLACK, _MAX_ITER_CEILING)


def _reference_value(mdp, v_star):
    """``None`` (no errors recorded), or the exact ``V*`` as an ``(S,)`` array."""
    if v_star is None:
        return None
    if isinstance(v_star, str):
        if v_star != "exact":
            raise ValueError(f"v_star must be None, 'exact' or an array of shape (S,), got {v_star!r}")
        return policy_iteration(mdp).V
    return check_value(v_star, "v_star", mdp.n_states)


_STOPPING = ("sup", "span")
_RULES = {
    ("vi", "sup"): "gamma/(1-gamma) * ||V_{k+1} - V_k||_inf <= tol",
    ("vi", "span"): "gamma/(1-gamma) * sp(V_{k+1} - V_k) / 2 <= tol; MacQueen midpoint returned",
    ("mpi", "sup"): "gamma/(1-gamma) * ||T v_k - v_k||_inf <= tol",
    ("mpi", "span"): "gamma/(1-gamma) * sp(T v_k - v_k) / 2 <= tol; MacQueen midpoint returned",
}


def _stopping_statistic(new: np.ndarray, old: np.ndarray, coef: float, span_rule: bool):
    """The one stopping helper of VI and MPI: ``(residual, certified bound, shift)``.

    ``"sup"``: residual ``||new - old||_inf``, bound ``coef * residual`` on ``||new - V*||``.
    ``"span"``: residual ``sp(new - old)``, bound ``coef * residual / 2`` on the error of the
    MacQueen midpoint ``new + shift`` with ``shift = coef (min + max)(new - old) / 2``.
    """
    if span_rule:
        lo, hi = _kernels.diff_range(new, old)
        res = hi - lo
        return res, coef * 0.5 * res, coef * 0.5 * (lo + hi)
    res = _kernels.sup_diff(new, old)
    return res, coef * res, 0.0


class _Trace:
    """A float64 trace that grows by doubling: memory follows the iterations done, not the cap
    (hostile review D4: a preallocated ``np.empty(max_iter)`` was 456 GiB at gamma = 1 - 1e-9)."""

    __slots__ = ("buf", "n")

    def __init__(self):
        self.buf = np.empty(_TRACE_CAPACITY)
        self.n = 0

    def append(self, x: float) -> None:
        if self.n == self.buf.shape[0]:
            grown = np.empty(2 * self.n)
            grown[: self.n] = self.buf
            self.buf = grown
        self.buf[self.n] = x
        self.n += 1

    def array(self) -> np.ndarray:
        return self.buf[: self.n].copy()


def _iterate(mdp: TabularMDP, *, m: int, tol: float, max_iter: int, v0: np.ndarray, ref, span_rule: bool,
             keep_iterates: bool = False):
    r"""Modified policy iteration's loop; ``m = 1`` is value iteration, bit for bit.

    Step ``k``: ``b = T v_k`` with greedy ``sigma = G(v_k)`` (one Bellman backup), the stopping
    statistic of ``(b, v_k)``, and unless stopping, ``m - 1`` policy backups
    ``b <- T^sigma b``; then ``v_{k+1} = b``. Returns ``(V, n_iter, converged, residuals, errors,
    iterates)`` with ``iterates`` the list ``v_0 .. v_n`` (``None`` unless ``keep_iterates``).
    """
    S, gamma = mdp.n_states, mdp.gamma
    coef = gamma / (1.0 - gamma)
    P2, R, mask = mdp.P_matrix(), mdp.R, mdp.action_mask
    sparse = sp.issparse(P2)
    a, b = v0.copy(), np.empty(S)
    sigma = np.empty(S, dtype=np.int64)
    work = None if sparse else np.empty(P2.shape[0])
    residuals = _Trace()
    errors = _Trace() if ref is not None else None
    if errors is not None:
        errors.append(_kernels.sup_diff(a, ref))
    iterates = [a.copy()] if keep_iterates else None
    bellman_max, policy_backup, sup_diff = _backup.bellman_max, _backup.policy_backup, _kernels.sup_diff
    if mask is not None:  # state-dependent action sets: every max runs over the feasible actions
        bellman_max = functools.partial(bellman_max, feasible=mask)
    # sparse MPI: the m - 1 evaluation sweeps in one compiled call below the parallel threshold
    # (per-sweep Python calls dominated: hostile review D13), one parallel kernel call per sweep
    # above it (where a sweep costs far more than the call); both give the same bits
    fused = sparse and P2.nnz < _backup.PARALLEL_MIN_NNZ
    if not sparse and m > 1:  # buffers for the gathered policy kernel (memory: S^2, i.e. P / A)
        row0 = np.arange(S, dtype=np.int64) * mdp.n_actions
        rows, r_sigma = np.empty(S, dtype=np.int64), np.empty(S)
        R_flat = R.reshape(-1)
    converged, n, shift = False, 0, 0.0
    for k in range(max_iter):
        bellman_max(P2, R, a, gamma, b, sigma, work)  # b = T v_k, sigma = G(v_k)
        res, bound, shift = _stopping_statistic(b, a, coef, span_rule)
        if not math.isfinite(res):
            _require_finite(mdp, np.array([res]), f"the iterates (sweep {k + 1})")
        converged = bound <= tol
        residuals.append(res)
        n = k + 1
        if not converged and m > 1:
            if not sparse:
                # dense: gather P_sigma (S, S) once per improvement (one pass over a 1/A slice of
                # P), then the m - 1 evaluation sweeps are BLAS matrix-vector products
                np.add(row0, sigma, out=rows)
                P_sigma = P2[rows]  # fancy indexing gathers ~2x faster than np.take(..., out=)
                np.take(R_flat, rows, out=r_sigma)
                for _ in range(m - 1):  # b <- T^sigma b, m - 1 times
                    np.dot(P_sigma, b, out=a)
                    a *= gamma
                    a += r_sigma
                    a, b = b, a
            elif fused:  # one compiled call for all m - 1 sweeps (hostile review D13)
                _kernels.csr_policy_sweeps(P2.indptr, P2.indices, P2.data, R, b, sigma, float(gamma),
                                           m - 1, a)
            else:
                for _ in range(m - 1):
                    policy_backup(P2, R, b, sigma, gamma, a)
                    a, b = b, a
        a, b = b, a  # a = v_{k+1} (or T v_k on stopping)
        if errors is not None:
            errors.append(sup_diff(a, ref))
        if iterates is not None:
            iterates.append(a.copy())
        if converged:
            if span_rule:
                a = a + shift
            break
    return (a, n, converged, residuals.array(), (errors.array() if errors is not None else np.empty(0)),
            iterates)


def _finish(mdp, V, *, product=None, **kwargs) -> Solution:
    """The :class:`Solution` of ``V``, with ``Q(V)`` and its greedy policy. ``product = (P v, shift)``
    when ``V = v + shift`` and ``P v`` is at hand: then ``Q(V) = R + gamma (P v + shift)`` (rows of
    ``P`` sum to 1), without another pass over ``P``."""
    _require_finite(mdp, V, "the values")
    mask = mdp.action_mask
    with np.errstate(over="ignore", invalid="ignore"):
        if product is None:
            Q = _backup.q_values(mdp.P_matrix(), mdp.R, V, mdp.gamma, mask)
        else:
            PV, shift = product
            Q = mdp.R + mdp.gamma * (PV.reshape(mdp.R.shape) + shift)
            if mask is not None:
                Q[~mask] = -np.inf
    _require_finite(mdp, feasible_entries(Q, mask), "the state-action values Q")
    return Solution(V=V, Q=Q, policy=Q.argmax(axis=1).astype(np.int64), **kwargs)


def _run(mdp, *, method: str, m: int, tol, max_iter, v0, v_star, stopping, keep_iterates) -> Solution:
    """Validate, pick the cap, run :func:`_iterate` and package the record (VI and MPI)."""
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    span_rule = check_choice(stopping, "stopping", _STOPPING) == "span"
    ref = _reference_value(mdp, v_star)
    if max_iter is None:
        max_iter = _default_max_iter(mdp, v0, tol)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected and reported
        V, n, converged, residuals, errors, iterates = _iterate(
            mdp, m=m, tol=tol, max_iter=max_iter, v0=v0, ref=ref, span_rule=span_rule,
            keep_iterates=_check_flag(keep_iterates, "keep_iterates"))
    settings = {"tol": tol, "max_iter": max_iter, "gamma": mdp.gamma, "stopping": stopping,
                "stopping_rule": _RULES[method, stopping]}
    if method == "mpi":
        settings = {"m": m, **settings}
    trace = {} if iterates is None else {"iterates": np.array(iterates)}
    return _finish(mdp, V, n_iter=n, method=method, errors=errors, residuals=residuals,
                   converged=converged, trace=trace, settings=settings)


def value_iteration(mdp: TabularMDP, *, tol: float = 1e-8, max_iter: int | None = None,
                    v0=None, v_star=None, stopping: str = "sup", keep_iterates: bool = False) -> Solution:
    r"""Value iteration :math:`V_{k+1} = T V_k` with a certified a-posteriori stopping rule.

    The ``m = 1`` preset of :func:`modified_policy_iteration` (one loop, one stopping rule),
    started from ``v0 = 0``.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP (dense: one BLAS matvec over the ``(S*A, S)`` view per sweep; sparse: one
        fused CSR pass).
    tol : float > 0
        Target sup-norm error of the returned value: stop after the first sweep with
        ``gamma / (1 - gamma) * ||V_{k+1} - V_k||_inf <= tol``, which implies
        ``||V_{k+1} - V*||_inf <= tol`` (Puterman Thm 6.3.1).
    max_iter : int >= 1, optional
        Sweep cap; default from the a-priori bound (module docstring). Memory follows the
        sweeps done, so a generous cap costs nothing.
    v0 : array_like, shape (S,), optional
        Initial value (default zeros).
    v_star : None, "exact" or array_like (S,)
        Reference for ``errors``: an array, or ``"exact"`` to compute ``V*`` by policy iteration.
    stopping : {"sup", "span"}
        ``"sup"`` (default): the rule above; the returned ``V`` is the last iterate.
        ``"span"``: MacQueen's bounds (Puterman Thm 6.6.3),
        ``TV + c min(TV - V) <= V* <= TV + c max(TV - V)`` with ``c = gamma / (1 - gamma)``:
        stop when ``c * sp(V_{k+1} - V_k) / 2 <= tol`` and return the midpoint
        ``V_{k+1} + c (min + max) / 2``, whose sup-norm error is then at most ``tol``. The span
        contracts faster than the sup norm whenever the error is mostly a constant shift, so
        this rule stops much earlier at the same certified error. ``errors`` still trace the
        raw iterates and ``residuals`` hold the spans.
    keep_iterates : bool
        Also return every iterate, ``trace["iterates"]`` of shape ``(n + 1, S)`` (``V_0 .. V_n``,
        before the MacQueen shift), so that a check can measure errors, bounds and identities
        itself instead of trusting the solver's traces. Memory ``O(n S)``.

    Returns
    -------
    Solution
        ``method="vi"``; ``V`` is the last iterate ``V_n``, ``policy = G(V_n)``,
        ``residuals[k] = ||V_{k+1} - V_k||_inf`` (shape ``(n,)``), ``errors[k] = ||V_k - v_star||``
        for ``k = 0..n`` (empty without ``v_star``), ``converged`` whether the rule fired.

    Raises
    ------
    ValueError
        Invalid arguments, or iterates leaving the float64 range (rewards near ``1e308``).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> mdp = mdps.TabularMDP(np.ones((1, 1, 1)), np.array([[1.0]]), gamma=0.5)
    >>> sol = mdps.value_iteration(mdp, tol=1e-6)
    >>> bool(abs(sol.V[0] - 2.0) <= 1e-6)
    True
    """
    mdp = _check_discounted(mdp)
    v0 = np.zeros(mdp.n_states) if v0 is None else check_value(v0, "v0", mdp.n_states)
    return _run(mdp, method="vi", m=1, tol=tol, max_iter=max_iter, v0=v0, v_star=v_star,
                stopping=stopping, keep_iterates=keep_iterates)


# -- policy iteration -------------------------------------------------------------------------
def pi_iteration_bound(n_states: int, n_actions: int, gamma: float) -> int:
    r"""The lab's bound on the policy-changing iterations of Howard's policy iteration.

    .. math:: 2 S (A - 1) \Big(1 + \Big\lceil \frac{\log(1/(1-\gamma))}{1-\gamma} \Big\rceil\Big)

    (theory note A.1: a safety factor 2 over Scherrer 2016's bound
    :math:`S (A-1) \lceil \frac{1}{1-\gamma} \log \frac{1}{1-\gamma} \rceil`). Exact integer
    arithmetic on one float logarithm: no overflow for any ``gamma < 1`` (at
    ``gamma = 1 - 2**-53`` it is about ``7e17 S (A - 1)``).

    Parameters
    ----------
    n_states, n_actions : int >= 1
    gamma : float in [0, 1)

    Returns
    -------
    int

    Examples
    --------
    >>> pi_iteration_bound(10, 2, 0.9)
    500
    """
    S = check_int(n_states, "n_states", low=1)
    A = check_int(n_actions, "n_actions", low=1)
    g = check_gamma(gamma)
    return 2 * S * (A - 1) * (1 + math.ceil(math.log(1.0 / (1.0 - g)) / (1.0 - g)))


def policy_iteration(mdp: TabularMDP, *, max_iter: int | None = None, pi0=None) -> Solution:
    r"""Howard's policy iteration with exact evaluation.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP.
    max_iter : int >= 1, optional
        Cap on improvement steps; default ``iteration_bound + 2``.
    pi0 : int array (S,), optional
        Initial deterministic policy (default: the myopic policy ``argmax_a R[s, a]``).

    Returns
    -------
    Solution
        ``method="pi"``; ``V = V^{pi_n}`` exact, ``policy = pi_n``; ``residuals[k]`` is the number
        of states whose action changed at step ``k + 1``; ``errors[k] = ||V^{pi_k} - V^{pi_n}||``
        for ``k = 0..n`` (exact errors once converged, since ``pi_n`` is then optimal);
        ``settings["iteration_bound"]`` the bound :func:`pi_iteration_bound` on policy-changing
        steps; ``converged`` is ``True`` when the policy is stable.

    Raises
    ------
    ValueError
        Invalid arguments, or values beyond the float64 range (rewards near ``1e308``; the
        message gives ``max |R| / (1 - gamma)``).

    Notes
    -----
    Improvement keeps the current action whenever it is within
    ``PI_TIE_RTOL * max(1, ||V||_inf)`` of the best one; otherwise it takes the lowest maximiser.
    """
    mdp = _check_discounted(mdp)
    max_iter = _check_max_iter(max_iter)
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma
    bound = pi_iteration_bound(S, A, gamma)
    if max_iter is None:
        max_iter = bound + 2
    mask = mdp.action_mask
    if pi0 is None:
        sigma = (mdp.R if mask is None else mdp.R_masked).argmax(axis=1).astype(np.int64)
    else:
        sigma = check_policy(pi0, S, A, name="pi0", kind="deterministic", feasible=mask)
    P2, R = mdp.P_matrix(), mdp.R
    states = np.arange(S)
    values = [_solve_policy(mdp, sigma)]
    changes = []
    converged = False
    for _ in range(max_iter):
        V = values[-1]
        with np.errstate(over="ignore", invalid="ignore"):
            Q = _backup.q_values(P2, R, V, gamma, mask)
        _require_finite(mdp, feasible_entries(Q, mask), "the state-action values Q")
        best = Q.max(axis=1)
        tie = PI_TIE_RTOL * max(1.0, float(np.abs(V).max()))
        keep = Q[states, sigma] >= best - tie
        new = np.where(keep, sigma, Q.argmax(axis=1))
        n_changed = int(np.count_nonzero(new != sigma))
        changes.append(n_changed)
        if n_changed == 0:
            values.append(V)
            converged = True
            break
        sigma = new
        values.append(_solve_policy(mdp, sigma))
    V = values[-1]
    errors = np.array([_kernels.sup_diff(v, V) for v in values])
    Q = _backup.q_values(P2, R, V, gamma, mask)
    return Solution(
        V=V, Q=Q, policy=sigma, n_iter=len(changes), method="pi", errors=errors,
        residuals=np.array(changes, dtype=np.float64), converged=converged,
        settings={"max_iter": max_iter, "iteration_bound": bound, "gamma": gamma,
                  "tie_rtol": PI_TIE_RTOL},
    )


# -- modified policy iteration ----------------------------------------------------------------
def modified_policy_iteration(mdp: TabularMDP, *, m: int = 10, tol: float = 1e-8,
                              max_iter: int | None = None, v0=None, v_star=None,
                              stopping: str = "sup", keep_iterates: bool = False) -> Solution:
    r"""Modified policy iteration (Puterman & Shin 1978): :math:`v_{k+1} = (T^{G(v_k)})^m v_k`.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP.
    m : int >= 1
        Partial-evaluation sweeps per step (``m = 1`` is value iteration). Sparse instances run
        the ``m - 1`` evaluation sweeps in one compiled call.
    tol : float > 0
        Target sup-norm error: stop when ``gamma / (1 - gamma) * ||T v_k - v_k||_inf <= tol`` and
        return ``T v_k``.
    max_iter : int >= 1, optional
        Cap on improvement steps; default as in :func:`value_iteration`.
    v0 : array_like, shape (S,), optional
        Default ``(min R / (1 - gamma)) * 1``, so that ``T v0 >= v0`` and ``v_k`` increases to ``V*``.
    v_star : None, "exact" or array_like (S,)
        Reference for ``errors`` as in :func:`value_iteration`.
    stopping : {"sup", "span"}
        As in :func:`value_iteration`; with ``"span"`` the returned value is the MacQueen
        midpoint ``T v_k + c (min + max)(T v_k - v_k) / 2``, certified within ``tol`` of ``V*``.
    keep_iterates : bool
        ``trace["iterates"]`` of shape ``(n + 1, S)``: ``v_0 .. v_{n-1}`` and the returned
        ``T v_{n-1}`` (before the MacQueen shift), as in :func:`value_iteration`.

    Returns
    -------
    Solution
        ``method="mpi"``; ``residuals[k] = ||T v_k - v_k||_inf``; ``errors[k] = ||v_k - v_star||``
        for ``k < n`` and ``errors[n] = ||V - v_star||`` for the returned ``V = T v_{n-1}``.
    """
    mdp = _check_discounted(mdp)
    m = check_int(m, "m", low=1)
    S, gamma = mdp.n_states, mdp.gamma
    if v0 is None:
        with np.errstate(over="ignore"):
            v0 = np.full(S, float(mdp.R.min()) / (1.0 - gamma))
        _require_finite(mdp, v0, "the default start min(R) / (1 - gamma)")
    else:
        v0 = check_value(v0, "v0", S)
    return _run(mdp, method="mpi", m=m, tol=tol, max_iter=max_iter, v0=v0, v_star=v_star,
                stopping=stopping, keep_iterates=keep_iterates)


# -- linear programming -----------------------------------------------------------------------
_LP_SOLVERS = ("highs", "highs-ds", "highs-ipm")


def linear_programming(mdp: TabularMDP, *, solver: str = "highs") -> Solution:
    r"""Primal LP :math:`\min_V \rho^\top V` s.t. :math:`V(s) \ge R(s,a) + \gamma P[s,a,:] V`.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP; a sparse instance gives a sparse constraint matrix.
    solver : {"highs", "highs-ds", "highs-ipm"}
        :func:`scipy.optimize.linprog` method.

    Returns
    -------
    Solution
        ``method="lp"``, ``n_iter=1``, ``V`` the LP solution, ``policy = G(V)``; ``errors`` and
        ``residuals`` are empty. ``settings["weights"]`` is ``"rho"`` or ``"uniform"`` (used when
        ``mdp.rho`` has a zero entry, where the objective would not pin down ``V``);
        ``settings["reward_scale_log2"]`` the exponent ``e`` of the power of two ``2**e`` that
        ``R`` was divided by.

    Raises
    ------
    ValueError
        If ``1 - gamma < LP_MIN_ONE_MINUS_GAMMA`` (1e-9), or HiGHS fails on an instance with
        ``1 - gamma < 1e-6``: out of the LP's numerical range; the message says so and points to
        ``method="pi"``. Also if the values exceed the float64 range.
    RuntimeError
        If HiGHS does not report an optimal solution on an instance inside its range (its status
        message is included).

    Notes
    -----
    The LP is solved for ``R / 2**e`` with ``max |R| / 2**e`` in ``[0.5, 1)`` and its solution
    multiplied back (values are linear in ``R``). HiGHS reads any bound or right-hand side of
    magnitude ``>= 1e20`` as infinite, so without this scaling rewards of ``1e20`` gave "Model
    error" or "unbounded"; with it, the reward scale is irrelevant to the solver.
    """
    mdp = _check_discounted(mdp)
    check_choice(solver, "solver", _LP_SOLVERS)
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma
    if 1.0 - gamma < LP_MIN_ONE_MINUS_GAMMA:
        raise ValueError(
            f"linear_programming: gamma = {gamma!r} is out of the LP's numerical range (1 - gamma = "
            f"{1.0 - gamma:.3g} < {LP_MIN_ONE_MINUS_GAMMA:g}: the constraints gamma P - I are singular "
            f"within HiGHS's feasibility tolerance); use method='pi' (policy iteration, exact linear "
            f"solves, accurate up to gamma = 1 - 1e-16)"
        )
    P2 = mdp.P_matrix()
    rho = mdp.rho
    weights = "rho"
    if np.any(rho <= 0):
        rho, weights = np.full(S, 1.0 / S), "uniform"
    e = binary_exponent(mdp.R)
    b_ub = -np.ldexp(mdp.R.ravel(), -e)
    # constraint rows (s, a): gamma P[s, a, :] V - V(s) <= -R(s, a)
    E_rows = np.arange(S * A)
    E = sp.csr_array((np.ones(S * A), (E_rows, E_rows // A)), shape=(S * A, S))
    if sp.issparse(P2):
        A_ub = sp.csr_array(gamma * P2 - E)
    else:
        A_ub = gamma * P2 - E.toarray()
    if mdp.action_mask is not None:  # one constraint per feasible pair only
        rows = np.flatnonzero(mdp.action_mask.ravel())
        A_ub, b_ub = A_ub[rows], b_ub[rows]
    res = linprog(c=rho, A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method=solver)
    if res.status != 0 or res.x is None:
        if 1.0 - gamma < 1e-6:
            raise ValueError(
                f"linear_programming: {solver} failed with status {res.status} ({res.message}) at "
                f"gamma = {gamma!r}, out of the LP's reliable range (1 - gamma = {1.0 - gamma:.3g} < 1e-6); "
                f"use method='pi' (policy iteration, exact linear solves)"
            )
        raise RuntimeError(
            f"linear_programming: {solver} failed with status {res.status}: {res.message}; "
            f"method='pi' solves the same problem by exact linear solves"
        )
    with np.errstate(over="ignore"):
        V = np.ldexp(np.asarray(res.x, dtype=np.float64), e)
    return _finish(mdp, V, n_iter=1, method="lp", converged=True,
                   settings={"solver": solver, "weights": weights, "gamma": gamma, "reward_scale_log2": e})


# -- inexact (Krylov) policy iteration --------------------------------------------------------
#: Largest forcing term of inexact policy iteration (Dembo, Eisenstat & Steihaug 1982): while the
#: policy still changes, each evaluation is solved only until its residual has shrunk by
#: ``eta_k <= IPI_FORCING``, with ``eta_k`` Eisenstat & Walker's (1996) choice 2.
IPI_FORCING = 0.5
#: Restart length of GMRES in inexact policy iteration (memory: ``IPI_RESTART * S`` floats).
IPI_RESTART = 20
#: Evaluation sweeps continue while the span of the policy residual shrinks at least this much per
#: sweep; slower (a slowly mixing ``P_sigma``), GMRES takes over from where they stopped.
IPI_SWEEP_MAX_RATIO = 0.75
#: Cap on the fixed-point sweeps of one evaluation before GMRES takes over.
IPI_MAX_SWEEPS = 100
#: GMRES steps one evaluation may take before a direct solve takes over (when the instance is
#: small enough to factor: dense up to ``IPI_FALLBACK_DENSE_MAX_STATES``, sparse up to
#: ``IPI_FALLBACK_SPARSE_MAX_STATES`` states; larger ones continue GMRES to its full cap).
IPI_KRYLOV_BUDGET = 2 * IPI_RESTART
IPI_FALLBACK_DENSE_MAX_STATES = 4000
IPI_FALLBACK_SPARSE_MAX_STATES = 20_000
#: Below this many states the evaluation is a dense LU solve (GMRES set-up costs more).
IPI_DIRECT_MAX_STATES = 300
#: Cap on GMRES restart cycles per evaluation (``IPI_RESTART`` iterations each); the certificate,
#: not GMRES's own flag, decides when the solver stops, so an early exit only costs sweeps.
_IPI_MAX_CYCLES = 50
#: Rounding allowance per unit of magnitude for the differences and the midpoint (``4 * eps``).
_IPI_ROUNDING = 4.0 * np.finfo(np.float64).eps
#: Unit roundoff ``u = eps / 2`` of float64.
_UNIT_ROUNDOFF = 0.5 * np.finfo(np.float64).eps
#: Confidence multiplier of the probabilistic dot-product bound used for long dense rows
#: (Higham & Mary 2019: the error exceeds ``lambda sqrt(n) u sum |x y|`` with probability at
#: most about ``2 exp(-lambda^2 (1 - u)^2 / 2)``; ``lambda = 10``: below ``1e-21``).
_IPI_LAMBDA = 10.0


def _backup_rounding(n: int) -> float:
    """Relative rounding bound of one backup row ``R + gamma * sum_k p_k v_k`` with ``n`` terms,
    per unit of ``max |R| + max |v|`` (since ``sum_k p_k = 1``): the worst case ``(n + 2) u``
    (Higham 2002, Lemma 3.1, ``gamma_{n+2}`` to first order) for short rows, the probabilistic
    ``(lambda sqrt(n) + 2) u`` (Higham & Mary 2019, Thm 3.1) when that is smaller (long dense rows)."""
    return _UNIT_ROUNDOFF * min(n + 2.0, _IPI_LAMBDA * math.sqrt(n) + 2.0) * 1.01


def inexact_policy_iteration(mdp: TabularMDP, *, tol: float = 1e-10, max_iter: int | None = None, v0=None,
                             v_star=None) -> Solution:
    r"""Policy iteration with inexact evaluation (sweeps, GMRES, LU), adaptive accuracy and a
    certified bound.

    Step ``k``: one Bellman backup :math:`b = T v_k` with greedy :math:`\sigma_k = G(v_k)` (so
    :math:`b = T^{\sigma_k} v_k`); MacQueen's bounds (Puterman 1994, Thm 6.6.3)

    .. math:: b + c \min(b - v_k) \le V^* \le b + c \max(b - v_k), \qquad c = \gamma / (1 - \gamma),

    and :math:`v_k + \min(b - v_k) \le b \le v_k + \max(b - v_k)` give
    :math:`v_k + \min(b - v_k)/(1 - \gamma) \le V^* \le v_k + \max(b - v_k)/(1 - \gamma)`. The value
    returned is the centre of that bracket, :math:`v_k + (\min + \max)(b - v_k) / (2 (1 - \gamma))`,
    within :math:`\varepsilon_k = \mathrm{sp}(b - v_k) / (2 (1 - \gamma))` of :math:`V^*`
    (``1 / gamma`` times MacQueen's midpoint bound :math:`c\,\mathrm{sp}/2`, but its ``Q`` is
    :math:`R + \gamma (P v_k + \text{shift})`, from the product the backup just made, where the
    midpoint's ``Q`` would cost one more pass over ``P``); when the midpoint is certified and
    this value is not (small ``gamma``: at ``gamma = 0`` the midpoint is :math:`V^*`), the
    midpoint is returned instead. Stop when :math:`\varepsilon_k \le` ``tol``. Otherwise the
    policy's evaluation is one Newton step of the Bellman equation (Puterman & Brumelle 1979),
    solved inexactly:

    .. math:: v_{k+1} = v_k + d_k, \qquad (I - \gamma P_{\sigma_k})\, d_k \approx b - v_k

    on the *centred* equation :math:`\Pi (I - \gamma P_{\sigma_k}) d = \Pi (b - v_k)`,
    :math:`\Pi = I - \mathbf 1 \mathbf 1^\top / S`, in three stages, each taking over only when
    the one before is too slow:

    1. fixed-point sweeps :math:`d \leftarrow \Pi(b - v_k) + \gamma P_\sigma d`
       (:func:`mdps._kernels.policy_richardson`; modified policy iteration's evaluation), while
       the span of the residual shrinks at least ``IPI_SWEEP_MAX_RATIO`` per sweep. On a
       fast-mixing :math:`P_\sigma` (Garnets) a sweep costs ``1/A`` of a backup and the
       evaluation ends here. Sparse :math:`P_\sigma` is first gathered into its own CSR arrays;
       dense rows are read in place.
    2. restarted GMRES (:func:`mdps._kernels.policy_gmres`, matrix-free), warm-started where the
       sweeps stopped, for at most ``IPI_KRYLOV_BUDGET`` steps;
    3. an LU solve of :math:`(I - \gamma P_\sigma) d = \Pi(b - v_k)` when GMRES stalls too (a
       long chain mixes too slowly for either), up to ``IPI_FALLBACK_DENSE_MAX_STATES`` dense or
       ``IPI_FALLBACK_SPARSE_MAX_STATES`` sparse states (SuperLU with COLAMD: a chain or grid
       factors with little fill); above, GMRES runs to its full cap.

    ``settings["evaluations"]`` counts which stage finished each evaluation. Centring is exact:
    :math:`(I - \gamma P_\sigma)\mathbf 1 = (1 - \gamma)\mathbf 1`, so the constant mode of the
    solution only shifts :math:`v` by a constant, which the returned shift recovers in closed
    form; removing it leaves the eigenvalues :math:`1 - \gamma\lambda`, :math:`\lambda \ne 1`, so
    the sweeps and GMRES converge at the mixing rate of :math:`P_\sigma`, not at the rate
    :math:`\gamma` that makes value iteration collapse as :math:`\gamma \to 1`. Each iterate is
    centred as well (``v -= (max v + min v) / 2``): the bounds hold for any :math:`v`, and a
    centred :math:`v` keeps :math:`T v - v` free of the round-off of numbers of size
    :math:`\|R\|_\infty / (1 - \gamma)` (uncentred, the certificate stalled near ``3e-10`` at
    ``gamma = 0.999``; centred it reaches ``1e-11``).

    The accuracy adapts (an inexact-Newton forcing term, Dembo, Eisenstat & Steihaug 1982; for
    policy iteration with GMRES evaluation see Gargiani et al. 2022, arXiv:2211.04299, and 2024,
    arXiv:2404.06136): an evaluation stops when its residual has shrunk by
    ``eta_k = min(IPI_FORCING, 0.9 (sp_k / sp_{k-1})^2)`` (Eisenstat & Walker 1996, choice 2,
    with their safeguard; ``sp_k = sp(T v_k - v_k)``), or at the span ``tol (1 - gamma)``
    (sweeps) / the Euclidean norm ``tol (1 - gamma) / 2`` (GMRES). The forcing is loose while
    the residual falls slowly (a policy about to change is not worth an exact evaluation) and
    tight when it falls fast; once the policy repeats, ``eta_k = 0``: the evaluation is solved to
    the floor, which is what the certificate needs: if :math:`\sigma_k` stays greedy,
    :math:`T v_{k+1} - v_{k+1}` equals the residual up to a constant. With a dense ``P`` and at
    most ``IPI_DIRECT_MAX_STATES`` states every step is an exact LU solve instead (Howard's
    policy iteration in Newton form). Provenance: R (MacQueen's bound; policy iteration as
    Newton's method, Puterman & Brumelle 1979) + A (the centring, the staged evaluation and the
    forcing schedule are the lab's).

    The certificate is computed from a Bellman backup itself, never from the evaluation's report:
    the returned value is within ``certificate["bound"]`` of :math:`V^*` whatever the sweeps,
    GMRES or LU did. The
    bound includes the floating-point error of that backup: a computed :math:`b` off by
    :math:`\delta` moves each MacQueen end by :math:`(1 + c)\delta`, with
    :math:`\delta \le (n + 2) u (\|R\|_\infty + \|v\|_\infty)` for rows of ``n`` stored
    entries (Higham 2002, Lemma 3.1; ``u = eps / 2``, and :math:`\sum_k p_k = 1`); for long
    dense rows the probabilistic :math:`(10 \sqrt n + 2) u` of Higham & Mary 2019 (violated
    with probability below ``1e-21``) replaces the worst case. Plus ``4 eps`` per unit of the
    differences (times ``1 + c``) and of the returned ``||V||``. Centring keeps
    :math:`\|v\|_\infty` at half the span of :math:`V^*`. One more term: the stored rows of
    ``P`` sum to 1 only within :math:`\varepsilon_P` (measured with compensated sums on the
    first call and kept, :meth:`mdps.TabularMDP.row_sum_defect`), so a constant shift :math:`k`
    moves :math:`T` by :math:`\gamma k (1 \pm \varepsilon_P)`;
    over the MacQueen series this moves the ends by at most
    :math:`\varepsilon_P c^2 \max(|\min|, |\max|)(b - v)`. This term is the real floor near
    ``gamma = 1``: with :math:`\varepsilon_P \approx 10^{-16}` and values of size
    :math:`\|R\| / (1 - \gamma)` it is about :math:`\varepsilon_P c \|V^*\|_\infty`, i.e. ``~1e-10`` at
    ``gamma = 0.999`` for rewards in ``[0, 1]`` (uncentred iterates hit the same floor through
    the rounding of ``b``); then ``converged`` is ``False`` and the bound actually proved is
    reported.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted MDP (dense or sparse; feasibility masks respected).
    tol : float > 0
        Target certified sup-norm error of the returned value (default ``1e-10``).
    max_iter : int >= 1, optional
        Cap on Bellman backups (improvement steps); default ``pi_iteration_bound + 100``.
        The loop also stops, unconverged, if the policy is stable and the bound stops
        shrinking (the floating-point floor: about ``c * eps * ||V||_inf``). Either way
        ``converged`` is ``False`` and a :class:`mdps.ConvergenceWarning` names the bound reached.
    v0 : array_like, shape (S,), optional
        Initial value (default zeros).
    v_star : None, "exact" or array_like (S,)
        Reference for ``errors`` as in :func:`value_iteration`.

    Returns
    -------
    Solution
        ``method="ipi"``; ``V`` the certified value (the bracket's centre, or MacQueen's
        midpoint, above); ``policy = G(V)``; ``residuals[k] = sp(T v_k - v_k)``; ``errors[k]``
        the true error ``||V_k - v_star||`` of the value certified after backup ``k`` (empty
        without ``v_star``); ``trace["bounds"]`` the certified bounds :math:`\varepsilon_k`,
        ``trace["sweeps"]`` and ``trace["krylov_iterations"]`` the fixed-point sweeps and GMRES
        iterations per evaluation; ``settings["evaluations"]``: how many evaluations each stage
        finished (``"sweeps"``, ``"gmres"``, ``"lu"``);
        ``certificate``: ``bound`` (the certified :math:`\|V - V^*\|_\infty`),
        ``min_action_gap`` (smallest gap between the best and second-best feasible ``Q(V)``)
        and ``policy_optimal`` (``True`` when that gap exceeds ``2 gamma bound``, which proves
        the greedy policy optimal and unique: ``Q(V)`` is within ``gamma bound`` of ``Q*``).

    Examples
    --------
    >>> import mdps
    >>> sol = mdps.inexact_policy_iteration(mdps.river_swim(6, gamma=0.9))
    >>> sol.policy.tolist(), sol.certificate["bound"] <= 1e-10
    ([1, 1, 1, 1, 1, 1], True)
    """
    mdp = _check_discounted(mdp)
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma
    if max_iter is None:
        max_iter = pi_iteration_bound(S, A, gamma) + 100
    v = np.zeros(S) if v0 is None else check_value(v0, "v0", S).copy()
    ref = _reference_value(mdp, v_star)
    c = gamma / (1.0 - gamma)
    P2, R, mask = mdp.P_matrix(), mdp.R, mdp.action_mask
    sparse = sp.issparse(P2)
    direct = (not sparse) and S <= IPI_DIRECT_MAX_STATES
    b, sigma, prev = np.empty(S), np.empty(S, dtype=np.int64), None
    pv = np.empty(P2.shape[0])  # P v_k, kept: the returned Q comes from it (no extra backup)
    row0 = np.arange(S, dtype=np.int64) * A
    if not direct:  # sweeps and GMRES read P_sigma's rows in place (no gathered copy)
        restart = min(IPI_RESTART, S)
        basis, w = np.empty((restart + 1, S)), np.empty(S)
        max_krylov = restart * _IPI_MAX_CYCLES
        target_tight = 0.5 * tol / (1.0 + c)
        if sparse:
            indptr, indices, data, P_dense = P2.indptr, P2.indices, P2.data, np.empty((0, 0))
            g_indptr, zeros_S = np.empty(S + 1, dtype=indptr.dtype), np.zeros(S, dtype=np.int64)
            max_row = int(np.diff(indptr).max()) if S else 0
            g_indices, g_data = np.empty(S * max_row, dtype=indices.dtype), np.empty(S * max_row)
        else:
            indptr, indices, data, P_dense = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), P2)
    residuals, bounds, krylov, sweeps, errors = _Trace(), _Trace(), _Trace(), _Trace(), _Trace()
    row_rounding = _backup_rounding(int(np.diff(P2.indptr).max()) if sparse else S)
    eps_P = mdp.row_sum_defect()
    if eps_P * c > 1e-3:  # the first-order defect term would not be a bound
        eps_P = math.inf
    max_R = float(np.abs(R if mask is None else R[mask]).max())
    c1 = 1.0 + c  # = 1 / (1 - gamma)
    converged, n, V, best, tight, floor = False, 0, None, math.inf, False, math.inf
    prev_span, prev_eta, used = None, 0.0, {"sweeps": 0, "gmres": 0, "lu": 0}
    best_pv = None  # (P v, shift) of the best iterate while it is the latest one
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(max_iter):
            _backup.apply_P(P2, v, pv)  # b = T v_k = T^sigma v_k, sigma = G(v_k)
            _kernels.greedy_max(pv, R, float(gamma), b, sigma, mask)
            lo, hi = _kernels.diff_range(b, v)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                _require_finite(mdp, np.array([lo, hi]), f"the iterates (step {k + 1})")
            # MacQueen (module doc): T v + c lo <= V* <= T v + c hi and v + lo <= T v <= v + hi, so
            # v + lo / (1 - gamma) <= V* <= v + hi / (1 - gamma): the value returned is
            # v + shift, shift = (lo + hi) / (2 (1 - gamma)), within sp / (2 (1 - gamma)) of V*.
            # (1 / gamma times the midpoint's bound, but Q(v + shift) = R + gamma (P v + shift)
            # comes from the product just made, where the midpoint's Q needs one more pass over P.)
            # Rounding: a computed b off by delta moves each end by (1 + c) delta; then the
            # rounding of b - v ((1 + c) times) and of v + shift
            size_v = float(np.abs(v).max())
            slack = c1 * (row_rounding * (max_R + size_v) + _IPI_ROUNDING * (float(np.abs(b).max()) + size_v))
            # rows of the stored P sum to 1 only within eps_P: a constant shift k then moves T by
            # gamma k (1 +- eps_P), and over the MacQueen series (shifts up to c max(|lo|, |hi|))
            # the ends move by at most eps_P c^2 max(|lo|, |hi|) (first order; 1.01 covers the rest
            # while eps_P c <= 1e-3)
            slack += 1.01 * eps_P * c * c * max(abs(lo), abs(hi))
            shift = 0.5 * (lo + hi) * c1
            bound = 0.5 * (hi - lo) * c1 + slack + _IPI_ROUNDING * (size_v + abs(shift))
            # the MacQueen midpoint T v + c (lo + hi) / 2 has the bound c sp / 2: 1 / gamma times
            # smaller, which matters for small gamma (at gamma = 0 it is V* itself); it is taken
            # when v + shift is not certified yet and the midpoint is better
            mid_bound = 0.5 * (hi - lo) * c + slack + _IPI_ROUNDING * (float(np.abs(b).max()) + c * abs(lo + hi))
            use_mid = mid_bound < bound and bound > tol
            if use_mid:
                bound = mid_bound
            residuals.append(hi - lo)
            bounds.append(bound)
            cand = b + 0.5 * c * (lo + hi) if use_mid else v + shift
            if ref is not None:
                errors.append(_kernels.sup_diff(cand, ref))
            n = k + 1
            if bound < best:
                best, V, best_pv = bound, cand, (None if use_mid else (pv, shift))
            else:
                best_pv = None
            stable = prev is not None and bool(np.array_equal(sigma, prev))
            # forcing term (Eisenstat & Walker 1996, choice 2, with their safeguard): the squared
            # ratio of successive residual spans, capped at IPI_FORCING -- loose while the residual
            # shrinks slowly (a slowly mixing chain, where an exact evaluation is wasted on a policy
            # about to change), tight when it drops fast (the Newton regime), and exact-to-tol once
            # the policy repeats
            if stable:
                eta = 0.0
            elif prev_span is None:
                eta = IPI_FORCING
            else:
                eta = 0.9 * ((hi - lo) / prev_span) ** 2 if prev_span > 0.0 else 0.0
                if 0.9 * prev_eta * prev_eta > 0.1:
                    eta = max(eta, 0.9 * prev_eta * prev_eta)
                eta = min(eta, IPI_FORCING)
            prev_span, prev_eta = hi - lo, eta
            # certified, or at the round-off floor: the policy repeats after a tight evaluation and
            # the bound no longer halves
            if bound <= tol or (stable and tight and bound > 0.5 * floor):
                converged = best <= tol
                break
            floor = min(floor, bound)
            # Newton step on the centred residual: (I - gamma P_sigma) 1 = (1 - gamma) 1, so the
            # constant part (lo + hi) / 2 of b - v moves v by a constant, which the centring below
            # removes anyway; solving for the rest keeps the unknown of size sp(V*), not 1/(1-gamma)
            r = b - v
            r -= r.mean() if not direct else 0.5 * (lo + hi)
            rows = row0 + sigma
            if direct:
                d = _policy_lu_solve(P2[rows], gamma, r)
                krylov.append(0)
                sweeps.append(0)
                used["lu"] += 1
                tight = True
            else:
                # fixed-point sweeps while they contract fast (modified policy iteration's
                # evaluation; on a fast-mixing P_sigma each costs 1/A of a backup and beats a Krylov
                # step), GMRES from where they stopped when the measured contraction is slow
                d = r.copy()  # warm start: one policy sweep's worth, d = r
                target = max(eta * (hi - lo), tol / c1)
                if sparse:  # P_sigma gathered into a compact CSR (one pass over S rows): the
                    # sweeps then stream it instead of hopping over every A-th row of P
                    _kernels.csr_gather_rows(indptr, indices, data, rows, g_indptr, g_indices, g_data)
                    op = (g_indptr, g_indices, g_data, P_dense, zeros_S, 1)
                else:
                    op = (indptr, indices, data, P_dense, sigma, A)
                n_sw, span, _ = _kernels.policy_richardson(*op, float(gamma), r, d, target, IPI_SWEEP_MAX_RATIO,
                                                           IPI_MAX_SWEEPS, w)
                its, reached, how = 0, span <= target, "sweeps"
                if not reached:  # slow contraction: GMRES, within a budget of Krylov steps
                    its, _ = _kernels.policy_gmres(*op, float(gamma), r, d, restart, IPI_KRYLOV_BUDGET,
                                                   target_tight, eta, basis, w)
                    reached, how = its < IPI_KRYLOV_BUDGET, "gmres"
                if not reached and _direct_fallback(S, sparse):
                    # GMRES stalls on a very slowly mixing P_sigma (a long chain): solve exactly
                    d = _policy_lu_solve(P2[rows], gamma, r)
                    reached, how = True, "lu"
                elif not reached:  # too large to factor: GMRES to its full cap
                    more, _ = _kernels.policy_gmres(*op, float(gamma), r, d, restart, max_krylov,
                                                    target_tight, eta, basis, w)
                    its += more
                sweeps.append(n_sw)
                krylov.append(its)
                used[how] += 1
                tight = stable and reached
            v = v + d
            # centre the iterate: the bounds hold for any v, and a centred v keeps T v - v free of
            # the round-off of values of size ||R|| / (1 - gamma) (module doc, "floating-point floor")
            v -= 0.5 * (float(v.max()) + float(v.min()))
            prev = sigma.copy()
    trace = {"bounds": bounds.array(), "krylov_iterations": krylov.array(), "sweeps": sweeps.array()}
    settings = {"tol": tol, "max_iter": max_iter, "gamma": gamma, "forcing": IPI_FORCING,
                "restart": IPI_RESTART, "evaluation": "lu" if direct else "sweeps+gmres",
                "evaluations": dict(used),
                "stopping_rule": "sp(T v_k - v_k) / (2 (1 - gamma)) + rounding <= tol; "
                                 "v_k + (min + max)(T v_k - v_k) / (2 (1 - gamma)) returned"}
    # best_pv: the returned value is the last iterate's, so its Q comes from that iterate's product
    sol = _finish(mdp, V, product=best_pv, n_iter=n, method="ipi", errors=errors.array(),
                  residuals=residuals.array(), converged=converged, trace=trace, settings=settings)
    if not converged:
        why = ("the policy is stable and the bound stopped shrinking: the floating-point floor, about "
               "c * eps * ||V||" if n < max_iter else "max_iter reached")
        warnings.warn(
            f"inexact_policy_iteration: certified bound {best:.3g} > tol = {tol:g} after {n} Bellman backups "
            f"({why}); the returned value is within the bound in certificate['bound']",
            ConvergenceWarning, stacklevel=2)
    gap = _min_action_gap(sol.Q, mask)
    cert = {"bound": float(best), "min_action_gap": gap, "policy_optimal": bool(gap > 2.0 * gamma * best)}
    return Solution(V=sol.V, Q=sol.Q, policy=sol.policy, n_iter=sol.n_iter, method=sol.method, errors=sol.errors,
                    residuals=sol.residuals, converged=sol.converged, trace=sol.trace, settings=sol.settings,
                    certificate=cert)


def _direct_fallback(S: int, sparse: bool) -> bool:
    return S <= (IPI_FALLBACK_SPARSE_MAX_STATES if sparse else IPI_FALLBACK_DENSE_MAX_STATES)


def _min_action_gap(Q: np.ndarray, mask) -> float:
    """Smallest gap ``max_a Q[s, a] - second max`` over states with two or more feasible actions
    (``inf`` when no state has a choice)."""
    if Q.shape[1] < 2:
        return math.inf
    part = np.partition(Q, Q.shape[1] - 2, axis=1)  # -inf at infeasible pairs sorts first
    top, second = part[:, -1], part[:, -2]
    choice = np.isfinite(second)
    return float((top[choice] - second[choice]).min()) if np.any(choice) else math.inf
