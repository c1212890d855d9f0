r"""Submodular RL: exact optimum, greedy marginal-gain policy, and SubPO.

Prajapat, Mutný, Zeilinger, Krause, "Submodular Reinforcement Learning", ICLR 2024,
arXiv:2307.13372 [A]. An episode ``s_0, a_0, ..., a_{H-1}, s_H`` (``H`` actions) earns
``F(tau) = F({e(0, s_0), ..., e(H, s_H)})`` where ``e(h, s)`` is the ground-set element of
state ``s`` at stage ``h`` (:func:`mdps.submodular.element_index`). The induced decision
problem is Markov in the augmented state ``(h, s, visited set)``, not in ``(h, s)``.

*Exact optimum* [R, derivation]: with ``X`` the visited set,
``W_H(s, X) = F(X)``, ``W_h(s, X) = max_a sum_{s'} P_h(s'|s,a) W_{h+1}(s', X + e(h+1, s'))``,
``OPT = sum_s rho(s) W_0(s, {e(0, s)})``: dynamic programming on the augmented MDP, whose
optimal deterministic Markov policy is an optimal history-dependent policy of the original one
(the augmented state is a function of the history, and ``F(tau)`` a function of the final one).

*Greedy* [R]: ``a = argmax_a sum_{s'} P_h(s'|s,a) Delta(e(h+1, s') | X)``. On bandit SMDPs
(``mdps.submodular.bandit_mdp``, ``epsilon = 0``) this is the greedy algorithm for
``max_{|X| <= H} F``, so ``J_greedy >= (1 - e^{-c}) / c * OPT >= (1 - 1/e) OPT`` with total
curvature ``c`` (Nemhauser, Wolsey, Fisher 1978; Conforti, Cornuéjols 1984).

*SubPO* [A mechanism, R form]: tabular softmax ``pi_theta(a | s, h) = softmax(theta[h, s])``;
with gains ``g_j = Delta(e(j+1, s_{j+1}) | X_j)`` and ``F(tau) = F(X_0) + sum_j g_j``,
``grad J = E[ sum_i grad log pi(a_i | s_i, i) * (G_i - b_i) ]``, ``G_i = sum_{j >= i} g_j``,
because ``F(X_0) + sum_{j < i} g_j`` is a function of the history before ``a_i`` and
``E[grad log pi(a_i|.) | history] = 0``; the baseline ``b_i`` is the leave-one-out batch mean of
``G_i`` (independent of episode ``k``, so unbiased). ``grad_theta[h,s] log pi(a|s,h) = e_a - pi(.|s,h)``.
Update: ``theta <- theta + lr * ghat`` (plain ascent). The stationary-point guarantee used by the
checks (Hassani, Soltanolkotabi, Karbasi 2017, arXiv:1708.03949): on bandit SMDPs ``J`` is a
monotone DR-submodular function of the per-stage action distributions, so every stationary
point over the product of simplices has ``J >= OPT / 2``, and ``>= OPT / (1 + c)``.

*Linear softmax* [R, derivation]: ``pi_theta(a | s, h) = softmax_a(theta . phi(h, s, a))`` with user
features ``phi`` ``(H, S, A, d)`` (``policy="linear_softmax"``). The gradient identity above needs only
a differentiable policy, and ``grad_theta log pi(a|s,h) = phi(h,s,a) - sum_b pi(b|s,h) phi(h,s,b)``
(differentiate ``theta . phi(a) - log sum_b exp(theta . phi(b))``). One-hot features ``phi(h,s,a) =
e_{(h,s,a)}`` (``d = H S A``) give logits ``theta`` and the tabular score, so the class contains the
tabular one, and the compiled path reproduces a tabular run bit for bit (a test). The exact gradient
on enumerable instances (:func:`exact_gradient` with ``features``) is the chain rule through the
logits ``z = phi . theta``: ``dJ/dtheta = sum_{h,s,a} phi(h,s,a) dJ/dz(h,s,a)``.

*Compiled path and random stream*: for coverage, facility location and modular objectives the
episodes, marginal gains and (in :func:`subpo`) the whole update run in Numba
(:mod:`algorithms.submodular._kernels`); log det and user callables keep the NumPy path
(:func:`_rollout`, :func:`_estimate`, :func:`_estimate_linear`), which is also the reference the
tests compare the kernels with. Both draw ``2H + 1`` blocks of ``n`` uniforms per batch from the
same generator in the same order (start states, then per step actions and next states), so the
same ``rng`` gives the same episodes (except on events of probability about ``2^-53`` per draw,
stated in the kernel module) and gradients equal to round-off (the kernels telescope the gains,
the NumPy path differences full evaluations). ``subpo(..., n_runs=R)`` runs ``R`` independent runs
in parallel; run ``i`` draws from ``default_rng(SeedSequence(rng).spawn(R)[i])`` and equals
``subpo(..., rng=that child)`` bit for bit whatever ``R`` and the thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdps.submodular import (Coverage, FacilityLocation, Modular, SetFunction, check_objective, element_index,
                             require_submodular)
from mdps.validation import as_float_array, check_choice, check_int, check_mdp, check_real, check_rng

from algorithms.submodular import _kernels as _k

__all__ = ["submodular_optimum", "SubmodularOptimum", "greedy_policy", "GreedyPolicy", "history_policy_value",
           "markov_value", "exact_gradient", "subpo_gradient", "subpo", "SubPOResult", "SubPOBatch", "softmax_policy",
           "linear_softmax_policy"]

#: DP refuses more augmented states than this (tiny instances only)
MAX_AUGMENTED = 2_000_000
#: uniforms SubPO pre-draws per kernel call (bounds the extra memory to ~32 MiB)
_CHUNK_UNIFORMS = 1 << 22


def _setup(mdp, f, *, need_submodular=True):
    check_mdp(mdp, criterion="finite_horizon")
    f = require_submodular(f) if need_submodular else check_objective(f)
    S, H = mdp.n_states, mdp.horizon
    need = S if f.ground == "state" else (H + 1) * S
    if f.n_elements != need:
        raise ValueError(f"f has {f.n_elements} elements but the mdp needs {need} "
                         f"(ground={f.ground!r}, S={S}, H={H})")
    d = mdp.to_dense() if mdp.is_sparse else mdp
    if d.stage_dependent:
        P = np.stack([np.asarray(d.P_stage(h)) for h in range(H)])  # (H, S, A, S)
    else:  # a read-only view, no copy: the stationary kernel repeated over the stages
        P = np.broadcast_to(np.asarray(d.P_stage(0)), (H,) + np.asarray(d.P_stage(0)).shape)
    return f, P


class _Memo:
    """F on bitmask-encoded sets, cached."""

    def __init__(self, f: SetFunction):
        self.f, self.cache = f, {}

    def __call__(self, mask: int) -> float:
        v = self.cache.get(mask)
        if v is None:
            arr = np.array([(mask >> i) & 1 for i in range(self.f.n_elements)], dtype=bool)
            v = self.cache[mask] = float(self.f.values(arr[None])[0])
        return v


@dataclass(frozen=True)
class SubmodularOptimum:
    value: float  # OPT = max over history-dependent policies of E[F(tau)]
    policy: dict  # (h, s, visited bitmask) -> optimal action
    n_augmented: int  # augmented states solved


def submodular_optimum(mdp, f) -> SubmodularOptimum:
    """Exact optimum by DP over (stage, state, visited set); see the module docstring."""
    f, P = _setup(mdp, f)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    F = _Memo(f)
    memo, pol = {}, {}

    def W(h, s, X):
        key = (h, s, X)
        v = memo.get(key)
        if v is not None:
            return v
        if len(memo) > MAX_AUGMENTED:
            raise ValueError(f"mdp too large for the exact DP (over {MAX_AUGMENTED} augmented states)")
        if h == H:
            v = F(X)
        else:
            best, arg = -np.inf, 0
            for a in range(A):
                q = 0.0
                for s2 in np.flatnonzero(P[h, s, a] > 0):
                    q += P[h, s, a, s2] * W(h + 1, int(s2), X | (1 << element_index(h + 1, int(s2), S, f.ground)))
                if q > best + 1e-12:
                    best, arg = q, a
            v, pol[key] = best, arg
        memo[key] = v
        return v

    rho = mdp.rho
    val = sum(rho[s] * W(0, s, 1 << element_index(0, s, S, f.ground)) for s in np.flatnonzero(rho > 0))
    return SubmodularOptimum(float(val), pol, len(memo))


def history_policy_value(mdp, f, policy) -> float:
    """Exact ``E[F(tau)]`` of ``policy(h, s, visited_bitmask) -> probabilities (A,)``."""
    if not callable(policy):
        raise TypeError(f"policy must be callable (h, s, visited) -> action probabilities, got {type(policy).__name__}")
    f, P = _setup(mdp, f, need_submodular=False)
    H, S = mdp.horizon, mdp.n_states
    F = _Memo(f)
    memo = {}

    def W(h, s, X):
        key = (h, s, X)
        if key in memo:
            return memo[key]
        if h == H:
            v = F(X)
        else:
            p = np.asarray(policy(h, s, X), dtype=float)
            v = 0.0
            for a in np.flatnonzero(p > 0):
                for s2 in np.flatnonzero(P[h, s, a] > 0):
                    v += p[a] * P[h, s, a, s2] * W(h + 1, int(s2), X | (1 << element_index(h + 1, int(s2), S, f.ground)))
        memo[key] = v
        return v

    rho = mdp.rho
    return float(sum(rho[s] * W(0, s, 1 << element_index(0, s, S, f.ground)) for s in np.flatnonzero(rho > 0)))


def markov_value(mdp, f, pi) -> float:
    """Exact ``E[F(tau)]`` of a time-indexed Markov policy ``pi`` of shape ``(H, S, A)``."""
    pi = np.asarray(pi, dtype=float)
    if pi.shape != (mdp.horizon, mdp.n_states, mdp.n_actions):
        raise ValueError(f"pi must have shape (H, S, A) = {(mdp.horizon, mdp.n_states, mdp.n_actions)}, got {pi.shape}")
    return history_policy_value(mdp, f, lambda h, s, X: pi[h, s])


@dataclass(frozen=True, eq=False)
class GreedyPolicy:
    """``argmax_a E[Delta(e(h+1, s') | X)]`` (lowest index on ties), a policy of (h, s, X)."""

    f: SetFunction
    P: np.ndarray  # (H, S, A, S)

    def action(self, h: int, s: int, X: int) -> int:
        S = self.P.shape[1]
        F = self.f
        base = np.array([(X >> i) & 1 for i in range(F.n_elements)], dtype=bool)
        cand = np.repeat(base[None], S, axis=0)
        for s2 in range(S):
            cand[s2, element_index(h + 1, s2, S, F.ground)] = True
        gains = F.values(cand) - F.values(base[None])[0]
        expected = self.P[h, s] @ gains  # (A,)
        return int(np.argmax(expected >= expected.max() - 1e-12))

    def __call__(self, h: int, s: int, X: int) -> np.ndarray:
        p = np.zeros(self.P.shape[2])
        p[self.action(h, s, X)] = 1.0
        return p


def greedy_policy(mdp, f) -> GreedyPolicy:
    """The greedy marginal-gain policy (history dependent through the visited set)."""
    f, P = _setup(mdp, f)
    return GreedyPolicy(f, P)


def softmax_policy(theta) -> np.ndarray:
    """``softmax(theta)`` over the last axis (``e = exp(theta - max)``, ``e / sum e``)."""
    z = theta - theta.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def linear_softmax_policy(features, theta) -> np.ndarray:
    """``pi(a | s, h) = softmax_a(theta . phi(h, s, a))``, shape ``(H, S, A)``; ``features`` ``(H, S, A, d)``."""
    return softmax_policy(np.asarray(features) @ np.asarray(theta))


def _check_theta(mdp, theta, features=None):
    if features is not None:
        shape = (features.shape[3],)
        what = f"(d,) = ({shape[0]},) for linear features"
    else:
        shape = (mdp.horizon, mdp.n_states, mdp.n_actions)
        what = f"(H, S, A) = {shape}"
    theta = np.asarray(theta, dtype=float)
    if theta.shape != shape:
        raise ValueError(f"theta must be a finite array of shape {what}, got shape {theta.shape}")
    bad = np.argwhere(~np.isfinite(theta))
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        raise ValueError(f"theta must be a finite array of shape {what}, got theta{list(idx)} = {theta[idx]}")
    return theta


POLICIES = ("tabular", "linear_softmax")


def _check_features(mdp, policy, features):
    """``None`` (tabular) or the validated ``(H, S, A, d)`` float64 features (linear softmax)."""
    policy = check_choice(policy, "policy", POLICIES)
    if policy == "tabular":
        if features is not None:
            raise ValueError("features are only used with policy='linear_softmax', got policy='tabular'")
        return None
    if features is None:
        raise ValueError("policy='linear_softmax' needs features of shape (H, S, A, d), got features=None")
    phi = as_float_array(features, "features", ndim=4)  # names the first non-finite entry
    want = (mdp.horizon, mdp.n_states, mdp.n_actions)
    if phi.shape[:3] != want or phi.shape[3] < 1:
        raise ValueError(f"features must have shape (H, S, A, d) = ({want[0]}, {want[1]}, {want[2]}, d >= 1), "
                         f"got {phi.shape}")
    return phi


def exact_gradient(mdp, f, theta, *, features=None) -> tuple[float, np.ndarray]:
    """``(J, grad J)`` for the softmax policy by enumerating every trajectory (tiny instances).

    Tabular (``features=None``): ``theta`` ``(H, S, A)`` are the logits. Linear softmax
    (``features`` ``(H, S, A, d)``, ``theta`` ``(d,)``): the logits are ``z = features . theta``
    and, by the chain rule, ``dJ/dtheta_j = sum_{h,s,a} features[h, s, a, j] dJ/dz[h, s, a]``, with
    ``dJ/dz`` the tabular gradient at ``z`` (computed by the same enumeration; this is independent
    of the score form ``phi(a) - E_pi phi`` that the estimator uses)."""
    f, P = _setup(mdp, f, need_submodular=False)
    if features is not None:
        phi = _check_features(mdp, "linear_softmax", features)
        theta = _check_theta(mdp, theta, phi)
        J, gz = exact_gradient(mdp, f, phi @ theta)
        return J, np.einsum("hsaj,hsa->j", phi, gz)
    theta = _check_theta(mdp, theta)
    H, S, A = theta.shape
    if (S * A) ** H > 2_000_000:
        raise ValueError(f"exact_gradient enumerates (S A)^H = {(S * A) ** H} trajectories; too many")
    pi = softmax_policy(theta)
    F = _Memo(f)
    J, grad = 0.0, np.zeros_like(theta)

    def rec(h, s, X, prob, score):
        nonlocal J
        if h == H:
            v = F(X)
            J += prob * v
            for (hh, ss, aa) in score:
                grad[hh, ss] -= prob * v * pi[hh, ss]
                grad[hh, ss, aa] += prob * v
            return
        for a in range(A):
            for s2 in np.flatnonzero(P[h, s, a] > 0):
                rec(h + 1, int(s2), X | (1 << element_index(h + 1, int(s2), S, f.ground)),
                    prob * pi[h, s, a] * P[h, s, a, s2], score + [(h, s, a)])

    for s in np.flatnonzero(mdp.rho > 0):
        rec(0, int(s), 1 << element_index(0, int(s), S, f.ground), mdp.rho[s], [])
    return float(J), grad


def _rollout(P, rho, pi, f, n, g):
    """``n`` episodes: states (n, H+1), actions (n, H), gains (n, H), F(tau) (n,)."""
    H, S, A, _ = P.shape
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    gains = np.empty((n, H))
    s = np.minimum((g.random(n)[:, None] > np.cumsum(rho)[None]).sum(axis=1), S - 1)
    states[:, 0] = s
    mask = np.zeros((n, f.n_elements), dtype=bool)
    rows = np.arange(n)
    mask[rows, [element_index(0, int(x), S, f.ground) for x in s]] = True
    value = f.values(mask)
    F0 = value.copy()
    for h in range(H):
        cdf = np.cumsum(pi[h, s], axis=1)
        a = np.minimum((g.random(n)[:, None] > cdf).sum(axis=1), A - 1)
        cdf2 = np.cumsum(P[h, s, a], axis=1)
        s = np.minimum((g.random(n)[:, None] > cdf2).sum(axis=1), S - 1)
        mask[rows, s if f.ground == "state" else (h + 1) * S + s] = True
        new = f.values(mask)
        gains[:, h] = new - value
        value = new
        actions[:, h] = a
        states[:, h + 1] = s
    return states, actions, gains, value, F0


def _estimate(pi, states, actions, gains, baseline):
    """The SubPO estimator from sampled episodes (mean over the batch)."""
    n, H = actions.shape
    G = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]  # reward-to-go of marginal gains
    if baseline == "loo" and n > 1:
        G = G - (G.sum(axis=0, keepdims=True) - G) / (n - 1)
    grad = np.zeros_like(pi)
    for h in range(H):
        s, a = states[:, h], actions[:, h]
        score = -pi[h, s]  # (n, A)
        score[np.arange(n), a] += 1.0
        np.add.at(grad[h], s, score * G[:, h:h + 1])
    return grad / n


def _estimate_linear(pi, features, states, actions, gains, baseline):
    """The SubPO estimator for the linear softmax class (mean over the batch), shape ``(d,)``.

    Score ``grad_theta log pi(a | s, h) = phi(h, s, a) - sum_b pi(b | s, h) phi(h, s, b)``."""
    n, H = actions.shape
    G = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]
    if baseline == "loo" and n > 1:
        G = G - (G.sum(axis=0, keepdims=True) - G) / (n - 1)
    grad = np.zeros(features.shape[3])
    for h in range(H):
        s, a = states[:, h], actions[:, h]
        score = features[h, s, a] - np.einsum("nb,nbj->nj", pi[h, s], features[h, s])
        grad += (score * G[:, h:h + 1]).sum(axis=0)
    return grad / n


# ---------------------------------------------------------------- the compiled path

def _objective_arrays(f):
    """``(kind, table, weights)`` for the objectives the kernels evaluate, else ``None`` (log det,
    user callables: the Python path)."""
    if isinstance(f, Coverage):
        return _k.COVERAGE, np.ascontiguousarray(f.footprints, dtype=np.float64), np.ascontiguousarray(f.weights, dtype=np.float64)
    if isinstance(f, FacilityLocation):
        return _k.FACILITY, np.ascontiguousarray(f.similarity, dtype=np.float64), np.zeros(1)
    if isinstance(f, Modular):
        return _k.MODULAR, np.ascontiguousarray(f.weights.reshape(-1, 1), dtype=np.float64), np.zeros(1)
    return None


def _model_arrays(mdp, P):
    """CSR running sums of the transition rows ``(hp * S + s) * A + a`` over their positive entries
    (one stage when ``P`` is stationary), and the dense running sums of ``rho``."""
    stages = P.shape[0] if mdp.stage_dependent else 1
    M = P[:stages].reshape(-1, P.shape[3])
    pos = M > 0
    indptr = np.zeros(M.shape[0] + 1, dtype=np.int64)
    np.cumsum(pos.sum(axis=1), out=indptr[1:])
    indices = np.nonzero(pos)[1].astype(np.int64)
    # running sums of the dense rows at their positive entries: np.cumsum adds left to right and the
    # zeros add nothing, so these are the Python path's running sums and the positive-entry sums alike
    cdf = np.cumsum(M, axis=1)[pos]
    return indptr, indices, cdf, stages, np.cumsum(np.asarray(mdp.rho, dtype=np.float64))


def _sample(mdp, P, f, pi, n, g):
    """``n`` episodes of ``pi``: compiled when ``f`` has an array form, else :func:`_rollout`.

    Both consume ``g`` identically (``2H + 1`` blocks of ``n`` uniforms), so the episodes agree
    (module :mod:`algorithms.submodular._kernels` states the measure-zero exception)."""
    arrays = _objective_arrays(f)
    if arrays is None:
        return _rollout(P, mdp.rho, pi, f, n, g)
    H = mdp.horizon
    u = g.random((2 * H + 1, n))
    indptr, indices, cdf, stages, rho_cdf = _model_arrays(mdp, P)
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    gains = np.empty((n, H))
    F0, F = np.empty(n), np.empty(n)
    _k.episodes(indptr, indices, cdf, stages, rho_cdf, np.ascontiguousarray(pi), u, arrays[0], arrays[1], arrays[2],
                f.ground == "stage_state", states, actions, gains, F0, F)
    return states, actions, gains, F, F0


def subpo_gradient(mdp, f, theta, n_episodes: int, rng=0, *, baseline: str = "loo", policy: str = "tabular",
                   features=None) -> np.ndarray:
    """One SubPO gradient estimate from ``n_episodes`` sampled episodes (unbiased).

    ``policy="tabular"``: ``theta`` ``(H, S, A)``, returns ``(H, S, A)``. ``policy="linear_softmax"``:
    ``pi(a | s, h) = softmax_a(theta . features[h, s, a])``, ``theta`` ``(d,)``, returns ``(d,)``.
    Episodes come from the compiled sampler for coverage, facility location and modular objectives
    (the Python path for log det and user callables), the same episodes for the same ``rng``."""
    f, P = _setup(mdp, f, need_submodular=False)
    phi = _check_features(mdp, policy, features)
    theta = _check_theta(mdp, theta, phi)
    n = check_int(n_episodes, "n_episodes", low=1)
    baseline = check_choice(baseline, "baseline", ("loo", "none"))
    pi = softmax_policy(theta if phi is None else phi @ theta)
    states, actions, gains, _, _ = _sample(mdp, P, f, pi, n, check_rng(rng))
    if phi is None:
        return _estimate(pi, states, actions, gains, baseline)
    return _estimate_linear(pi, phi, states, actions, gains, baseline)


@dataclass(frozen=True)
class SubPOResult:
    theta: np.ndarray  # final parameters: (H, S, A) tabular, (d,) linear softmax
    policy: np.ndarray  # the final policy pi(a | s, h), (H, S, A)
    sampled_returns: np.ndarray  # (n_iter,) batch mean of F(tau) per iteration (the algorithm's own estimate)


@dataclass(frozen=True, eq=False)
class SubPOBatch:
    """``n_runs`` independent SubPO runs; run ``i`` used the child ``SeedSequence(rng).spawn(n_runs)[i]``."""

    theta: np.ndarray  # (n_runs, H, S, A) or (n_runs, d)
    policy: np.ndarray  # (n_runs, H, S, A)
    sampled_returns: np.ndarray  # (n_runs, n_iter)
    seeds: tuple  # the child SeedSequences

    def run(self, i: int) -> SubPOResult:
        return SubPOResult(self.theta[i], self.policy[i], self.sampled_returns[i])


def _root_seed(rng) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2 ** 63)))
    if rng is None or isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise TypeError(f"rng must be a non-negative int, a SeedSequence or a numpy Generator when n_runs is "
                        f"given, got {rng!r}")
    return np.random.SeedSequence(int(rng))


def subpo(mdp, f, n_iter: int = 200, *, batch_size: int = 64, lr: float = 0.5, baseline: str = "loo",
          state_independent: bool = False, theta0=None, policy: str = "tabular", features=None, n_runs=None,
          rng=0):
    r"""SubPO: ``theta <- theta + lr * ghat`` with the unbiased marginal-gain estimator (module docstring).

    Parameters
    ----------
    policy : {"tabular", "linear_softmax"}
        Tabular softmax ``theta`` ``(H, S, A)``, or ``pi(a | s, h) proportional to exp(theta . phi(h, s, a))``
        with ``features`` ``phi`` ``(H, S, A, d)`` and ``theta`` ``(d,)`` (zeros by default). One-hot
        features (``d = H S A``) reproduce the tabular run bit for bit.
    theta0 : array, optional
        Initial parameters ``(H, S, A)`` (tabular) or ``(d,)`` (linear), shared by every run of a batch;
        zeros by default.
    state_independent : bool
        Tabular only: ties ``theta[h, s] = phi[h]`` for all ``s`` (the per-stage action
        distributions ``pi^h(a)`` of the paper's bandit-SMDP result): the gradient in ``phi[h]`` is the
        sum over ``s`` of the gradient in ``theta[h, s]``, applied to every ``s``.
    n_runs : int, optional
        A batch of independent runs, in parallel (one per thread); returns a :class:`SubPOBatch`.
        Run ``i`` uses ``numpy.random.default_rng(SeedSequence(rng).spawn(n_runs)[i])``, so it equals
        ``subpo(..., rng=that child)`` bit for bit whatever ``n_runs`` and the thread count.
    rng : int, SeedSequence or Generator
        ``n_runs=None``: normalised by :func:`mdps.validation.check_rng`; each iteration draws
        ``2H + 1`` blocks of ``batch_size`` uniforms from it (the Python path's order).

    Coverage, facility location and modular objectives run in the compiled kernel
    (:func:`algorithms.submodular._kernels.subpo_iterations`); log det and user callables on the
    Python path (:func:`_rollout`, :func:`_estimate`; the runs of a batch one after the other), same
    stream, same result to round-off.

    Returns
    -------
    SubPOResult (``n_runs=None``) or SubPOBatch.

    Examples
    --------
    >>> import numpy as np, mdps
    >>> mdp = mdps.bandit_mdp(3, horizon=2)
    >>> f = mdps.coverage_objective(np.eye(4, dtype=bool))
    >>> one = subpo(mdp, f, n_iter=5, batch_size=8, rng=np.random.SeedSequence(0).spawn(3)[1])
    >>> batch = subpo(mdp, f, n_iter=5, batch_size=8, n_runs=3, rng=0)
    >>> batch.theta.shape, bool((batch.theta[1] == one.theta).all())
    ((3, 2, 4, 3), True)
    """
    f, P = _setup(mdp, f)
    n_iter = check_int(n_iter, "n_iter", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    baseline = check_choice(baseline, "baseline", ("loo", "none"))
    phi = _check_features(mdp, policy, features)
    if not isinstance(state_independent, (bool, np.bool_)):
        raise TypeError(f"state_independent must be a bool, got {state_independent!r}")
    if state_independent and phi is not None:
        raise ValueError("state_independent=True ties tabular logits; it cannot be used with policy='linear_softmax'")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    if theta0 is None:
        theta = np.zeros((H, S, A) if phi is None else phi.shape[3])
    else:
        theta = _check_theta(mdp, theta0, phi).copy()
    if state_independent:
        theta = np.repeat(theta.mean(axis=1, keepdims=True), S, axis=1)
    if n_runs is None:
        children = None
        gens = [check_rng(rng)]
    else:
        children = tuple(_root_seed(rng).spawn(check_int(n_runs, "n_runs", low=1)))
        gens = [np.random.default_rng(c) for c in children]
    R = len(gens)
    thetas = np.repeat(theta.reshape(1, -1), R, axis=0)
    returns = np.empty((R, n_iter))
    arrays = _objective_arrays(f)
    if arrays is not None:
        indptr, indices, cdf, stages, rho_cdf = _model_arrays(mdp, P)
        feats = np.zeros((0, 0, 0, 0)) if phi is None else phi
        chunk = max(1, min(n_iter, _CHUNK_UNIFORMS // (R * (2 * H + 1) * batch_size)))
        for it in range(0, n_iter, chunk):
            T = min(chunk, n_iter - it)  # g.random((T, 2H+1, n)) draws what T calls of g.random((2H+1, n)) draw
            u = np.stack([g.random((T, 2 * H + 1, batch_size)) for g in gens])
            _k.subpo_iterations(thetas, feats, u, indptr, indices, cdf, stages, rho_cdf, A, arrays[0], arrays[1],
                                arrays[2], f.ground == "stage_state", lr, baseline == "loo", bool(state_independent),
                                it, returns)
    else:
        for r in range(R):
            thetas[r], returns[r] = _subpo_python(mdp, P, f, thetas[r], phi, n_iter, batch_size, lr, baseline,
                                                  bool(state_independent), gens[r])
    thetas = thetas.reshape((R,) + theta.shape)
    policies = np.stack([softmax_policy(th if phi is None else phi @ th) for th in thetas])
    if n_runs is None:
        return SubPOResult(thetas[0], policies[0], returns[0])
    return SubPOBatch(thetas, policies, returns, children)


def _subpo_python(mdp, P, f, theta, phi, n_iter, batch_size, lr, baseline, tied, g):
    """The reference loop (NumPy): ``(theta, returns)`` after ``n_iter`` iterations from flat ``theta``."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    theta = theta.reshape((H, S, A) if phi is None else (phi.shape[3],))
    returns = np.empty(n_iter)
    for it in range(n_iter):
        pi = softmax_policy(theta if phi is None else phi @ theta)
        states, actions, gains, value, _ = _rollout(P, mdp.rho, pi, f, batch_size, g)
        returns[it] = value.mean()
        if phi is None:
            step = _estimate(pi, states, actions, gains, baseline)
        else:
            step = _estimate_linear(pi, phi, states, actions, gains, baseline)
        if tied:
            step = np.repeat(step.sum(axis=1, keepdims=True), S, axis=1)
        theta = theta + lr * step
    return theta.ravel(), returns
