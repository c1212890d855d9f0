r"""Set functions on the states an episode visits: submodular trajectory objectives.

Prajapat, Mutný, Zeilinger, Krause, "Submodular Reinforcement Learning", ICLR 2024,
arXiv:2307.13372 [A]. An episode ``s_0, a_0, s_1, ..., a_{H-1}, s_H`` of a finite-horizon
:class:`mdps.TabularMDP` (``H`` actions, ``H + 1`` states) is scored by a set function ``F`` of
its visited elements; the *ground set* is the states (``ground="state"``, revisits add nothing)
or the (stage, state) pairs (``ground="stage_state"``, element ``h * S + s``; the modular case
then equals an ordinary additive return, revisits included).

Every objective is a small frozen class: ``f(mask)`` on a boolean mask (or an iterable of
element indices), ``f.values(masks)`` on a batch ``(B, n)`` of masks, ``f.gain(x, mask)`` the
marginal gain :math:`\Delta(x \mid X) = F(X \cup \{x\}) - F(X)`.

=====================================  ====================================================
:func:`coverage_objective`             weighted coverage: ``sum_c w_c [c covered]``
:func:`facility_location_objective`    ``sum_m max_{s in X} W[s, m]``
:func:`logdet_objective`               ``0.5 log det(I + K_XX / sigma^2)`` (diversity)
:func:`modular_objective`              ``sum_{(h, s) in X} w[h, s]`` on (stage, state) pairs
:func:`set_function`                   any callable on masks (checked before use)
:func:`check_submodular`               random-trial test of monotonicity / diminishing returns
:func:`curvature`                      total curvature ``1 - min_x Delta(x|V-x) / F({x})``
:func:`bandit_mdp`                     "teleport" dynamics: action ``a`` moves to state ``a+1``
=====================================  ====================================================

Facts used [R]: coverage with nonnegative weights, facility location with nonnegative
similarities, and the Gaussian log-determinant ``0.5 log det(I + K_XX/sigma^2)`` with ``K``
positive semidefinite are normalised (``F(empty) = 0``), monotone and submodular (Krause &
Golovin 2014, "Submodular function maximization", survey; the log-det case is the information
gain of a Gaussian, monotone since conditioning reduces entropy and submodular since
information never hurts); a nonnegative modular function is monotone and modular.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mdps.tabular import TabularMDP
from mdps.validation import as_float_array, check_int, check_rng, check_real

__all__ = ["trap_instance", "SetFunction", "Coverage", "FacilityLocation", "LogDet", "Modular", "CallableSetFunction",
           "coverage_objective", "facility_location_objective", "logdet_objective", "modular_objective",
           "set_function", "SubmodularityReport", "check_submodular", "require_submodular", "curvature",
           "bandit_mdp", "element_index"]


class SetFunction:
    """Base class: subclasses define ``n_elements``, ``ground`` and ``values(masks)``."""

    n_elements: int
    ground: str

    def values(self, masks: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mask(self, x) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype == bool:
            if arr.shape != (self.n_elements,):
                raise ValueError(f"mask must have shape ({self.n_elements},), got {arr.shape}")
            return arr
        idx = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_elements):
            raise ValueError(f"elements must lie in [0, {self.n_elements}), got {idx.tolist()}")
        m = np.zeros(self.n_elements, dtype=bool)
        m[idx] = True
        return m

    def __call__(self, x) -> float:
        return float(self.values(self._mask(x)[None, :])[0])

    def gain(self, x: int, mask) -> float:
        """Marginal gain ``F(X + x) - F(X)``."""
        m = self._mask(mask)
        both = np.stack([m, m])
        both[1, int(x)] = True
        v = self.values(both)
        return float(v[1] - v[0])


def _ground(ground: str) -> str:
    if ground not in ("state", "stage_state"):
        raise ValueError(f"ground must be 'state' or 'stage_state', got {ground!r}")
    return ground


@dataclass(frozen=True, eq=False)
class Coverage(SetFunction):
    """Weighted coverage ``F(X) = sum_m w_m [exists s in X: footprints[s, m]]``."""

    footprints: np.ndarray  # (n, M) bool
    weights: np.ndarray  # (M,) >= 0
    ground: str = "state"

    @property
    def n_elements(self) -> int:
        return self.footprints.shape[0]

    def values(self, masks):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        counts = masks.astype(np.int64) @ self.footprints.astype(np.int64)
        covered = counts >= 1
        return covered @ self.weights


@dataclass(frozen=True, eq=False)
class FacilityLocation(SetFunction):
    """``F(X) = sum_m max_{s in X} W[s, m]`` (0 for the empty set), ``W >= 0``."""

    similarity: np.ndarray  # (n, M) >= 0
    ground: str = "state"

    @property
    def n_elements(self) -> int:
        return self.similarity.shape[0]

    def values(self, masks):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        best = np.where(masks[:, :, None], self.similarity[None, :, :], 0.0).max(axis=1)
        return best.sum(axis=1)


@dataclass(frozen=True, eq=False)
class LogDet(SetFunction):
    """``F(X) = 0.5 log det(I + K_XX / sigma^2)`` with ``K`` PSD: the information gain of a GP."""

    kernel: np.ndarray  # (n, n) PSD
    sigma: float = 1.0
    ground: str = "state"

    @property
    def n_elements(self) -> int:
        return self.kernel.shape[0]

    def values(self, masks):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool)).astype(float)
        # det(I + D K D / s^2) = det(I_X + K_XX / s^2) for the 0/1 diagonal D = diag(mask)
        M = masks[:, :, None] * self.kernel[None] * masks[:, None, :] / self.sigma ** 2
        M = M + np.eye(self.n_elements)[None]
        sign, logdet = np.linalg.slogdet(M)
        return 0.5 * logdet


@dataclass(frozen=True, eq=False)
class Modular(SetFunction):
    """``F(X) = sum_{x in X} w_x`` on (stage, state) pairs (element ``h * S + s``)."""

    weights: np.ndarray  # (H+1, S) >= 0
    ground: str = "stage_state"

    @property
    def n_elements(self) -> int:
        return self.weights.size

    def values(self, masks):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        return masks.astype(float) @ self.weights.ravel()


@dataclass(frozen=True, eq=False)
class CallableSetFunction(SetFunction):
    """A user set function ``fn(mask) -> float`` on boolean masks of length ``n_elements``."""

    fn: object
    size: int
    ground: str = "state"

    @property
    def n_elements(self) -> int:
        return self.size

    def values(self, masks):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        return np.array([float(self.fn(m.copy())) for m in masks])


def _nonneg_matrix(x, name, ndim):
    arr = as_float_array(x, name, ndim=ndim)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    if (arr < 0).any():
        idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(f"{name} must be >= 0 (monotone objectives need nonnegative data), got {name}{list(idx)} = {arr[idx]}")
    arr.setflags(write=False)
    return arr


def coverage_objective(footprints, weights=None, *, ground: str = "state") -> Coverage:
    """Weighted set cover: ``footprints`` ``(n, M)`` bool (targets each element covers), ``weights`` ``(M,)``."""
    fp = np.asarray(footprints)
    if fp.ndim != 2 or fp.shape[0] < 1 or fp.shape[1] < 1:
        raise ValueError(f"footprints must be a non-empty 2-d (n_elements, n_targets) array, got shape {fp.shape}")
    if fp.dtype != bool:
        if not np.isin(fp, (0, 1)).all():
            raise ValueError("footprints must be boolean (or 0/1)")
        fp = fp.astype(bool)
    fp = fp.copy()
    fp.setflags(write=False)
    w = np.ones(fp.shape[1]) if weights is None else _nonneg_matrix(weights, "weights", 1)
    if w.shape != (fp.shape[1],):
        raise ValueError(f"weights must have shape ({fp.shape[1]},) (one per target), got {w.shape}")
    return Coverage(fp, w, _ground(ground))


def facility_location_objective(similarity, *, ground: str = "state") -> FacilityLocation:
    """Facility location with nonnegative ``similarity`` ``(n, M)``."""
    return FacilityLocation(_nonneg_matrix(similarity, "similarity", 2), _ground(ground))


def logdet_objective(kernel, sigma: float = 1.0, *, ground: str = "state") -> LogDet:
    """Diversity ``0.5 log det(I + K_XX / sigma^2)``; ``kernel`` must be symmetric PSD."""
    K = as_float_array(kernel, "kernel", ndim=2)
    if K.shape[0] != K.shape[1] or not np.isfinite(K).all():
        raise ValueError(f"kernel must be a finite square matrix, got shape {K.shape}")
    if not np.allclose(K, K.T, atol=1e-10):
        raise ValueError("kernel must be symmetric")
    lam = np.linalg.eigvalsh(K).min()
    if lam < -1e-9 * max(1.0, np.abs(K).max()):
        raise ValueError(f"kernel must be positive semidefinite, smallest eigenvalue {lam:.3g}")
    sigma = check_real(sigma, "sigma", low=0.0, low_open=True)
    K.setflags(write=False)
    return LogDet(K, sigma, _ground(ground))


def modular_objective(weights) -> Modular:
    """Additive reward ``w[h, s] >= 0`` on (stage, state) pairs: the ordinary return ``sum_h w[h, s_h]``."""
    return Modular(_nonneg_matrix(weights, "weights", 2))


def set_function(fn, n_elements: int, *, ground: str = "state") -> CallableSetFunction:
    """Wrap a callable on boolean masks; algorithms that need submodularity test it first."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    return CallableSetFunction(fn, check_int(n_elements, "n_elements", low=1), _ground(ground))


def check_objective(f, name: str = "f") -> SetFunction:
    if not isinstance(f, SetFunction):
        raise TypeError(f"{name} must be a mdps.submodular set function (coverage_objective(...), "
                        f"set_function(...)), got {type(f).__name__}")
    return f


@dataclass(frozen=True)
class SubmodularityReport:
    """Result of :func:`check_submodular` (random trials: evidence, not a proof)."""

    n_trials: int
    f_empty: float
    monotone_violations: int
    diminishing_violations: int
    worst_monotone: float  # max F(X) - F(Y) over trials (<= tol when monotone)
    worst_diminishing: float  # max Delta(x|Y) - Delta(x|X) over trials
    tol: float
    witness: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (abs(self.f_empty) <= self.tol and self.monotone_violations == 0
                and self.diminishing_violations == 0)

    def __str__(self) -> str:
        return (f"{self.n_trials} random trials: F(empty) = {self.f_empty:.3g}, {self.monotone_violations} "
                f"monotonicity and {self.diminishing_violations} diminishing-returns violations "
                f"(worst {self.worst_monotone:.3g}, {self.worst_diminishing:.3g}; tol {self.tol:g})")


def check_submodular(f, n_trials: int = 1000, rng=0, *, tol: float = 1e-9) -> SubmodularityReport:
    r"""Test normalisation, monotonicity and diminishing returns on ``n_trials`` random triples.

    Each trial draws ``Y`` (each element with a random density ``p ~ U(0,1)``), ``X`` a random
    subset of ``Y`` and ``x`` outside ``Y`` (skipped when ``Y`` is everything), and tests
    ``F(X) <= F(Y)`` and ``Delta(x|X) >= Delta(x|Y)``, to ``tol`` scaled by ``max(1, |F|)``.
    It cannot be exhaustive: the report says how many trials it made.
    """
    f = check_objective(f)
    n_trials = check_int(n_trials, "n_trials", low=1)
    tol = check_real(tol, "tol", low=0.0)
    g = check_rng(rng)
    n = f.n_elements
    p = g.random((n_trials, 1))
    Y = g.random((n_trials, n)) < p
    X = Y & (g.random((n_trials, n)) < g.random((n_trials, 1)))
    x = np.full(n_trials, -1)
    for i in range(n_trials):
        free = np.flatnonzero(~Y[i])
        if free.size:
            x[i] = g.choice(free)
    has = x >= 0
    Xx, Yx = X.copy(), Y.copy()
    Xx[np.flatnonzero(has), x[has]] = True
    Yx[np.flatnonzero(has), x[has]] = True
    vals = f.values(np.concatenate([X, Y, Xx, Yx, np.zeros((1, n), bool)]))
    fX, fY, fXx, fYx = vals[:n_trials], vals[n_trials:2 * n_trials], vals[2 * n_trials:3 * n_trials], vals[3 * n_trials:4 * n_trials]
    scale = tol * np.maximum(1.0, np.abs(np.stack([fX, fY, fXx, fYx])).max(axis=0))
    mono = fX - fY
    dr = np.where(has, (fYx - fY) - (fXx - fX), -np.inf)
    bad_m, bad_d = mono > scale, dr > scale
    witness = {}
    if bad_m.any():
        i = int(np.argmax(mono))
        witness["monotone"] = {"X": np.flatnonzero(X[i]).tolist(), "Y": np.flatnonzero(Y[i]).tolist(),
                               "F(X)": float(fX[i]), "F(Y)": float(fY[i])}
    if bad_d.any():
        i = int(np.argmax(dr))
        witness["diminishing"] = {"X": np.flatnonzero(X[i]).tolist(), "Y": np.flatnonzero(Y[i]).tolist(),
                                  "x": int(x[i]), "gain_X": float(fXx[i] - fX[i]), "gain_Y": float(fYx[i] - fY[i])}
    return SubmodularityReport(n_trials, float(vals[-1]), int(bad_m.sum()), int(bad_d.sum()),
                               float(mono.max()), float(dr[has].max()) if has.any() else 0.0, tol, witness)


def require_submodular(f, name: str = "f", n_trials: int = 300, rng=0) -> SetFunction:
    """Raise ``ValueError`` naming ``name`` unless ``f`` passes :func:`check_submodular`.

    The built-in objectives are submodular by construction and skip the test."""
    f = check_objective(f, name)
    if isinstance(f, (Coverage, FacilityLocation, LogDet, Modular)):
        return f
    rep = check_submodular(f, n_trials, rng)
    if not rep.passed:
        raise ValueError(f"{name} must be a normalised monotone submodular set function; {rep}; "
                         f"witness {rep.witness}")
    return f


def curvature(f) -> float:
    r"""Total curvature ``c = 1 - min_{x: F({x}) > 0} Delta(x | V - x) / F({x})`` in ``[0, 1]``.

    ``c = 0`` for modular ``F``; elements with ``F({x}) = 0`` are left out (they have zero gain
    everywhere for monotone submodular ``F``). Exact: ``2n + 1`` evaluations.
    """
    f = check_objective(f)
    n = f.n_elements
    eye = np.eye(n, dtype=bool)
    full = np.ones((1, n), dtype=bool)
    vals = f.values(np.concatenate([eye, ~eye, full, np.zeros((1, n), bool)]))
    single, rest, fV = vals[:n] - vals[-1], vals[n:2 * n], vals[2 * n]
    ok = single > 1e-12 * max(1.0, abs(fV))
    if not ok.any():
        return 0.0
    ratio = (fV - rest[ok]) / single[ok]
    return float(np.clip(1.0 - ratio.min(), 0.0, 1.0))


def element_index(h: int, s: int, n_states: int, ground: str) -> int:
    """The ground-set element of state ``s`` visited at stage ``h``."""
    return s if ground == "state" else h * n_states + s


def bandit_mdp(n_arms: int, horizon: int, *, epsilon: float = 0.0) -> TabularMDP:
    r"""An "epsilon-bandit" SMDP (Prajapat et al. 2024, Definition 2, with uniform noise).

    States ``0 .. n_arms``: state 0 is the start (never re-entered when ``epsilon = 0``);
    action ``a`` moves to state ``a + 1`` with probability ``1 - epsilon`` and to a uniform
    state among ``1 .. n_arms`` otherwise, from any state. With ``epsilon = 0`` choosing
    actions is choosing ground-set elements, so the optimum is ``max_{|X| <= H} F({0} + X)``.
    """
    K = check_int(n_arms, "n_arms", low=1)
    H = check_int(horizon, "horizon", low=1)
    eps = check_real(epsilon, "epsilon", low=0.0, high=1.0)
    S = K + 1
    P = np.zeros((S, K, S))
    for a in range(K):
        P[:, a, 1:] = eps / K
        P[:, a, a + 1] += 1.0 - eps
    rho = np.zeros(S)
    rho[0] = 1.0
    return TabularMDP(P, np.zeros((S, K)), horizon=H, rho=rho)


def trap_instance(n_near: int, n_far: int, *, corridor: int = 1):
    r"""The failure witness of greedy submodular RL without the bandit structure (a deterministic
    "trap"; Prajapat et al. 2024 discuss such instances beside their hardness theorem), with its
    coverage objective: returns ``(mdp, f)``.

    States: ``0`` the start; the *near* branch ``1 .. n_near`` (weight 1 each) ending in an absorbing
    dead end (weight 0); the *far* branch: ``corridor`` states of weight 0, then ``n_far`` states of
    weight 1, the last absorbing. At the start action 0 enters the near branch and action 1 the far
    one; everywhere else both actions move on along the branch. Horizon ``H = corridor + n_far``;
    ``f`` counts the weight-1 states visited (``ground="state"``).

    Exact facts **[R]** (derivation: the dynamics are deterministic and only the first action
    matters): the far branch collects ``n_far`` and the near one ``min(n_near, H)``, so
    ``OPT = max(n_far, min(n_near, H))``; the greedy marginal-gain policy sees gain 1 on the near
    branch and 0 on the corridor and enters the near branch, so with ``n_near <= H`` its value is
    ``n_near`` and its ratio to the optimum is ``n_near / n_far`` for ``n_far >= n_near``: no
    constant factor survives as ``n_far`` grows.
    """
    k = check_int(n_near, "n_near", low=1)
    m = check_int(n_far, "n_far", low=1)
    c = check_int(corridor, "corridor", low=1)
    H = c + m
    near = list(range(1, k + 1))
    dead = k + 1
    far = list(range(k + 2, k + 2 + c + m))
    S = k + 2 + c + m
    P = np.zeros((S, 2, S))
    P[0, 0, near[0]] = 1.0
    P[0, 1, far[0]] = 1.0
    chain_near = near + [dead]
    for a in range(2):
        for u, v in zip(chain_near[:-1], chain_near[1:]):
            P[u, a, v] = 1.0
        P[dead, a, dead] = 1.0
        for u, v in zip(far[:-1], far[1:]):
            P[u, a, v] = 1.0
        P[far[-1], a, far[-1]] = 1.0
    weights = np.zeros(S)
    weights[near] = 1.0
    weights[far[c:]] = 1.0
    rho = np.zeros(S)
    rho[0] = 1.0
    mdp = TabularMDP(P, np.zeros((S, 2)), horizon=H, rho=rho)
    return mdp, coverage_objective(np.eye(S, dtype=bool), weights)
