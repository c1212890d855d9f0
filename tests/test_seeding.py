"""labkit.seeding: a replicate's seed is a function of (root seed, replicate) only."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit import as_seed_sequence, run_seeds, spawn_rngs
from labkit.seeding import run_seed


def state(ss, words=4):
    return ss.generate_state(words).tolist()


@given(seed=st.integers(0, 2**64), n=st.integers(0, 12), m=st.integers(0, 12))
def test_replicate_seeds_do_not_depend_on_n(seed, n, m):
    a, b = run_seeds(seed, n), run_seeds(seed, m)
    k = min(n, m)
    assert [state(s) for s in a[:k]] == [state(s) for s in b[:k]]


def test_replicate_seeds_do_not_depend_on_order_and_match_spawn():
    root = np.random.SeedSequence(2024)
    forward = [state(run_seed(root, r)) for r in range(8)]
    backward = [state(run_seed(root, r)) for r in reversed(range(8))][::-1]
    assert forward == backward
    # the definition: the children a fresh root would spawn, without advancing the root
    assert root.n_children_spawned == 0
    assert forward == [state(s) for s in np.random.SeedSequence(2024).spawn(8)]
    # asking again after the root object spawned elsewhere changes nothing
    root.spawn(3)
    assert [state(s) for s in run_seeds(root, 8)] == forward


def test_children_are_distinct_and_nest():
    seeds = run_seeds(7, 50)
    assert len({tuple(state(s)) for s in seeds}) == 50
    child = seeds[3]
    assert child.spawn_key == (3,) and child.entropy == 7
    grandchildren = run_seeds(child, 2)
    assert [g.spawn_key for g in grandchildren] == [(3, 0), (3, 1)]


def test_spawn_rngs_are_default_rng_of_run_seeds():
    draws = [g.random(3).tolist() for g in spawn_rngs(11, 4)]
    expected = [np.random.default_rng(s).random(3).tolist() for s in run_seeds(11, 4)]
    assert draws == expected
    assert draws[0] != draws[1]
    assert spawn_rngs(11, 9)[2].random(3).tolist() == draws[2]


def test_as_seed_sequence_accepts_int_and_seed_sequence():
    ss = np.random.SeedSequence(5)
    assert as_seed_sequence(ss) is ss
    assert state(as_seed_sequence(5)) == state(ss)
    assert state(as_seed_sequence(np.int64(5))) == state(ss)


def test_generator_is_refused_with_reason():
    with pytest.raises(TypeError, match="cannot be split"):
        as_seed_sequence(np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        run_seeds(np.random.default_rng(0), 3)
    with pytest.raises(TypeError, match="seed_seq"):
        spawn_rngs(np.random.PCG64(0), 2)


@pytest.mark.parametrize("bad", [None, True, 1.5, "3", [1, 2]])
def test_other_types_are_refused(bad):
    with pytest.raises(TypeError, match="seed must be"):
        as_seed_sequence(bad)


def test_negative_seed_and_count_are_refused():
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        as_seed_sequence(-1)
    with pytest.raises(ValueError, match=r"n must be an int in \[0, 1e\+07\]"):
        run_seeds(0, -2)
    with pytest.raises(TypeError, match="n must be an int"):
        run_seeds(0, 2.0)
