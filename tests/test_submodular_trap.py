"""mdps.trap_instance: the deterministic greedy trap and its exact facts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import submodular as sm


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 4), m=st.integers(1, 12), c=st.integers(1, 3))
def test_exact_optimum_and_greedy_value(k, m, c):
    mdp, f = mdps.trap_instance(k, m, corridor=c)
    H = c + m
    assert mdp.horizon == H and mdp.n_actions == 2 and mdps.check_submodular(f, n_trials=50).passed
    P = mdp.to_dense().P
    assert set(np.unique(P)) <= {0.0, 1.0}  # deterministic
    opt = sm.submodular_optimum(mdp, f).value
    assert opt == max(m, min(k, H))
    greedy = sm.history_policy_value(mdp, f, sm.greedy_policy(mdp, f))
    assert greedy == min(k, H)  # greedy enters the near branch (gain 1 against the corridor's 0)
    # the two open-loop plans, evaluated directly
    near = np.zeros((H, mdp.n_states, 2))
    near[..., 0] = 1.0
    far = np.zeros((H, mdp.n_states, 2))
    far[..., 1] = 1.0
    assert sm.markov_value(mdp, f, near) == min(k, H) and sm.markov_value(mdp, f, far) == m


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_near=0, n_far=3), "n_near"), (dict(n_near=2, n_far=0), "n_far"),
    (dict(n_near=2, n_far=3, corridor=0), "corridor"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mdps.trap_instance(**kwargs)
