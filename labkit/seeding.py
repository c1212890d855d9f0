"""Seed trees for experiments: one ``SeedSequence`` per experiment, one child per run.

An experiment has one root :class:`numpy.random.SeedSequence`. Replicate ``r`` of every run
draws from the child

.. math::

    \\mathrm{child}_r = \\mathrm{SeedSequence}(\\mathrm{entropy}=\\mathrm{root.entropy},\\;
                        \\mathrm{spawn\\_key}=\\mathrm{root.spawn\\_key} + (r,)),

which is exactly what ``root.spawn(n)[r]`` returns for a root that has not spawned before,
but computed without touching the root's spawn counter. So replicate ``r``'s seed depends
only on ``(root seed, r)``: not on the order the runs execute in, not on the backend (serial,
processes, a cluster), not on how many replicates there are, and not on what else was spawned
from the same root object. Asking for 10 replicates and later for 20 reuses the first 10.

Common random numbers, on purpose
---------------------------------
The child depends on the replicate index only, not on the run's config. In a sweep over a
grid, replicate ``r`` of every config uses the same random stream. This is deliberate: the
configs of a grid are compared under common random numbers, which removes the between-config
noise that independent streams would add to a difference (e.g. regret of ``eta=0.1`` minus
regret of ``eta=0.2`` on the same sampled instance). The replicates of one config remain
independent of one another. If you need streams that are independent across configs too,
give each config its own root (for example ``SeedSequence([seed, config_index])``).

A ``numpy.random.Generator`` is refused as a root: a generator's state cannot be split into
children reproducibly (its children would depend on how much had been drawn from it before).
Pass the integer seed, or the ``SeedSequence`` the generator was built from.

References
----------
.. [1] NumPy, "Parallel random number generation",
   https://numpy.org/doc/stable/reference/random/parallel.html
.. [2] rlberry, ``rlberry/seeding/seeder.py`` (one ``SeedSequence`` turned into a tree).

Examples
--------
>>> from labkit.seeding import run_seeds, spawn_rngs
>>> a = run_seeds(0, 3)
>>> b = run_seeds(0, 10)
>>> [s.generate_state(2).tolist() for s in a] == [s.generate_state(2).tolist() for s in b[:3]]
True
>>> float(spawn_rngs(0, 2)[1].random()) == float(spawn_rngs(0, 5)[1].random())
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_seed_sequence", "run_seed", "run_seeds", "spawn_rngs"]


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Normalise an experiment's root seed to a :class:`numpy.random.SeedSequence`.

    Parameters
    ----------
    seed : int >= 0 or numpy.random.SeedSequence
        The root seed. A ``SeedSequence`` is returned unchanged (it is not copied; the
        functions of this module never advance its spawn counter).

    Raises
    ------
    TypeError
        For a ``numpy.random.Generator`` (it cannot be split reproducibly), ``None`` (fresh OS
        entropy would make the experiment unrepeatable and its stored runs unfindable), a bool,
        or any other type.
    ValueError
        For a negative integer.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        raise TypeError(
            "seed must be an int >= 0 or a numpy.random.SeedSequence, got a numpy.random.Generator: "
            "a Generator cannot be split into per-run children reproducibly (its children would "
            "depend on how much had already been drawn from it); pass the integer seed or the "
            "SeedSequence it was built from"
        )
    if isinstance(seed, np.random.BitGenerator):
        raise TypeError(
            f"seed must be an int >= 0 or a numpy.random.SeedSequence, got a {type(seed).__name__} "
            "bit generator: it cannot be split into per-run children reproducibly; pass its "
            "seed_seq (bitgen.seed_seq) or the integer seed"
        )
    if seed is None:
        raise TypeError(
            "seed must be an int >= 0 or a numpy.random.SeedSequence, got None: an experiment's "
            "root seed is explicit so that its runs can be repeated and found in the store"
        )
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"seed must be an int >= 0 or a numpy.random.SeedSequence, got {type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {int(seed)}")
    return np.random.SeedSequence(int(seed))


#: Most replicates (and the largest replicate index) a seed tree hands out: far beyond any sweep,
#: and small enough that asking for more is refused at once instead of running for hours.
MAX_REPLICATES = 10**7


def _check_count(n, name: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 0, got {type(n).__name__} {n!r}")
    if not 0 <= n <= MAX_REPLICATES:
        raise ValueError(f"{name} must be an int in [0, {MAX_REPLICATES:.0e}], got {int(n)}")
    return int(n)


def run_seed(root, replicate: int) -> np.random.SeedSequence:
    """The child ``SeedSequence`` of replicate ``replicate`` (see the module docstring).

    ``SeedSequence(entropy=root.entropy, spawn_key=root.spawn_key + (replicate,),
    pool_size=root.pool_size)``: a function of ``(root, replicate)`` only.
    """
    root = as_seed_sequence(root)
    r = _check_count(replicate, "replicate")
    return np.random.SeedSequence(
        entropy=root.entropy, spawn_key=tuple(root.spawn_key) + (r,), pool_size=root.pool_size
    )


def run_seeds(root, n: int) -> list[np.random.SeedSequence]:
    """The children of replicates ``0 .. n-1`` of ``root``.

    Parameters
    ----------
    root : int >= 0 or numpy.random.SeedSequence
        The experiment's root seed.
    n : int >= 0
        Number of replicates.

    Returns
    -------
    list of numpy.random.SeedSequence
        ``run_seeds(root, n)[r]`` depends only on ``(root, r)``: ``run_seeds(root, m)[:n]``
        equals ``run_seeds(root, n)`` for every ``m >= n``, whatever order the runs execute
        in. The same replicate index is shared across the configs of a sweep (common random
        numbers; see the module docstring).
    """
    root = as_seed_sequence(root)
    n = _check_count(n, "n")
    return [run_seed(root, r) for r in range(n)]


def spawn_rngs(root, n: int) -> list[np.random.Generator]:
    """``numpy.random.default_rng(s)`` for each ``s`` in :func:`run_seeds` ``(root, n)``."""
    return [np.random.default_rng(s) for s in run_seeds(root, n)]
