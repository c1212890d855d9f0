"""Tests for :class:`mdps.TabularEnv`: Gymnasium's own checker, the documented step
semantics, reproducibility under ``reset(seed=...)``, and agreement of the empirical
transition frequencies with ``P`` (5-sigma binomial margins, seeds 0..4)."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import mdps  # noqa: E402
import mdps.env as env_mod  # noqa: E402
from mdps import TabularEnv  # noqa: E402


def test_doctests():
    res = doctest.testmod(env_mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


@pytest.mark.parametrize("make", [
    lambda: mdps.river_swim(5, horizon=10),
    lambda: mdps.garnet(12, 3, 4, gamma=0.9, sparse=True, rng=0),
    lambda: mdps.random_finite_horizon(4, 2, 5, rng=1),
])
def test_gymnasium_env_checker(make):
    from gymnasium.utils.env_checker import check_env

    env = TabularEnv(make())
    assert isinstance(env, gym.Env)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no spec" / render-mode notices
        check_env(env, skip_render_check=True)
    assert env.observation_space == gym.spaces.Discrete(env.mdp.n_states)
    assert env.action_space == gym.spaces.Discrete(env.mdp.n_actions)


def test_step_semantics_and_truncation():
    m = mdps.river_swim(4, horizon=3)
    env = TabularEnv(m)
    obs, info = env.reset(seed=0)
    assert obs == 0 and info == {"t": 0}  # rho = e_0
    obs, r, term, trunc, info = env.step(0)
    assert (obs, r, term, trunc) == (0, 0.005, False, False)  # left at s_1: stay, reward 0.005
    env.step(np.int64(1))
    *_, term, trunc, info = env.step(np.array(1))
    assert term is False and trunc is True and info["t"] == 3
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset()
    assert env.t == 0
    # a shorter explicit horizon; a discounted mdp never truncates
    env = TabularEnv(m, horizon=1)
    env.reset(seed=1)
    assert env.step(1)[3] is True
    env = TabularEnv(mdps.chain(3, gamma=0.9))
    env.reset(seed=0)
    assert not any(env.step(0)[3] for _ in range(200))
    assert env.state == 2 and env.step(0)[1] == 1.0


def test_stage_dependent_uses_stage_kernels():
    # a 2-stage mdp where stage 0 always moves to state 1 and stage 1 always to state 0
    P = np.zeros((2, 2, 1, 2))
    P[0, :, 0, 1] = 1.0
    P[1, :, 0, 0] = 1.0
    R = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])
    env = TabularEnv(mdps.TabularMDP(P, R, horizon=2, rho=[1.0, 0.0]))
    env.reset(seed=0)
    assert env.step(0)[:2] == (1, 1.0)
    assert env.step(0)[:2] == (0, 4.0)
    with pytest.raises(ValueError, match="horizon"):
        TabularEnv(env.mdp, horizon=3)


def test_reset_seed_reproducibility():
    m = mdps.garnet(20, 3, 5, horizon=30, rng=4)

    def episode(seed):
        env = TabularEnv(m)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        acts = np.random.default_rng(99).integers(0, 3, size=30)
        for a in acts:
            obs, r, _, trunc, _ = env.step(int(a))
            out += [obs, r]
        assert trunc
        return out

    assert episode(3) == episode(3)
    assert episode(3) != episode(4)
    env = TabularEnv(m)
    first = env.reset(seed=7)[0]
    env.step(0)
    assert env.reset(seed=7)[0] == first


@pytest.mark.parametrize("seed", range(5))
def test_transition_frequencies_match_P(seed):
    # From state 2 of RiverSwim with action "right" (0.05 / 0.6 / 0.35), N steps reset to
    # state 2 each time; each count is Binomial(N, p): 5-sigma margin.
    m = mdps.river_swim(5, gamma=0.9)
    env = TabularEnv(m)
    env.reset(seed=seed)
    n = 4000
    counts = np.zeros(5)
    for _ in range(n):
        env.state = 2
        counts[env.step(1)[0]] += 1
    p = m.P[2, 1]
    assert np.all(np.abs(counts - n * p) <= 5 * np.sqrt(n * p * (1 - p)))


def test_bad_actions_and_arguments():
    env = TabularEnv(mdps.river_swim(3, horizon=5))
    env.reset(seed=0)
    for bad in (2, -1, 0.5, "0", True, None):
        with pytest.raises(ValueError, match="action"):
            env.step(bad)
    with pytest.raises(TypeError, match="mdp"):
        TabularEnv(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="horizon"):
        TabularEnv(mdps.river_swim(3), horizon=0)
    with pytest.raises(RuntimeError, match="reset"):
        TabularEnv(mdps.river_swim(3)).step(0)


def test_missing_gymnasium_raises_import_error(monkeypatch):
    monkeypatch.setattr(env_mod, "_gym", None)
    with pytest.raises(ImportError, match="pip install gymnasium"):
        env_mod.TabularEnv(mdps.river_swim(3))
