"""The preference oracle of a Nash-learning run (:class:`WinRateOracle`): exact win rates or
Bernoulli duels drawn from the game, with its own query and duel accounting (the rules are in
:mod:`algorithms.nash._common`)."""

from __future__ import annotations

import numpy as np

__all__ = ["WinRateOracle"]


class WinRateOracle:
    """The preference oracle of one run: exact win rates, or Bernoulli duels drawn from the game.

    It owns the accounting of :mod:`algorithms.nash._common`: every query method counts itself, and
    ``queries`` / ``duels`` are read-only (per context).

    Parameters
    ----------
    game : mdps.PreferenceGame
    Pref : ndarray, shape (X, K, K)
        ``game.Pref`` with a leading context axis.
    kind : {"exact", "sampled"}
    n_samples : int, optional
        Duels per response per win-rate query (``kind="sampled"``).
    noise : float
        Flip probability of each duel's outcome.
    rng : numpy.random.Generator, optional
        Source of every random draw (opponents, duels, sampled responses).
    """

    def __init__(self, game, Pref, kind: str, *, n_samples=None, noise: float = 0.0, rng=None):
        self.game, self.Pref, self.contextual = game, Pref, bool(game.contextual)
        self.kind, self.n_samples, self.noise, self.rng = kind, n_samples, noise, rng
        self.X, self.K = Pref.shape[0], Pref.shape[-1]
        self._queries = 0
        self._duels = 0

    @property
    def queries(self) -> int:
        """Preference queries so far, per context."""
        return self._queries

    @property
    def duels(self) -> int:
        """Bernoulli duels so far, per context."""
        return self._duels

    def win_rates(self, pi: np.ndarray) -> np.ndarray:
        """One query: ``P pi`` per context, ``(X, K) -> (X, K)``; sampled: the win frequency of
        each response in ``n_samples`` duels against ``y' ~ pi`` (``K n_samples`` duels)."""
        self._queries += 1
        if self.kind == "exact":
            if self.X == 1:
                return (self.Pref[0] @ pi[0])[None]
            return np.matmul(self.Pref, pi[..., None])[..., 0]
        self._duels += self.K * self.n_samples
        arg = pi if self.contextual else pi[0]
        g = self.game.empirical_win_rates(arg, self.n_samples, rng=self.rng, noise=self.noise)
        return np.asarray(g, dtype=np.float64).reshape(self.X, self.K)

    def population(self) -> np.ndarray:
        """One query, exact: the preference matrices ``(X, K, K)``, i.e. the population limit of
        a batch of labelled pairs (no duels)."""
        self._queries += 1
        return self.Pref

    def pair_duels(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """One query, a batch of duels: ``a[x, k]`` against ``b[x, k]`` in context ``x``; float
        outcomes ``1[a > b]`` of shape ``a.shape`` (``a.size / X`` duels per context)."""
        self._queries += 1
        X = a.shape[0]
        ctx = np.broadcast_to(np.arange(X)[:, None], a.shape) if self.contextual else None
        self._duels += int(a.size) // X
        out = self.game.duel(a, b, rng=self.rng, noise=self.noise, context=ctx)
        return np.asarray(out, dtype=np.float64).reshape(a.shape)

    def sample(self, pi: np.ndarray, n: int) -> np.ndarray:
        """``n`` iid responses per context from ``pi (X, K)`` by inverse CDF (not a query);
        int array ``(X, n)``."""
        X, K = pi.shape
        cdf = np.cumsum(pi, axis=1)
        u = self.rng.random((X, n))
        out = np.empty((X, n), dtype=np.int64)
        for x in range(X):
            out[x] = np.minimum(np.searchsorted(cdf[x], u[x] * cdf[x, -1], side="right"), K - 1)
        return out
