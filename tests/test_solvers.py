"""The dispatch entry points :func:`mdps.solve` and :func:`mdps.evaluate`.

``solve`` forwards keywords to the chosen solver and refuses those it does not take with the
lab's error (aesthetics review: ``solve(finite_horizon, method="vi", tol=1e-8)`` raised a raw
``TypeError``); ``evaluate`` validates policies the same way for every criterion (hostile
review D3: complex policies were accepted by some criteria and not others).
"""

from __future__ import annotations

import numpy as np
import pytest

import mdps

DISC = mdps.river_swim(4, gamma=0.9)
FH = mdps.river_swim(4, horizon=5)
AVG = mdps.river_swim(4)
BY_CRITERION = {"discounted": DISC, "finite_horizon": FH, "average": AVG}


@pytest.mark.parametrize("mdp, method, kwargs, needle", [
    (FH, "vi", {"tol": 1e-8}, "solve(method='vi') on a finite-horizon mdp runs backward_induction, "
                              "which takes no keyword 'tol'; it accepts: no keywords"),
    (DISC, "pi", {"tol": 1e-8}, "runs policy_iteration, which takes no keyword 'tol'; it accepts: max_iter, pi0"),
    (DISC, "lp", {"max_iter": 3}, "runs linear_programming, which takes no keyword 'max_iter'; it accepts: solver"),
    (DISC, "vi", {"m": 3}, "takes no keyword 'm'"),
    (AVG, "rvi", {"gamma": 0.9}, "runs relative_value_iteration, which takes no keyword 'gamma'"),
    (AVG, None, {"tol": 1e-3}, "solve(method='lp') on an average-reward mdp runs average_reward_lp"),
])
def test_solve_refuses_keywords_the_solver_does_not_take(mdp, method, kwargs, needle):
    with pytest.raises(ValueError) as info:
        mdps.solve(mdp, method=method, **kwargs)
    assert needle in str(info.value), str(info.value)


def test_solve_forwards_accepted_keywords_and_checks_method():
    assert mdps.solve(DISC, method="mpi", m=3, tol=1e-9).settings["m"] == 3
    assert mdps.solve(FH, method="vi").method == "backward_induction"
    assert mdps.solve(AVG, method="rvi", tau=0.7).settings["tau"] == 0.7
    for bad in ("bi", "PI", ["pi"], 3):
        with pytest.raises(ValueError, match="method must be one of"):
            mdps.solve(DISC, method=bad)
    with pytest.raises(TypeError, match="mdp must be a mdps.TabularMDP"):
        mdps.solve((DISC.P, DISC.R))


BAD_POLICIES = [
    ("complex", np.full((4, 2), 0.5) + 0j, TypeError, "pi must be an array of real numbers, got complex"),
    ("complex deterministic", np.zeros(4, dtype=complex), TypeError, "got complex"),
    ("strings", np.full((4, 2), "0.5"), TypeError, "pi must be an array of real numbers, got strings"),
    ("masked", np.ma.masked_array(np.full((4, 2), 0.5)), TypeError, "pi is a numpy masked array"),
    ("bool", np.ones(4, dtype=bool), TypeError, "got a bool array"),
    ("float actions", np.zeros(4), TypeError, "a deterministic policy must be an integer array"),
    ("int probabilities", np.ones((4, 2), dtype=int), TypeError, "a stochastic policy must be a float array"),
    ("action out of range", np.array([0, 1, 2, 0]), ValueError, "pi[2] is 2, expected an action in [0, 1]"),
    ("row off simplex", np.full((4, 2), 0.4), ValueError, "pi[0, :] sums to 0.8"),
    ("negative", np.array([[1.5, -0.5]] * 4), ValueError, "pi[0, 1] is -0.5"),
    ("nan", np.array([[np.nan, 1.0]] * 4), ValueError, "pi[0, 0] is nan"),
    ("wrong shape", np.full((4, 3), 1 / 3), ValueError, "pi as a stochastic policy must have shape (4, 2)"),
    ("object", np.array([[0.5, "x"]] * 4, dtype=object), TypeError, "pi must be an array of real numbers"),
]


@pytest.mark.parametrize("criterion", BY_CRITERION)
@pytest.mark.parametrize("pi, exc, needle", [b[1:] for b in BAD_POLICIES], ids=[b[0] for b in BAD_POLICIES])
def test_evaluate_refuses_the_same_policies_for_every_criterion(criterion, pi, exc, needle):
    with pytest.raises(exc) as info:
        mdps.evaluate(BY_CRITERION[criterion], pi)
    assert needle in str(info.value), str(info.value)


@pytest.mark.parametrize("criterion", BY_CRITERION)
def test_evaluate_accepts_both_forms_with_equal_values(criterion):
    mdp = BY_CRITERION[criterion]
    sigma = np.ones(4, dtype=np.int64)
    a, b = mdps.evaluate(mdp, sigma), mdps.evaluate(mdp, np.eye(2)[sigma])
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(a))
