r"""LSVI-UCB: optimistic least-squares value iteration on linear MDPs, compiled, exact regret.

Paper: C. Jin, Z. Yang, Z. Wang, M. I. Jordan, *Provably Efficient Reinforcement Learning with
Linear Function Approximation*, COLT 2020, arXiv:1907.05388 (Algorithm 1, Theorem 3.1).

Update, episode ``k``, backward over stages ``h = H-1, ..., 0`` with :math:`V_H = 0` (rewards
known, as in the paper):

.. math::

    \Lambda_h = \lambda I + \sum_{\tau<k} \phi_{\tau h}\phi_{\tau h}^\top, \quad
    w_h = \Lambda_h^{-1}\sum_{\tau<k}\phi_{\tau h}\,[r_h(s_{\tau h}, a_{\tau h}) + V_{h+1}(s_{\tau,h+1})],

.. math::

    Q_h(s,a) = \min\{\langle w_h, \phi(s,a)\rangle + \beta\,\|\phi(s,a)\|_{\Lambda_h^{-1}},\ H\},
    \qquad V_h(s) = \max_a Q_h(s, a),

then the greedy policy (ties: the first action) is played for one episode. **[A]** (update read
in the abstract and the note; the form is standard). Theorem 3.1 **[U]** (constant recalled): with
:math:`\beta = c\, d H \sqrt{\iota}`, :math:`\iota = \log(2 d T / \delta)`, :math:`T = KH`, for an
absolute constant ``c``, the regret is :math:`\tilde O(\sqrt{d^3 H^3 T})` with probability
:math:`1 - \delta`. The constant ``c`` is not given explicitly: the lab's theory radius takes
``c = 1`` and ``bonus_scale`` multiplies it.

One-hot features (``mdps.LinearMDP.from_tabular``) make every quantity tabular: :math:`\Lambda_h`
is diagonal with entries :math:`N_h(s,a) + \lambda`, so
:math:`Q_h(s,a) = \min\{(\sum r + \sum_{s'} n_h(s,a,s') V_{h+1}(s'))/(N_h(s,a) + \lambda) +
\beta/\sqrt{N_h(s,a)+\lambda},\ H\}` (the check ``lsvi_ucb.tabular_identity`` replays this from the
trajectories). Theory page: docs/theory/linear.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import mdps
from algorithms.exploration.engine import ExplorationBatch, ExplorationRun, _single_seed, run_seeds
from algorithms.linear import _lsvi_kernels as _k
from mdps.linear_mdp import LinearMDP
from mdps.validation import check_int, check_real

__all__ = ["lsvi_ucb", "lsvi_beta", "LSVISettings", "LSVIRun", "LSVIBatch"]


@dataclass(frozen=True)
class LSVISettings:
    """The settings a run used."""

    algorithm: str
    n_episodes: int
    lam: float
    delta: float
    bonus_scale: float
    beta: float


@dataclass(frozen=True, eq=False)
class LSVIRun(ExplorationRun):
    """An :class:`~algorithms.exploration.ExplorationRun` plus the actions ``(K, H)`` when kept."""

    actions: np.ndarray = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class LSVIBatch(ExplorationBatch):
    """An :class:`~algorithms.exploration.ExplorationBatch` plus the actions ``(n_runs, K, H)``."""

    actions: np.ndarray = field(default=None, repr=False)

    def run(self, i: int) -> LSVIRun:
        one = super().run(i)
        acts = self.actions[i] if self.actions.shape[1] else self.actions[0]
        return LSVIRun(**{f: getattr(one, f) for f in one.__dataclass_fields__}, actions=acts)


def lsvi_beta(d: int, horizon: int, n_episodes: int, delta: float) -> float:
    r"""The theory radius :math:`\beta = d H \sqrt{\log(2 d K H / \delta)}` (``c = 1``; module docstring)."""
    d = check_int(d, "d", low=1)
    H = check_int(horizon, "horizon", low=1)
    K = check_int(n_episodes, "n_episodes", low=1)
    dl = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return float(d * H * np.sqrt(np.log(2.0 * d * K * H / dl)))


def _tables(lmdp: LinearMDP):
    H, S, A = lmdp.horizon, lmdp.n_states, lmdp.n_actions
    P = np.ascontiguousarray(lmdp.P, dtype=np.float64)
    cdf = np.cumsum(P, axis=-1)
    last = (P > 0)[..., ::-1].argmax(axis=-1)  # index from the end of the last positive entry
    idx = S - 1 - last
    mask = np.arange(S) >= idx[..., None]
    cdf[mask] = 2.0  # the last outcome of positive mass takes the round-off
    M = P.reshape(H * S * A, S)
    nz = M > 0
    indptr = np.zeros(M.shape[0] + 1, dtype=np.int64)
    np.cumsum(nz.sum(axis=1), out=indptr[1:])
    indices = np.nonzero(nz)[1].astype(np.int64)
    probs = M[nz].astype(np.float64)
    rho = np.ascontiguousarray(lmdp.rho, dtype=np.float64)
    rho_cdf = np.cumsum(rho)
    rho_cdf[np.flatnonzero(rho > 0)[-1]:] = 2.0
    return np.ascontiguousarray(cdf), indptr, indices, probs, np.ascontiguousarray(lmdp.R), rho, rho_cdf


def lsvi_ucb(lmdp, *, n_episodes, bonus_scale: float = 1.0, lam: float = 1.0, delta: float = 0.05,
             keep_policies: bool = False, keep_trajectories: bool = False, n_runs=None, rng=0):
    r"""LSVI-UCB (Jin et al. 2020) for ``n_episodes`` episodes on a :class:`mdps.LinearMDP`.

    Parameters
    ----------
    lmdp : mdps.LinearMDP
    n_episodes : int >= 1
    bonus_scale : float >= 0
        Multiplier on the theory radius :func:`lsvi_beta` (0: greedy least-squares VI).
    lam : float > 0
        Ridge :math:`\lambda` (the paper's is 1).
    delta : float in (0, 1)
    keep_policies : bool
        Also return the played policies ``(K, H, S)``.
    keep_trajectories : bool
        Also return the visited states ``(K, H + 1)`` (``.states``) and actions ``(K, H)``
        (``.actions``).
    n_runs : int, optional
        A batch of independent runs (child seeds), each bit-identical to the run made alone.
    rng : int, SeedSequence or Generator

    Returns
    -------
    LSVIRun or LSVIBatch
        As for the exploration engine: ``.values`` exact value of each played policy,
        ``.v_star``, ``.regret``, ``.optimistic_values`` (the plan's own, not a measurement);
        ``settings`` an :class:`LSVISettings`.

    Examples
    --------
    >>> import mdps
    >>> lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=5))
    >>> run = lsvi_ucb(lin, n_episodes=50, rng=0)
    >>> run.values.shape, bool((run.regret >= -1e-12).all())
    ((50,), True)
    """
    if not isinstance(lmdp, LinearMDP):
        raise TypeError(f"lmdp must be an mdps.LinearMDP, got {type(lmdp).__name__}")
    K = check_int(n_episodes, "n_episodes", low=1)
    c = check_real(bonus_scale, "bonus_scale", low=0.0)
    lam_ = check_real(lam, "lam", low=0.0, low_open=True)
    dl = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    for name, flag in (("keep_policies", keep_policies), ("keep_trajectories", keep_trajectories)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {flag!r}")
    seeds = _single_seed(rng) if n_runs is None else run_seeds(rng, check_int(n_runs, "n_runs", low=1))
    n = seeds.shape[0]
    H, S = lmdp.horizon, lmdp.n_states
    beta = c * lsvi_beta(lmdp.d, H, K, dl)
    cdf, indptr, indices, probs, R, rho, rho_cdf = _tables(lmdp)
    values, returns, optimistic = np.empty((n, K)), np.empty((n, K)), np.empty((n, K))
    policies = np.zeros((n, K if keep_policies else 0, H, S), dtype=np.int16)
    states = np.zeros((n, K if keep_trajectories else 0, H + 1), dtype=np.int64)
    actions = np.zeros((n, K if keep_trajectories else 0, H), dtype=np.int64)
    _k.run_batch(seeds, np.ascontiguousarray(lmdp.phi), cdf, indptr, indices, probs, R, rho, rho_cdf, K, lam_, beta,
                 float(H), values, returns, optimistic, policies, states, actions)
    tab = lmdp.to_tabular()
    v_star = float(tab.rho @ mdps.backward_induction(tab).V[0])
    settings = LSVISettings(algorithm="lsvi_ucb", n_episodes=K, lam=lam_, delta=dl, bonus_scale=c, beta=beta)
    if n_runs is None:
        return LSVIRun(values[0], returns[0], v_star, policies[0], settings, int(seeds[0]), optimistic[0],
                       states[0], actions[0])
    return LSVIBatch(values, returns, v_star, policies, settings, seeds, optimistic, states, actions)
