r"""Shared machinery of :mod:`algorithms.nash`: the result record, boundary validation, the
win-rate oracle (exact or sampled) with its query accounting, and per-context handling.

Per-context handling
--------------------
Every tabular algorithm decouples across contexts (preference.md 0.2). Internally every array
carries a leading context axis: ``Pref (X, K, K)``, policies ``(X, K)`` (``X = 1`` for a
non-contextual game) and every update is vectorised over it; results are squeezed back to
``(K,)`` / ``(n_iter + 1, K)`` for a non-contextual game. The context weights
``game.weights`` do not enter the tabular updates (the contexts decouple); they weight the
metrics (``game.exploitability``, ``game.preference``).

Query accounting (one axis for every algorithm)
-----------------------------------------------
Following preference.md 0.2 ("preference query") and 3.6 ("count queries, not iterations"):

* ``queries[t]`` is the cumulative number of **win-rate-vector evaluations** ``g(pi) = P pi``
  needed to produce iterate ``t`` (``queries[0] = 0``), counted **per context** (every
  algorithm evaluates every context the same number of times, so the count is the same in
  each; multiply by ``n_contexts`` for a total). Exact setting: one ``Pref @ pi`` is one
  query. Sampled setting: one call of the sampled oracle (an unbiased estimate of ``P pi``, or
  one batch of preference pairs for the pair-loss fits) is one query. Hence Nash-MP counts 2
  per iteration (``P pi_k`` and ``P pi_{k+1/2}``) and every other method 1.
* ``duels[t]`` is the cumulative number of Bernoulli duels ``I ~ Bern(P[y, y'])`` drawn, per
  context (all zeros in the exact setting). A sampled win-rate query costs ``K * n_samples``
  duels (``n_samples`` duels for each response against opponents drawn from the policy).

The sampled oracle draws opponents ``y' ~ pi`` and duels through the game's own sampler
(:meth:`mdps.preference.PreferenceGame.empirical_win_rates` / ``duel``), with optional flip
noise ``noise`` (each outcome flipped with probability ``noise``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from mdps._validation import as_float_array, check_choice, check_int, check_positive, readonly
from mdps.preference import PreferenceGame

__all__ = ["NashResult"]

#: Tolerance on the row sums of ``ref`` and ``init`` (same as the transition kernels').
SIMPLEX_ATOL = 1e-9

ORACLES = ("exact", "sampled")


@dataclass(frozen=True, eq=False)
class NashResult:
    """The output of every Nash-learning algorithm (one type; flags never change it).

    Attributes
    ----------
    policy : ndarray, shape (K,) or (X, K)
        The last iterate ``pi_T`` (Nash-EMA: the smoothed strategy ``pibar_T``).
    policies : ndarray, shape (n_iter + 1, K) or (n_iter + 1, X, K)
        All iterates ``pi_0 = init, ..., pi_T``.
    average_policy : ndarray, shape (K,) or (X, K)
        The step-size-weighted average of the iterates that were *played*,
        ``sum_{t<T} eta_t pi_t / sum_{t<T} eta_t`` (uniform for a constant step); for Nash-MP
        the average of the extrapolated points ``pi_{k+1/2}`` (Nemirovski's ergodic average).
        This is the iterate the no-regret bounds speak about (e.g. Hedge's
        ``E_0 <= (log(1/min pi_0) + sum eta_t^2 / 8) / sum eta_t``).
    queries : ndarray of int, shape (n_iter + 1,)
        Cumulative win-rate-vector queries per context (see the module docstring).
    duels : ndarray of int, shape (n_iter + 1,)
        Cumulative Bernoulli duels per context (zeros in the exact setting).
    method : str
        The algorithm's name (``"nash_md"``, ``"nash_mirror_prox"``, ...).
    settings : mapping
        The settings used (``beta``, ``eta``, ``n_iter``, ``schedule``, ``step_sizes``,
        ``oracle``, ...), read-only.
    """

    policy: np.ndarray
    policies: np.ndarray
    average_policy: np.ndarray
    queries: np.ndarray
    duels: np.ndarray
    method: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("policy", "policies", "average_policy", "queries", "duels"):
            readonly(getattr(self, name))
        settings = dict(self.settings)
        for v in settings.values():
            readonly(v)
        object.__setattr__(self, "settings", MappingProxyType(settings))

    @property
    def n_iter(self) -> int:
        return self.policies.shape[0] - 1


# ----------------------------------------------------------------------------------------- validation
def check_game(game) -> None:
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be an mdps.PreferenceGame, got {type(game).__name__}")


def check_beta(beta, *, allow_zero: bool) -> float:
    return check_positive(beta, "beta", allow_zero=allow_zero)


def check_policy_arg(x, name: str, X: int, K: int, contextual: bool, *, full_support: bool = True) -> np.ndarray:
    """A policy ``(K,)`` (broadcast to every context) or ``(X, K)`` on the simplex; returns ``(X, K)``."""
    arr = as_float_array(x, name, ndim=(1, 2))
    if arr.ndim == 1:
        if arr.shape != (K,):
            raise ValueError(f"{name} must have shape ({K},){f' or ({X}, {K})' if contextual else ''}, got {arr.shape}")
        arr = np.broadcast_to(arr, (X, K)).copy()
    elif arr.shape != (X, K) or not contextual:
        want = f"({K},) or ({X}, {K})" if contextual else f"({K},)"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    neg = arr < 0
    if neg.any():
        x0, y0 = np.argwhere(neg)[0]
        where = f"{name}[{x0}, {y0}]" if contextual else f"{name}[{y0}]"
        raise ValueError(f"{where} is {arr[x0, y0]:.6g}, expected >= 0")
    sums = arr.sum(axis=-1)
    bad = np.abs(sums - 1.0) > SIMPLEX_ATOL
    if bad.any():
        x0 = int(np.argmax(bad))
        where = f"{name}[{x0}, :]" if contextual else name
        raise ValueError(f"{where} sums to {sums[x0]:.12g}, expected 1 within {SIMPLEX_ATOL:g}")
    if full_support:
        zero = arr <= 0
        if zero.any():
            x0, y0 = np.argwhere(zero)[0]
            where = f"{name}[{x0}, {y0}]" if contextual else f"{name}[{y0}]"
            raise ValueError(f"{where} is 0, expected full support (every entry > 0; the update works with logs)")
    return arr / sums[:, None]


def check_rng(rng, oracle: str):
    if oracle == "sampled":
        if rng is None:
            raise ValueError("rng is required when oracle='sampled' (a numpy Generator, an int or a SeedSequence), got None")
        return np.random.default_rng(rng)
    return None if rng is None else np.random.default_rng(rng)


def check_step_product(etas: np.ndarray, beta: float, what: str) -> None:
    """``eta_t * beta <= 1`` for every step (geometric mixtures with a non-negative weight)."""
    prod = etas * beta
    if (prod > 1.0 + 1e-12).any():
        t = int(np.argmax(prod > 1.0 + 1e-12))
        raise ValueError(
            f"eta * beta must be <= 1 for {what} (got eta_{t}={etas[t]:.6g}, beta={beta:.6g}, "
            f"product {prod[t]:.6g}); use a smaller eta, or the exact prox"
        )


def check_schedule(schedule) -> None:
    if not callable(schedule) and schedule not in ("constant", "decaying"):
        raise ValueError(f"schedule must be 'constant', 'decaying' or a callable t -> eta_t, got {schedule!r}")


@dataclass
class Setup:
    """A validated problem: arrays with a leading context axis and the oracle."""

    game: Any
    Pref: np.ndarray  # (X, K, K)
    X: int
    K: int
    contextual: bool
    log_ref: np.ndarray | None  # (X, K)
    ref: np.ndarray | None
    init: np.ndarray  # (X, K)
    log_init: np.ndarray
    etas: np.ndarray  # (n_iter,)
    n_iter: int
    oracle: "WinRateOracle"
    settings: dict


def setup(game, *, method: str, beta, eta, n_iter, ref, init, schedule, oracle, n_samples, noise, rng,
          beta_zero_ok: bool, need_ref: bool, step_bound: str | None = None) -> Setup:
    """Validate the common arguments at the boundary and build the oracle."""
    check_game(game)
    beta = 0.0 if beta is None else check_beta(beta, allow_zero=beta_zero_ok)
    eta = check_positive(eta, "eta")
    n_iter = check_int(n_iter, "n_iter", low=1)
    check_schedule(schedule)
    check_choice(oracle, "oracle", ORACLES)
    if oracle == "sampled":
        if n_samples is None:
            raise ValueError("n_samples is required when oracle='sampled' (duels per response per query), got None")
        n_samples = check_int(n_samples, "n_samples", low=1)
    noise = check_positive(noise, "noise", allow_zero=True)
    if noise >= 0.5:
        raise ValueError(f"noise must lie in [0, 0.5) (flip probability), got {noise!r}")
    gen = check_rng(rng, oracle)

    Pref = np.ascontiguousarray(np.asarray(game.Pref, dtype=np.float64))
    contextual = bool(game.contextual)
    if Pref.ndim == 2:
        Pref = Pref[None]
    X, K = Pref.shape[0], Pref.shape[-1]

    ref_arr = log_ref = None
    if need_ref or ref is not None:
        if ref is None:
            ref = game.ref
        if ref is None:
            ref = np.full(K, 1.0 / K)
        ref_arr = check_policy_arg(ref, "ref", X, K, contextual)
        log_ref = np.log(ref_arr)
    if init is None:
        init_arr = ref_arr.copy() if ref_arr is not None else np.full((X, K), 1.0 / K)
    else:
        init_arr = check_policy_arg(init, "init", X, K, contextual)

    from algorithms.nash._prox import step_sizes

    etas = step_sizes(schedule, eta, n_iter, beta=beta)
    if step_bound is not None:
        check_step_product(etas, beta, step_bound)
    orc = WinRateOracle(game, Pref, contextual, oracle, n_samples, noise, gen)
    settings = dict(
        beta=beta, eta=eta, n_iter=n_iter,
        schedule=schedule if isinstance(schedule, str) else "callable",
        step_sizes=etas, oracle=oracle, n_samples=n_samples, noise=noise,
        n_contexts=X, n_responses=K,
    )
    return Setup(game, Pref, X, K, contextual, log_ref, ref_arr, init_arr, np.log(init_arr), etas, n_iter,
                 orc, settings)


# ----------------------------------------------------------------------------------------- oracle
class WinRateOracle:
    """``pi (X, K) -> P pi (X, K)``, exact or estimated by duels, counting queries and duels."""

    def __init__(self, game, Pref, contextual, kind, n_samples, noise, rng):
        self.game, self.Pref, self.contextual = game, Pref, contextual
        self.kind, self.n_samples, self.noise, self.rng = kind, n_samples, noise, rng
        self.X, self.K = Pref.shape[0], Pref.shape[-1]
        self.queries = 0
        self.duels = 0

    def exact(self, pi: np.ndarray) -> np.ndarray:
        """``P pi`` per context (no accounting)."""
        if self.X == 1:
            return (self.Pref[0] @ pi[0])[None]
        return np.matmul(self.Pref, pi[..., None])[..., 0]

    def __call__(self, pi: np.ndarray) -> np.ndarray:
        self.queries += 1
        if self.kind == "exact":
            return self.exact(pi)
        self.duels += self.K * self.n_samples
        arg = pi if self.contextual else pi[0]
        g = self.game.empirical_win_rates(arg, self.n_samples, rng=self.rng, noise=self.noise)
        return np.asarray(g, dtype=np.float64).reshape(self.X, self.K)


# ----------------------------------------------------------------------------------------- results
class Trace:
    """Preallocated iterate storage and the query/duel counters per iterate."""

    def __init__(self, s: Setup):
        self.s = s
        self.pis = np.empty((s.n_iter + 1, s.X, s.K))
        self.pis[0] = s.init
        self.queries = np.zeros(s.n_iter + 1, dtype=np.int64)
        self.duels = np.zeros(s.n_iter + 1, dtype=np.int64)
        self.avg = np.zeros((s.X, s.K))
        self.avg_w = 0.0

    def record(self, t: int, pi: np.ndarray) -> None:
        """Store iterate ``t`` (1-based) and the oracle counters after producing it."""
        self.pis[t] = pi
        self.queries[t] = self.s.oracle.queries
        self.duels[t] = self.s.oracle.duels

    def accumulate(self, w: float, pi: np.ndarray) -> None:
        self.avg += w * pi
        self.avg_w += w

    def result(self, method: str, **extra_settings) -> NashResult:
        s = self.s
        avg = self.avg / self.avg_w
        avg /= avg.sum(axis=-1, keepdims=True)
        pis = self.pis
        if not s.contextual:
            pis, avg = pis[:, 0], avg[0]
        settings = dict(s.settings, **extra_settings)
        return NashResult(policy=pis[-1].copy(), policies=pis, average_policy=avg, queries=self.queries,
                          duels=self.duels, method=method, settings=settings)


def sample_responses(pi: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` iid responses per context from ``pi (X, K)`` by inverse CDF; int array ``(X, n)``."""
    X, K = pi.shape
    cdf = np.cumsum(pi, axis=1)
    u = rng.random((X, n))
    out = np.empty((X, n), dtype=np.int64)
    for x in range(X):
        out[x] = np.minimum(np.searchsorted(cdf[x], u[x] * cdf[x, -1], side="right"), K - 1)
    return out


def pair_duels(oracle: "WinRateOracle", a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Duel ``a[x, k]`` against ``b[x, k]`` in context ``x``; float outcomes ``1[a > b]`` of shape ``a.shape``."""
    X = a.shape[0]
    ctx = np.broadcast_to(np.arange(X)[:, None], a.shape) if oracle.contextual else None
    oracle.duels += int(a.size) // X  # per-context count
    out = oracle.game.duel(a, b, rng=oracle.rng, noise=oracle.noise, context=ctx)
    return np.asarray(out, dtype=np.float64).reshape(a.shape)
