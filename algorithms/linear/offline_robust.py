r"""R2PVI: robust regularised pessimistic value iteration from an offline dataset (TV, KL, chi-square).

Tang, Liu & Xu (2025), *Robust Offline Reinforcement Learning with Linearly Structured
f-Divergence Regularization*, ICML 2025 (PMLR 267:58842-58882), arXiv:2411.18612,
Algorithm 1 (meta) with Algorithm 2's per-divergence estimates [V code; A paper].

Setting
-------
A d-rectangular linear robust regularised MDP (module docstring of :mod:`mdps.robust_regularized`):
features :math:`\phi(s,a) \in \Delta_d`, known reward parameters :math:`\theta_h`, nominal factors
:math:`\mu^0_{h,i}` unknown; the target is the robust-regularised optimum :math:`V^{*,\lambda}`. Data:
:math:`N` trajectories of a behaviour policy in the nominal environment,
:math:`\{(s^\tau_h, a^\tau_h, r^\tau_h, s^\tau_{h+1})\}` (:class:`OfflineData`).

Update (stages :math:`h = H-1, \dots, 0`, :math:`\hat V_H = 0`)
------------------------------------------------------------------
.. math::

    \Lambda_h = \sum_\tau \phi^\tau_h \phi^{\tau\top}_h + \lambda_{ridge} I, \qquad
    \hat E_h[g] = \Lambda_h^{-1} \sum_\tau \phi^\tau_h\, g(\hat V_{h+1}(s^\tau_{h+1})) \in \mathbb R^d,

* TV: :math:`\hat w_h = \hat E_h[\min(\hat V_{h+1}, \min_s \hat V_{h+1}(s) + \lambda)]`;
* KL: :math:`\hat w_h = m - \lambda \log \hat E_h[e^{-(\hat V_{h+1} - m)/\lambda}]`,
  :math:`m = \min_s \hat V_{h+1}(s)`, the regression clamped to :math:`[e^{-\mathrm{sp}(\hat V_{h+1})/\lambda}, 1]`
  (the code's clamp at :math:`e^{-H/\lambda}`, made exact for the shifted target);
* chi-square: :math:`\hat w_{h,i} = \max_{\alpha} \{ \hat E_h[\hat V_{h+1}\wedge\alpha]_i - (\hat E_h[(\hat V_{h+1}\wedge\alpha)^2]_i
  - \hat E_h[\hat V_{h+1}\wedge\alpha]_i^2)/(4\lambda) \}` over :math:`\alpha \in [\min \hat V_{h+1}, \max \hat V_{h+1}]`;
  between consecutive values of :math:`\hat V_{h+1}` the objective is a quadratic in :math:`\alpha`, so the
  maximum is exact (endpoints and vertex of each piece);

.. math::

    \Gamma_h(s,a) = \beta \sum_i \phi_i(s,a) \sqrt{(\Lambda_h^{-1})_{ii}}, \quad
    \hat Q_h = \mathrm{clip}(\langle\phi, \theta_h + \hat w_h\rangle - \Gamma_h, 0, H - h), \quad
    \hat\pi_h = \arg\max_a \hat Q_h, \quad \hat V_h = \max_a \hat Q_h .

Guarantee [A]: with the theory's :math:`\beta` and on the good event, :math:`\hat Q_h` is pessimistic and
:math:`\mathrm{SubOpt}(\hat\pi) = V^{*,\lambda}_1(s_1) - V^{\hat\pi,\lambda}_1(s_1) \le 2\beta \sum_h \sup_{P} E^{\pi^*,P}
[\sum_i \phi_i \sqrt{(\Lambda_h^{-1})_{ii}}]` (supremum over robustly admissible transitions; the paper's main
upper bound, exact constants [U]), which under uniform coverage is :math:`\tilde O(\mathrm{poly}(d, H)/\sqrt N)`.

Departures (marked)
-------------------
* The chi-square dual is **maximised** over :math:`\alpha` (the released code minimises it over
  :math:`[0, H]`, an apparent direction slip: the cvxpy primal agrees with the maximum).
* TV's :math:`V_{\min}` is the minimum of :math:`\hat V_{h+1}` over **all** states (the finite state space
  makes it computable), not over observed next states as in the code.
* The penalty is the paper-style :math:`\beta\sum_i\phi_i\sqrt{(\Lambda^{-1})_{ii}}`; the code uses
  :math:`\beta\sqrt{\sum_i\phi_i^2(\Lambda^{-1})_{ii}}` [U which the theorem uses].
* Plain NumPy (no Numba): a stage costs a ``d x d`` inverse and ``O(N d)`` products (chi-square:
  ``O(S N d)``), far below the exact evaluation a check runs after it.
* Without a LinearMDP (features only) and without ``theta``, :math:`\theta_h` is estimated by ridge
  regression of the observed rewards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from mdps import validation as V
from mdps.linear_mdp import LinearMDP
from mdps.robust_regularized import PENALTY_KINDS

__all__ = ["OfflineData", "as_offline_data", "collect_offline_data", "R2PVISettings", "R2PVIResult", "r2pvi"]


@dataclass(frozen=True)
class OfflineData:
    """An offline dataset of ``N`` samples per stage, arrays of shape ``(H, N)``: ``s[h, n]``,
    ``a[h, n]`` (int), ``r[h, n]`` (float), ``s_next[h, n]`` (int). The samples of one stage need
    not come from the same trajectories as the next stage's (``collect_offline_data`` does)."""

    s: np.ndarray
    a: np.ndarray
    r: np.ndarray
    s_next: np.ndarray

    @property
    def horizon(self) -> int:
        return int(self.s.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.s.shape[1])


_FIELDS = ("s", "a", "r", "s_next")


def as_offline_data(data, *, n_states: int, n_actions: int, horizon: int | None = None) -> OfflineData:
    """Validate ``data`` (an :class:`OfflineData` or a mapping with the keys ``s, a, r, s_next``)
    against a state and action space; raises naming the missing or ill-shaped field."""
    if isinstance(data, OfflineData):
        raw = {f.name: getattr(data, f.name) for f in fields(OfflineData)}
    elif isinstance(data, Mapping):
        missing = [k for k in _FIELDS if k not in data]
        if missing:
            raise ValueError(f"data is missing the field(s) {', '.join(repr(k) for k in missing)}: an offline dataset "
                             f"needs {', '.join(_FIELDS)}, each of shape (H, N); got keys {sorted(map(str, data))}")
        raw = {k: data[k] for k in _FIELDS}
    else:
        raise TypeError(f"data must be an OfflineData or a mapping with keys {_FIELDS}, got {type(data).__name__}")
    out = {}
    for k in _FIELDS:
        arr = V.as_float_array(raw[k], f"data[{k!r}]", ndim=2)
        out[k] = arr
    shape = out["s"].shape
    for k in _FIELDS:
        if out[k].shape != shape:
            raise ValueError(f"data[{k!r}] has shape {out[k].shape}, expected {shape} (the shape of data['s'], (H, N))")
    if shape[1] < 1:
        raise ValueError(f"data['s'] has shape {shape}: at least one sample per stage is needed")
    if horizon is not None and shape[0] != horizon:
        raise ValueError(f"data['s'] has {shape[0]} stages, expected the horizon {horizon}")
    for k, n in (("s", n_states), ("a", n_actions), ("s_next", n_states)):
        arr = out[k]
        bad = (arr != np.round(arr)) | (arr < 0) | (arr >= n)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"data[{k!r}][{idx[0]}, {idx[1]}] is {float(arr[idx]):g}, expected an integer in [0, {n})")
        out[k] = np.ascontiguousarray(arr.astype(np.int64))
    for v in out.values():
        v.setflags(write=False)
    return OfflineData(**out)


def collect_offline_data(lmdp: LinearMDP, n_episodes: int, *, behavior=None, rng=None) -> OfflineData:
    """``n_episodes`` trajectories of a behaviour policy in ``lmdp`` (from ``lmdp.rho``), as an
    :class:`OfflineData` with ``N = n_episodes``. ``behavior``: stochastic ``(S, A)`` or ``(H, S, A)``
    (default: uniform over actions)."""
    if not isinstance(lmdp, LinearMDP):
        raise TypeError(f"lmdp must be an mdps.LinearMDP, got {type(lmdp).__name__}")
    n = V.check_int(n_episodes, "n_episodes", low=1)
    gen = V.check_rng(rng)
    H, S, A = lmdp.horizon, lmdp.n_states, lmdp.n_actions
    if behavior is None:
        pi = np.full((H, S, A), 1.0 / A)
    else:
        pi = V.check_policy(behavior, S, A, horizon=H, name="behavior", kind="stochastic")
        pi = np.broadcast_to(pi, (H, S, A))
    P, R = lmdp.P, lmdp.R

    def draw(prob):  # one categorical draw per row of prob (n, k)
        idx = (gen.random(prob.shape[0])[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
        return np.minimum(idx, prob.shape[1] - 1)

    s = draw(np.broadcast_to(lmdp.rho, (n, S)))
    out = {k: np.empty((H, n), dtype=np.int64) for k in ("s", "a", "s_next")}
    r = np.empty((H, n))
    for h in range(H):
        a = draw(pi[h, s])
        s2 = draw(P[h, s, a])
        out["s"][h], out["a"][h], out["s_next"][h], r[h] = s, a, s2, R[h, s, a]
        s = s2
    return as_offline_data({**out, "r": r}, n_states=S, n_actions=A, horizon=H)


@dataclass(frozen=True)
class R2PVISettings:
    kind: str
    lam: float
    beta: float
    ridge: float
    n_samples: int
    theta_known: bool


@dataclass(frozen=True)
class R2PVIResult:
    """R2PVI's output.

    Attributes
    ----------
    policy : ndarray (H, S) int
        The greedy policy of ``Q_hat`` (first maximiser).
    V_hat : ndarray (H, S)
        The pessimistic value estimate.
    Q_hat : ndarray (H, S, A)
    w_hat : ndarray (H, d)
        The estimated penalised worst cases per factor.
    bonus : ndarray (H, S, A)
        The pessimism penalty ``Gamma_h(s, a)``.
    settings : R2PVISettings
    """

    policy: np.ndarray
    V_hat: np.ndarray
    Q_hat: np.ndarray
    w_hat: np.ndarray
    bonus: np.ndarray
    settings: R2PVISettings


def _chi2_estimate(X: np.ndarray, Linv: np.ndarray, y: np.ndarray, vn: np.ndarray, lam: float) -> np.ndarray:
    """Exact max over alpha of the regression chi-square dual, per coordinate (module docstring)."""
    u = np.unique(vn)
    best = np.full(X.shape[1], -np.inf)
    for k in range(u.size):
        lo_end, hi_end = u[k], u[min(k + 1, u.size - 1)]
        low = y <= lo_end
        a1 = Linv @ (X.T @ np.where(low, y, 0.0))
        a2 = Linv @ (X.T @ np.where(low, y * y, 0.0))
        b1 = Linv @ (X.T @ (~low).astype(float))
        c2 = (b1 * b1 - b1) / (4.0 * lam)
        c1 = b1 + 2.0 * a1 * b1 / (4.0 * lam)
        c0 = a1 - (a2 - a1 * a1) / (4.0 * lam)
        with np.errstate(divide="ignore", invalid="ignore"):
            vertex = np.where(c2 < 0.0, -c1 / (2.0 * c2), lo_end)
        for alpha in (np.full_like(c0, lo_end), np.full_like(c0, hi_end), np.clip(vertex, lo_end, hi_end)):
            best = np.maximum(best, c0 + c1 * alpha + c2 * alpha * alpha)
    return best


def _check_lam(lam) -> float:
    if isinstance(lam, (int, float, np.integer, np.floating)) and not isinstance(lam, bool) and lam == np.inf:
        return float("inf")
    return V.check_real(lam, "lam", low=0.0, low_open=True)


def r2pvi(lmdp_or_features, data, *, kind: str = "tv", lam: float = 0.1, beta: float = 1.0, ridge: float = 0.1,
          theta=None) -> R2PVIResult:
    r"""Robust regularised pessimistic value iteration (module docstring for the update).

    Parameters
    ----------
    lmdp_or_features : mdps.LinearMDP or array_like (S, A, d)
        The features (on the simplex; ``ValueError`` naming the entry otherwise). A LinearMDP also
        supplies the known reward parameters ``theta`` (its ``mu`` is never read).
    data : OfflineData or mapping with keys ``s, a, r, s_next`` of shape (H, N)
    kind : {"tv", "kl", "chi2"}
    lam : float > 0 (``inf`` allowed: the non-robust PEVI)
        Regularisation strength of the adversary's divergence penalty.
    beta : float >= 0
        Pessimism scale.
    ridge : float > 0
        Ridge parameter :math:`\lambda_{ridge}`.
    theta : array_like (d,) or (H, d), optional
        Known reward parameters (features-only input); ``None``: ridge regression of the rewards.

    Returns
    -------
    R2PVIResult

    Examples
    --------
    >>> import mdps
    >>> from algorithms.linear import collect_offline_data, r2pvi
    >>> lin = mdps.LinearMDP.random(6, 3, 4, 3, rng=0)
    >>> res = r2pvi(lin, collect_offline_data(lin, 500, rng=1), kind="kl", lam=0.5)
    >>> res.policy.shape, bool(res.V_hat.min() >= 0.0)
    ((3, 6), True)
    """
    kind = V.check_choice(kind, "kind", PENALTY_KINDS)
    lam = _check_lam(lam)
    beta = V.check_real(beta, "beta", low=0.0)
    ridge = V.check_real(ridge, "ridge", low=0.0, low_open=True)
    if isinstance(lmdp_or_features, LinearMDP):
        phi = V.check_simplex_features(lmdp_or_features.phi, "lmdp.phi")
        H = lmdp_or_features.horizon
        if theta is None:
            theta = lmdp_or_features.theta
    else:
        phi = V.check_simplex_features(lmdp_or_features, "features")
        H = None
    S, A, d = phi.shape
    D = as_offline_data(data, n_states=S, n_actions=A, horizon=H)
    H = D.horizon
    if theta is not None:
        th = V.as_float_array(theta, "theta", ndim=(1, 2))
        if th.shape[-1] != d or (th.ndim == 2 and th.shape[0] != H):
            raise ValueError(f"theta must have shape ({d},) or ({H}, {d}), got {th.shape}")
        thetas = np.broadcast_to(th, (H, d))
    Vh, Qh = np.zeros((H, S)), np.zeros((H, S, A))
    wh, bonus = np.zeros((H, d)), np.zeros((H, S, A))
    vn = np.zeros(S)
    eye = ridge * np.eye(d)
    for h in range(H - 1, -1, -1):
        X = phi[D.s[h], D.a[h]]
        Linv = np.linalg.inv(X.T @ X + eye)
        Linv = 0.5 * (Linv + Linv.T)
        y = vn[D.s_next[h]]
        m = float(vn.min())
        if np.isinf(lam):
            w = Linv @ (X.T @ y)
        elif kind == "tv":
            w = Linv @ (X.T @ np.minimum(y, m + lam))
        elif kind == "kl":
            z = Linv @ (X.T @ np.exp(-(y - m) / lam))
            z = np.clip(z, np.exp(-(float(vn.max()) - m) / lam), 1.0)
            w = m - lam * np.log(z)
        else:
            w = _chi2_estimate(X, Linv, y, vn, lam)
        th_h = thetas[h] if theta is not None else Linv @ (X.T @ D.r[h])
        gamma = beta * (phi @ np.sqrt(np.diag(Linv)))
        Q = np.clip(phi @ (th_h + w) - gamma, 0.0, float(H - h))
        Vh[h], Qh[h], wh[h], bonus[h] = Q.max(axis=1), Q, w, gamma
        vn = Vh[h]
    policy = Qh.argmax(axis=2)
    for arr in (policy, Vh, Qh, wh, bonus):
        arr.setflags(write=False)
    settings = R2PVISettings(kind=kind, lam=lam, beta=beta, ridge=ridge, n_samples=D.n_samples,
                             theta_known=theta is not None)
    return R2PVIResult(policy=policy, V_hat=Vh, Q_hat=Qh, w_hat=wh, bonus=bonus, settings=settings)
