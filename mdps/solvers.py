"""One entry point for exact planning: :func:`solve` and :func:`evaluate` dispatch on the criterion.

=================  ===================================================  =========================
criterion          ``method``                                           solver
=================  ===================================================  =========================
discounted         ``"vi"``, ``"pi"`` (default), ``"mpi"``, ``"lp"``    :mod:`mdps.discounted`
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
methods are the exact ones (policy iteration with linear solves, backward induction, the gain
LP), so ``solve(mdp)`` is ground truth.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np

from mdps.results import Solution
from mdps.tabular import TabularMDP
from mdps.validation import check_mdp

__all__ = ["solve", "evaluate", "METHODS"]

METHODS = {
    "discounted": {"vi": "value_iteration", "pi": "policy_iteration",
                   "mpi": "modified_policy_iteration", "lp": "linear_programming"},
    "finite_horizon": {"backward_induction": "backward_induction"},
    "average": {"rvi": "relative_value_iteration", "lp": "average_reward_lp"},
}
_DEFAULT = {"discounted": "pi", "finite_horizon": "backward_induction", "average": "lp"}
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
