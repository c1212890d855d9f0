"""UCRL2 / span-bounded UCRL batches: run i of a batch is the single run with the i-th child seed, bit for bit,
whatever the batch size and the thread count."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import mdps
from algorithms import average_reward as ar
from proofs_checks.average_reward.ucrl import rare_state

FIELDS = ("regret", "realised_regret", "states", "actions", "rewards", "episode_starts", "optimistic_gain",
          "optimistic_gain_lower", "evi_iterations", "evi_converged")


def _same(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f
    assert a.seed == b.seed and a.gain_star == b.gain_star and a.settings == b.settings


@pytest.mark.parametrize("agent", ["ucrl2", "span"])
def test_batch_rows_equal_single_runs_bit_for_bit(agent):
    mdp = mdps.river_swim(5)

    def call(**kw):
        if agent == "ucrl2":
            return ar.ucrl2(mdp, n_steps=1500, **kw)
        return ar.span_bounded_ucrl(mdp, n_steps=1500, span=6.0, **kw)

    root = 2026
    children = np.random.SeedSequence(root).spawn(5)
    big = call(n_runs=5, rng=root)
    small = call(n_runs=2, rng=root)  # a smaller batch: its rows are the first runs of the larger one
    assert isinstance(big, ar.AverageRewardBatch) and big.n_runs == 5
    for i in range(5):
        single = call(rng=children[i])
        _same(big.run(i), single)
        if i < 2:
            _same(small.run(i), single)
    # the thread count does not matter
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = call(n_runs=5, rng=root)
    finally:
        numba.set_num_threads(old)
    for i in range(5):
        _same(one_thread.run(i), big.run(i))
    # runs are distinct draws
    assert not np.array_equal(big.states[0], big.states[1])


def test_batch_shapes_padding_and_regret():
    T = 800
    mdp = rare_state(0.2)
    b = ar.ucrl2(mdp, n_steps=T, n_runs=3, rng=1)
    assert b.regret.shape == b.states.shape == (3, T)
    assert b.gain_star == mdps.average_reward_lp(mdp).gain
    assert np.array_equal(b.regret, b.gain_star - mdp.R[b.states, b.actions])  # pseudo-regret, recomputed
    for i in range(3):
        k = int(b.n_episodes[i])
        assert (b.episode_starts[i, :k] >= 1).all() and (b.episode_starts[i, k:] == 0).all()
        assert np.isnan(b.optimistic_gain[i, k:]).all() and b.run(i).n_episodes == k
    with pytest.raises(ValueError, match="i"):
        b.run(3)
    with pytest.raises(ValueError, match="n_runs"):
        ar.ucrl2(rare_state(0.2), n_steps=10, n_runs=0)
    with pytest.raises(ValueError):
        b.regret[0, 0] = 1.0
    # the default single run is the first uint64 of SeedSequence(rng) itself, as before batches existed
    single = ar.ucrl2(mdp, n_steps=T, rng=1)
    assert single.seed == int(np.random.SeedSequence(1).generate_state(1, np.uint64)[0])


def test_bench_average_reward_tiny():
    from benchmarks import bench_average_reward

    rows = bench_average_reward.main(["--tiny", "--repeats", "1"])
    assert rows and rows[0]["batch1_s"] > 0 and rows[0]["speedup2"] > 0
