r"""Shared machinery of :mod:`algorithms.nash`: the settings and result records, boundary
validation, the preference oracle (exact or sampled) that owns its query accounting, and
per-context handling.

Per-context handling
--------------------
Every tabular algorithm decouples across contexts (docs/theory/nash.md, section 'Preference game'). Internally every array
carries a leading context axis: ``Pref (X, K, K)``, policies ``(X, K)`` (``X = 1`` for a
non-contextual game) and every update is vectorised over it; results are squeezed back to
``(K,)`` / ``(n_iter + 1, K)`` for a non-contextual game. The context weights
``game.weights`` do not enter the tabular updates (the contexts decouple); they weight the
metrics (``game.exploitability``, ``game.preference``).

Query accounting (one axis for every algorithm)
-----------------------------------------------
Following docs/theory/nash.md, section 'Query accounting' (count queries, not iterations),
:class:`~algorithms.nash._oracle.WinRateOracle` counts, and nothing else touches its counters:

* ``queries`` is the cumulative number of **preference queries**, counted **per context**
  (every algorithm queries every context the same number of times; multiply by
  ``n_contexts`` for a total). One query is one evaluation of the win-rate vector
  ``g(pi) = P pi`` (:meth:`WinRateOracle.win_rates`: exact ``Pref @ pi``, or an unbiased
  estimate from duels), or one batch of preference pairs for a pair-loss fit
  (:meth:`WinRateOracle.pair_duels`, or :meth:`WinRateOracle.population` for its population
  limit). Hence Nash-MP counts 2 per iteration (``P pi_k`` and ``P pi_{k+1/2}``) and every
  other method 1. ``NashResult.queries[t]`` is the count after producing iterate ``t``.
* ``duels`` is the cumulative number of Bernoulli duels ``I ~ Bern(P[y, y'])`` drawn, per
  context (zero in the exact setting). A sampled win-rate query costs ``K * n_samples`` duels
  (``n_samples`` duels for each response against opponents drawn from the policy); a batch of
  ``n`` pairs costs ``n``.

The sampled oracle draws opponents ``y' ~ pi`` and duels through the game's own sampler
(:meth:`mdps.preference.PreferenceGame.empirical_win_rates` / ``duel``), with optional flip
noise ``noise`` (each outcome flipped with probability ``noise``).

Settings
--------
:class:`NashSettings` is the typed, frozen record of the settings a run used (``beta``,
``eta``, ``n_iter``, ``schedule``, ``step_sizes``, ``oracle``, ``n_samples``, ``noise``,
``n_contexts``, ``n_responses``); algorithms with their own options extend it with a subclass
beside the algorithm (``MirrorProxSettings``, ``OMDSettings``, ``INPOSettings``, ``SPOSettings``,
``DNOSettings``). Inside, :func:`setup` turns the arguments every algorithm shares
(:class:`NashArgs`) and what the update demands of them (:class:`UpdateRules`) into a validated
:class:`NashProblem`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable

import numpy as np

from mdps.preference import PreferenceGame, check_beta
from mdps.validation import as_float_array, check_choice, check_int, check_real, readonly
from mdps.validation import check_rng as _check_rng

from algorithms.nash._oracle import WinRateOracle

__all__ = ["NashResult", "NashSettings"]

#: Tolerance on the row sums of ``ref`` and ``init`` (same as the transition kernels').
SIMPLEX_ATOL = 1e-9

ORACLES = ("exact", "sampled")


# ----------------------------------------------------------------------------------------- records
@dataclass(frozen=True, eq=False)
class NashSettings:
    """The settings a Nash-learning run used (typed, frozen; arrays read-only).

    Attributes
    ----------
    beta : float
        Regularisation (0 for the unregularised self-play methods).
    eta : float
        The ``eta`` argument (constant step, or the first step of a schedule).
    n_iter : int
    schedule : str
        ``"constant"``, ``"decaying"`` or ``"callable"``.
    step_sizes : ndarray, shape (n_iter,)
        The steps ``eta_0, ..., eta_{n_iter - 1}`` actually used.
    oracle : str
        ``"exact"`` or ``"sampled"``.
    n_samples : int or None
        Duels per response per win-rate query (sampled oracle; ``None`` when unused).
    noise : float
        Flip probability of a duel's outcome.
    n_contexts, n_responses : int
        ``X`` and ``K``.
    """

    beta: float
    eta: float
    n_iter: int
    schedule: str
    step_sizes: np.ndarray
    oracle: str
    n_samples: int | None
    noise: float
    n_contexts: int
    n_responses: int

    def __post_init__(self):
        readonly(self.step_sizes)

    def extend(self, cls, **extra):
        """These settings as an instance of the subclass ``cls`` with its extra fields."""
        base = {f.name: getattr(self, f.name) for f in fields(NashSettings)}
        return cls(**base, **extra)


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
        Cumulative preference queries per context (see the module docstring).
    duels : ndarray of int, shape (n_iter + 1,)
        Cumulative Bernoulli duels per context (zeros in the exact setting).
    method : str
        The algorithm's name (``"nash_md"``, ``"nash_mirror_prox"``, ...).
    settings : NashSettings
        The settings used (a subclass with the algorithm's own options where it has some).
    """

    policy: np.ndarray
    policies: np.ndarray
    average_policy: np.ndarray
    queries: np.ndarray
    duels: np.ndarray
    method: str
    settings: NashSettings

    def __post_init__(self):
        for name in ("policy", "policies", "average_policy", "queries", "duels"):
            readonly(getattr(self, name))

    @property
    def n_iter(self) -> int:
        return self.policies.shape[0] - 1


@dataclass(frozen=True)
class NashArgs:
    """The arguments every algorithm shares, as the caller passed them (:func:`setup` validates)."""

    beta: Any
    eta: Any
    n_iter: Any
    ref: Any = None
    init: Any = None
    schedule: Any = "constant"
    oracle: Any = "exact"
    n_samples: Any = None
    noise: Any = 0.0
    rng: Any = None


@dataclass(frozen=True)
class UpdateRules:
    """What an update demands of the shared arguments.

    Attributes
    ----------
    beta_zero_ok : bool
        ``beta = 0`` is allowed (unregularised self-play).
    step_bound : str or None
        When set, every ``eta_t * beta <= 1`` (a geometric mixture with non-negative weights);
        the string names the update in the error message.
    needs_samples : bool
        ``oracle="sampled"`` requires ``n_samples`` (win-rate queries estimated by duels).
    decaying : callable or None
        ``(eta, n_iter, beta) -> step sizes`` for ``schedule="decaying"`` when the update has
        its own (Nash-EMA's averaging weights); ``None``: :func:`algorithms.nash.step_sizes`.
    """

    beta_zero_ok: bool = False
    step_bound: str | None = None
    needs_samples: bool = True
    decaying: Callable[[float, int, float], np.ndarray] | None = None


# ----------------------------------------------------------------------------------------- validation
def check_game(game) -> None:
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be an mdps.PreferenceGame, got {type(game).__name__}")


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


def check_rng(rng, *, required: bool = False):
    """:func:`mdps.validation.check_rng`, except that ``None`` stays ``None`` (exact oracles draw
    nothing) unless ``required`` (the sampled oracle)."""
    if rng is None:
        if required:
            raise ValueError("rng is required when oracle='sampled' (a numpy Generator, an int or a SeedSequence), "
                             "got None")
        return None
    return _check_rng(rng)


def check_step_product(etas: np.ndarray, beta: float, what: str) -> None:
    """``eta_t * beta <= 1`` for every step (geometric mixtures with a non-negative weight)."""
    with np.errstate(over="ignore"):  # an infinite product is refused just below
        prod = etas * beta
    if (prod > 1.0 + 1e-12).any():
        t = int(np.argmax(prod > 1.0 + 1e-12))
        raise ValueError(
            f"eta * beta must be <= 1 for {what} (got eta_{t}={etas[t]:.6g}, beta={beta:.6g}, "
            f"product {prod[t]:.6g}); use a smaller eta, or the exact prox"
        )


def check_schedule(schedule) -> None:
    if not callable(schedule) and not (isinstance(schedule, str) and schedule in ("constant", "decaying")):
        raise ValueError(f"schedule must be 'constant', 'decaying' or a callable t -> eta_t, got {schedule!r}")


def check_noise(noise) -> float:
    """A flip probability in ``[0, 1/2)`` (at 1/2 the duels carry no preference to learn)."""
    return check_real(noise, "noise", low=0.0, high=0.5, high_open=True)


# ----------------------------------------------------------------------------------------- problem
@dataclass(frozen=True, eq=False)
class NashProblem:
    """A validated problem: arrays with a leading context axis, the oracle and the settings."""

    game: PreferenceGame
    Pref: np.ndarray  # (X, K, K)
    contextual: bool
    ref: np.ndarray  # (X, K)
    log_ref: np.ndarray
    init: np.ndarray  # (X, K)
    log_init: np.ndarray
    oracle: WinRateOracle
    settings: NashSettings

    @property
    def X(self) -> int:
        return self.Pref.shape[0]

    @property
    def K(self) -> int:
        return self.Pref.shape[-1]

    @property
    def n_iter(self) -> int:
        return self.settings.n_iter

    @property
    def etas(self) -> np.ndarray:
        return self.settings.step_sizes

    @property
    def beta(self) -> float:
        return self.settings.beta


def setup(game, args: NashArgs, rules: UpdateRules = UpdateRules()) -> NashProblem:
    """Validate the shared arguments at the boundary and build the oracle."""
    from algorithms.nash._prox import check_step, step_sizes

    check_game(game)
    beta = check_beta(args.beta, allow_zero=rules.beta_zero_ok)
    eta = check_step(args.eta)
    n_iter = check_int(args.n_iter, "n_iter", low=1)
    schedule = args.schedule
    check_schedule(schedule)
    oracle = check_choice(args.oracle, "oracle", ORACLES)
    n_samples = args.n_samples
    if oracle == "sampled" and (rules.needs_samples or n_samples is not None):
        if n_samples is None:
            raise ValueError("n_samples is required when oracle='sampled' (duels per response per query), got None")
        n_samples = check_int(n_samples, "n_samples", low=1)
    noise = check_noise(args.noise)
    gen = check_rng(args.rng, required=oracle == "sampled")

    Pref = np.ascontiguousarray(np.asarray(game.Pref, dtype=np.float64))
    contextual = bool(game.contextual)
    if Pref.ndim == 2:
        Pref = Pref[None]
    X, K = Pref.shape[0], Pref.shape[-1]

    ref = game.ref if args.ref is None else args.ref
    ref_arr = check_policy_arg(ref, "ref", X, K, contextual)
    init_arr = ref_arr.copy() if args.init is None else check_policy_arg(args.init, "init", X, K, contextual)

    if schedule == "decaying" and rules.decaying is not None:
        etas = rules.decaying(eta, n_iter, beta)
    else:
        etas = step_sizes(schedule, eta, n_iter, beta=beta)
    if rules.step_bound is not None:
        check_step_product(etas, beta, rules.step_bound)
    settings = NashSettings(
        beta=beta, eta=eta, n_iter=n_iter, schedule=schedule if isinstance(schedule, str) else "callable",
        step_sizes=etas, oracle=oracle, n_samples=n_samples, noise=noise, n_contexts=X, n_responses=K,
    )
    orc = WinRateOracle(game, Pref, oracle, n_samples=n_samples, noise=noise, rng=gen)
    return NashProblem(game, Pref, contextual, ref_arr, np.log(ref_arr), init_arr, np.log(init_arr), orc, settings)


# ----------------------------------------------------------------------------------------- results
class Trace:
    """Preallocated iterate storage and the oracle's counters after each iterate."""

    def __init__(self, s: NashProblem):
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
        with np.errstate(over="ignore"):  # steps ~1e308 overflow the sums; result() refuses them
            self.avg += w * pi
            self.avg_w += w

    def result(self, method: str, settings: NashSettings | None = None) -> NashResult:
        """The frozen result; ``settings`` defaults to the problem's :class:`NashSettings`.

        Raises ``ValueError`` naming ``eta`` if an iterate is not finite: float64 overflowed
        (steps of size ``~1e308``); no NaN leaves this function.
        """
        s = self.s
        pis = self.pis
        bad = ~np.isfinite(pis).all(axis=(1, 2))
        steps = f"eta={s.settings.eta!r} (largest step {float(s.etas.max()):.3g}, beta={s.beta!r})"
        if bad.any():
            raise ValueError(f"{method}: iterate {int(np.argmax(bad))} is not finite: float64 overflowed with "
                             f"{steps}; use a smaller eta")
        if not (math.isfinite(self.avg_w) and np.isfinite(self.avg).all()):
            raise ValueError(f"{method}: the step-weighted average_policy overflowed float64 (the steps sum to "
                             f"{self.avg_w:.3g}) with {steps}; use a smaller eta")
        avg = self.avg / self.avg_w
        avg /= avg.sum(axis=-1, keepdims=True)
        if not s.contextual:
            pis, avg = pis[:, 0], avg[0]
        return NashResult(policy=pis[-1].copy(), policies=pis, average_policy=avg, queries=self.queries,
                          duels=self.duels, method=method, settings=s.settings if settings is None else settings)


