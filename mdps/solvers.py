"""One entry point for exact planning: :func:`solve` and :func:`evaluate` dispatch on the criterion.

=================  ===================================================  =========================
criterion          ``method``                                           solver
=================  ===================================================  =========================
discounted         ``"vi"``, ``"pi"``, ``"mpi"``, ``"lp"``, ``"ipi"``    :mod:`mdps.discounted`
                   (default: picked by :func:`auto_method`, below)
finite horizon     ``"backward_induction"`` (default; the only one)     :mod:`mdps.finite_horizon`
average reward     ``"rvi"``, ``"lp"`` (default)                        :mod:`mdps.average_reward`
robust             ``"vi"`` (default), ``"pi"``                         :mod:`mdps.robust`
robust, horizon    robust backward induction (exact)                    :mod:`mdps.robust_horizon`
=================  ===================================================  =========================

A :class:`mdps.RobustMDP` is solved by robust value iteration and returns a
:class:`mdps.RobustSolution` (policy as ``(S, A)`` one-hot rows, the worst-case model with it). A
RobustMDP around a finite-horizon nominal model is solved by robust backward induction
(:func:`mdps.robust_backward_induction`; ``V`` (H, S), ``policy`` (H, S, A), ``P_worst`` (H, S, A, S)).

Extra keyword arguments go to the solver (``tol``, ``max_iter``, ``v_star``, ``m``, ``tau``, ...);
one the chosen solver does not take is refused with a ValueError naming the keyword, the
method and the keywords it accepts (never a raw ``TypeError`` from the call). The default
methods are exact or certified (discounted: policy iteration with linear solves, or inexact
policy iteration certified to ``1e-10``, see below; backward induction; the gain LP), so
``solve(mdp)`` is ground truth.

The discounted default (``method=None``)
----------------------------------------
:func:`auto_method` picks the route from the instance and the accuracy asked for; the record
says which (``sol.method``, and ``sol.settings["route"]`` gives the reason):

==========================================================  ===========================================
instance                                                    route
==========================================================  ===========================================
dense, ``S <= AUTO_PI_MAX_STATES`` (300); sparse,           ``"pi"``: Howard policy iteration, exact
``S <= AUTO_SPARSE_PI_MAX_STATES`` (100)                    LU evaluation (the old default, bit for bit)
larger, any ``A``, any ``gamma``                            ``"ipi"``: inexact policy iteration, GMRES
                                                            evaluation, certified ``||V - V*|| <= tol``
==========================================================  ===========================================

``tol`` (default ``1e-10``) is the certified sup-norm error asked for; every route accepts it
(policy iteration's answer is exact and meets any ``tol``). Near ``gamma = 1`` float64 itself
sets a floor under any certificate: the stored rows of ``P`` sum to 1 only within
``eps_P ~ 3e-16``, which moves the fixed point by up to ``eps_P c ||V*||`` (``c = gamma / (1 -
gamma)``); at ``gamma = 0.999`` with rewards in ``[0, 1]`` the proved bound is ``2e-10 .. 3e-10``,
not ``1e-10``. The record then has ``converged=False``, the bound it did prove in
``certificate["bound"]``, and a :class:`mdps.ConvergenceWarning` says so (exact policy
iteration's LU answer is no better there: its round-off is of the same order, unreported).
Why this rule: an exact LU costs ``O(S^3)`` (dense) or fills in (a sparse random graph: a sparse LU per improvement is already
slower than the whole iterative solve at a few hundred states; dense PI at S = 500,
gamma = 0.99 took 2.3x the time of inexact PI in benchmarks/bench_planning.py), while GMRES on
the centred policy equation converges at the mixing rate of ``P_pi``, not at ``gamma`` (where value
iteration collapses near ``gamma = 1``), and the MacQueen bound certifies the answer. Small
dense instances -- every instance of the lab's checks -- keep exact policy iteration: it costs
milliseconds there, and its tie rule (keep the current action) is deterministic, whereas the
greedy policy of a certified value picks among *exactly* tied actions (grid worlds, chains) by
round-off. ``A`` enters through the sweep cost only, which every iterative route pays alike.
Any method stays selectable by name.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import numpy as np

from mdps.results import Solution
from mdps.tabular import TabularMDP
from mdps.validation import check_mdp, check_positive

__all__ = ["solve", "evaluate", "METHODS", "auto_method", "AUTO_PI_MAX_STATES", "AUTO_SPARSE_PI_MAX_STATES",
           "AUTO_TOL"]

METHODS = {
    "discounted": {"vi": "value_iteration", "pi": "policy_iteration",
                   "mpi": "modified_policy_iteration", "lp": "linear_programming",
                   "ipi": "inexact_policy_iteration"},
    "finite_horizon": {"backward_induction": "backward_induction"},
    "average": {"rvi": "relative_value_iteration", "lp": "average_reward_lp"},
}
_DEFAULT = {"discounted": "pi", "finite_horizon": "backward_induction", "average": "lp"}
#: Largest instance (states) on which the discounted default runs exact policy iteration.
AUTO_PI_MAX_STATES = 300
#: Largest sparse instance (states) on which the discounted default runs exact policy iteration.
AUTO_SPARSE_PI_MAX_STATES = 100
#: Certified sup-norm error of the discounted default when no ``tol`` is given.
AUTO_TOL = 1e-10


def auto_method(mdp: TabularMDP, tol: float | None = None) -> tuple[str, str]:
    """The discounted route ``solve(mdp)`` takes without a method, and the reason (module table).

    Parameters
    ----------
    mdp : TabularMDP
        A discounted MDP.
    tol : float > 0, optional
        Certified error asked for (default ``AUTO_TOL``); it does not change the pick.

    Returns
    -------
    (method, reason) : (str, str)

    Examples
    --------
    >>> import mdps
    >>> auto_method(mdps.river_swim(6, gamma=0.9))[0]
    'pi'
    """
    mdp = check_mdp(mdp, criterion="discounted")
    if tol is not None:
        check_positive(tol, "tol")
    S = mdp.n_states
    layout = "sparse" if mdp.is_sparse else "dense"
    cap = AUTO_SPARSE_PI_MAX_STATES if mdp.is_sparse else AUTO_PI_MAX_STATES
    if S <= cap:
        return "pi", (f"S = {S} <= {cap}: exact policy iteration ({layout} LU per improvement costs little)")
    return "ipi", (f"S = {S} > {cap} ({layout}, A = {mdp.n_actions}, gamma = {mdp.gamma:g}): "
                   f"inexact policy iteration, certified error <= tol")


_MODULE = {"discounted": "discounted", "finite_horizon": "finite_horizon", "average": "average_reward"}
_LABEL = {"discounted": "a discounted", "finite_horizon": "a finite-horizon", "average": "an average-reward"}


def _check_keywords(func, kwargs: dict, method: str, criterion: str) -> None:
    """Refuse keywords ``func`` does not take, naming them, the method and what it accepts."""
    params = inspect.signature(func).parameters
    accepted = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        takes = ", ".join(accepted) if accepted else "no keywords"
        raise ValueError(
            f"solve(method={method!r}) on {_LABEL[criterion]} mdp runs {func.__name__}, which takes no "
            f"keyword {unknown[0]!r}; it accepts: {takes}"
        )


def solve(mdp: TabularMDP, method: str | None = None, **kwargs) -> Solution:
    """Solve ``mdp`` exactly (or to ``tol``) with ``method``; see the module table.

    Without ``method``, a discounted MDP takes the route :func:`auto_method` picks (exact policy
    iteration up to ``AUTO_PI_MAX_STATES`` dense / ``AUTO_SPARSE_PI_MAX_STATES`` sparse states, certified
    inexact policy iteration above), and
    the record says which (``sol.method``, ``sol.settings["route"]``); ``tol`` (default
    ``AUTO_TOL = 1e-10``) is accepted by every pick, other keywords go to the picked solver.

    For a finite-horizon MDP, ``method`` may be any of ``"vi"``, ``"pi"``, ``"mpi"``, ``"lp"``
    or ``"backward_induction"``: all mean backward induction, which is exact.

    Examples
    --------
    >>> import mdps
    >>> sol = mdps.solve(mdps.river_swim(6, gamma=0.9), method="pi")
    >>> sol.policy.tolist()
    [1, 1, 1, 1, 1, 1]
    """
    if type(mdp).__name__ == "RobustMDP":
        return _solve_robust(mdp, method, kwargs)
    check_mdp(mdp)
    crit = mdp.criterion
    if method is None and crit == "discounted":
        return _solve_auto(mdp, kwargs)
    if method is None:
        method = _DEFAULT[crit]
    asked = method
    if crit == "finite_horizon" and isinstance(method, str) and method in METHODS["discounted"]:
        method = "backward_induction"
    table = METHODS[crit]
    if not isinstance(method, str) or method not in table:
        raise ValueError(
            f"method must be one of {sorted(table)} for a {crit} MDP, got {method!r}"
        )
    func = getattr(importlib.import_module(f"mdps.{_MODULE[crit]}"), table[method])
    _check_keywords(func, kwargs, asked, crit)
    return func(mdp, **kwargs)


def _solve_auto(mdp: TabularMDP, kwargs: dict) -> Solution:
    """The discounted default: :func:`auto_method`'s pick, with ``tol`` accepted by every pick."""
    kwargs = dict(kwargs)
    tol = kwargs.pop("tol", None)
    method, reason = auto_method(mdp, tol)
    func = getattr(importlib.import_module("mdps.discounted"), METHODS["discounted"][method])
    _check_keywords(func, kwargs, None, "discounted")
    if method == "ipi":
        kwargs["tol"] = AUTO_TOL if tol is None else tol
    sol = func(mdp, **kwargs)
    return dataclasses.replace(sol, settings={**sol.settings, "route": reason, "auto": True})


def _solve_robust(rmdp, method, kwargs):
    from mdps.robust import RobustMDP, robust_policy_iteration, robust_value_iteration

    if not isinstance(rmdp, RobustMDP):
        raise TypeError(f"mdp must be a TabularMDP or a RobustMDP, got {type(rmdp).__name__}")
    if rmdp.horizon is not None:  # finite-horizon nominal model: robust backward induction (exact)
        from mdps.robust_horizon import robust_backward_induction

        if method not in (None, "vi", "pi", "backward_induction"):
            raise ValueError(f"method must be one of ['backward_induction', 'pi', 'vi'] for a finite-horizon "
                             f"RobustMDP (all mean robust backward induction), got {method!r}")
        if kwargs:
            raise ValueError(f"solve(...) on a finite-horizon RobustMDP runs robust_backward_induction, which "
                             f"takes no keyword {next(iter(kwargs))!r}")
        return robust_backward_induction(rmdp)
    if method is None:
        method = "vi"
    funcs = {"vi": robust_value_iteration, "pi": robust_policy_iteration}
    if method not in funcs:
        raise ValueError(f"method must be one of ['pi', 'vi'] for a RobustMDP, got {method!r}")
    func = funcs[method]
    params = inspect.signature(func).parameters
    accepted = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise ValueError(f"solve(method={method!r}) on a RobustMDP runs {func.__name__}, which takes no "
                         f"keyword {unknown[0]!r}; it accepts: {', '.join(accepted)}")
    return func(rmdp, **kwargs)


def evaluate(mdp: TabularMDP, pi, **kwargs):
    """Exact value of a policy.

    Parameters
    ----------
    mdp : TabularMDP
    pi : ndarray
        Stochastic ``(S, A)`` / ``(H, S, A)`` or deterministic int ``(S,)`` / ``(H, S)``; it must
        not use an infeasible action (``mdp.feasible``).

    Any keyword (``tol=...``, ...) is refused with a ValueError naming it: evaluation is exact.

    Returns
    -------
    ndarray
        Discounted: ``V^pi`` ``(S,)`` by a linear solve. Finite horizon: ``V^pi[h, s]``
        ``(H, S)``. Average reward: the gain of each state ``(S,)`` (constant for a unichain
        policy; see :func:`mdps.gain_bias` for the bias as well).
    """
    check_mdp(mdp)
    if kwargs:
        raise ValueError(
            f"evaluate() on {_LABEL[mdp.criterion]} mdp is exact and takes no keyword {next(iter(kwargs))!r}; "
            f"it accepts: mdp, pi"
        )
    if mdp.criterion == "discounted":
        from mdps.discounted import evaluate_policy

        return evaluate_policy(mdp, pi)
    if mdp.criterion == "finite_horizon":
        from mdps.finite_horizon import evaluate_finite_horizon

        return evaluate_finite_horizon(mdp, pi)
    from mdps.average_reward import gain_bias

    return np.full(mdp.n_states, gain_bias(mdp, pi).gain)
