"""``mdps.solve`` and ``mdps.evaluate`` refuse keywords the chosen method does not take, for every
criterion and every method, in the lab's error style: a ValueError naming the keyword, the method
and what the method accepts (never Python's raw ``TypeError: unexpected keyword argument``).

The keywords tried are generated from the solvers' own signatures: for each method, every keyword
that *another* method of any criterion accepts but this one does not, plus a made-up one.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest

import mdps
from mdps.solvers import METHODS

INSTANCES = {
    "discounted": mdps.river_swim(4, gamma=0.9),
    "finite_horizon": mdps.river_swim(4, horizon=5),
    "average": mdps.river_swim(4),
}
MODULE = {"discounted": "discounted", "finite_horizon": "finite_horizon", "average": "average_reward"}


def _accepted(criterion, method):
    func = getattr(importlib.import_module(f"mdps.{MODULE[criterion]}"), METHODS[criterion][method])
    params = inspect.signature(func).parameters
    return func.__name__, [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]


ALL_KEYWORDS = sorted({k for crit, table in METHODS.items() for m in table for k in _accepted(crit, m)[1]})


def _cases():
    for crit, table in METHODS.items():
        # a finite-horizon mdp also takes the discounted method names (all mean backward induction)
        names = list(table) + (list(METHODS["discounted"]) if crit == "finite_horizon" else [])
        for method in names:
            real = method if method in table else "backward_induction"
            _, accepted = _accepted(crit, real)
            for kw in [k for k in ALL_KEYWORDS if k not in accepted] + ["not_a_keyword"]:
                yield pytest.param(crit, method, kw, id=f"{crit}-{method}-{kw}")


@pytest.mark.parametrize("criterion, method, keyword", list(_cases()))
def test_solve_names_the_refused_keyword_the_method_and_what_it_accepts(criterion, method, keyword):
    real = method if method in METHODS[criterion] else "backward_induction"
    func_name, accepted = _accepted(criterion, real)
    with pytest.raises(ValueError) as info:
        mdps.solve(INSTANCES[criterion], method=method, **{keyword: 1})
    msg = str(info.value)
    assert f"solve(method={method!r})" in msg and f"runs {func_name}" in msg
    assert f"takes no keyword {keyword!r}" in msg
    assert "it accepts: " + (", ".join(accepted) if accepted else "no keywords") in msg


@pytest.mark.parametrize("criterion", list(METHODS))
def test_solve_default_method_refuses_too(criterion):
    with pytest.raises(ValueError, match="takes no keyword 'not_a_keyword'"):
        mdps.solve(INSTANCES[criterion], not_a_keyword=1)


@pytest.mark.parametrize("criterion", list(METHODS))
def test_evaluate_refuses_keywords(criterion):
    mdp = INSTANCES[criterion]
    with pytest.raises(ValueError, match=r"evaluate\(\) on .* mdp is exact and takes no keyword 'tol'; it accepts: mdp, pi"):
        mdps.evaluate(mdp, np.zeros(mdp.n_states, dtype=np.int64), tol=1e-8)


def test_solve_robust_refuses_keywords():
    rmdp = mdps.RobustMDP(mdps.river_swim(4, gamma=0.9), radius=0.1)
    with pytest.raises(ValueError, match="solve\\(method='vi'\\) on a RobustMDP runs robust_value_iteration, which "
                                         "takes no keyword 'm'; it accepts: "):
        mdps.solve(rmdp, method="vi", m=3)


def test_accepted_keywords_are_forwarded():
    fh = mdps.solve(INSTANCES["finite_horizon"], method="vi")  # no keyword: backward induction
    assert fh.method == "backward_induction"
    sol = mdps.solve(INSTANCES["discounted"], method="mpi", m=3, tol=1e-9)
    assert sol.settings["m"] == 3 and sol.settings["tol"] == 1e-9
