r"""Compiled episodic simulator: many rollouts of a Markov policy in a tabular MDP.

An episode starts at :math:`s_0 \sim \rho`, then for :math:`h = 0, \dots, H-1` draws
:math:`a_h \sim \pi_h(\cdot|s_h)`, receives :math:`r_h = R_h(s_h, a_h)` (tabular MDPs carry
expected rewards, so rewards are deterministic given the pair) and moves to
:math:`s_{h+1} \sim P_h(\cdot|s_h, a_h)`.

Implementation: every distribution becomes a CDF table in
CSR form over its positive entries (transitions, one row per ``(h, s, a)``, stage axis only
when ``P`` is stage dependent; policy rows; ``rho``), all ``K (2H + 1)`` uniforms are drawn
from ``rng`` in NumPy, and a Numba kernel (:mod:`mdps._sim_kernels`) does binary searches.
Cost :math:`O(K H \log S)` after an :math:`O(\mathrm{nnz}(P))` table build. Uniforms are drawn
in chunks of episodes, row-major with layout ``(u_init, u_a0, u_s1, u_a1, u_s2, ...)``, which
consumes the generator exactly like one ``rng.random((K, 2H + 1))`` call: the same ``rng``
gives the same trajectories whatever ``K`` is split into, and episode ``k`` only depends on
row ``k``. Deterministic policies are sampled as their one-hot stochastic policies (they use
their uniforms too), so ``sigma`` and ``one_hot(sigma)`` give identical trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mdps import _sim_kernels as _k
from mdps.tabular import TabularMDP
from mdps.validation import (
    as_stochastic_policy,
    check_gamma,
    check_int,
    check_mdp,
    check_policy,
    check_rng,
    readonly,
)

__all__ = ["Trajectories", "rollout"]

#: Uniforms drawn per chunk (bounds the simulator's extra memory to ~32 MiB).
_CHUNK_UNIFORMS = 1 << 22
#: Largest trajectory array one call may allocate (NumPy's limit on the size of an int64 array);
#: beyond it NumPy would raise its own "maximum allowed dimension exceeded".
_MAX_ENTRIES = np.iinfo(np.intp).max // 8


@dataclass(frozen=True, eq=False)
class Trajectories:
    """``K`` episodes of length ``H``.

    Attributes
    ----------
    states : ndarray of int64, shape (K, H + 1)
        ``s_0, ..., s_H``.
    actions : ndarray of int64, shape (K, H)
    rewards : ndarray of float64, shape (K, H)
        ``r_h = R_h(s_h, a_h)``.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    @property
    def n_episodes(self) -> int:
        return self.actions.shape[0]

    @property
    def horizon(self) -> int:
        return self.actions.shape[1]

    def returns(self, gamma=None) -> np.ndarray:
        r"""Per-episode returns, shape ``(K,)``: :math:`\sum_h r_h` or :math:`\sum_h \gamma^h r_h`.

        Parameters
        ----------
        gamma : float in [0, 1], optional
            Discount (``None`` or 1: the undiscounted finite-horizon return).
        """
        if gamma is None:
            return self.rewards.sum(axis=1)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating, np.integer)):
            raise TypeError(f"gamma must be a real number in [0, 1], got {gamma!r}")
        if float(gamma) == 1.0:
            return self.rewards.sum(axis=1)
        g = check_gamma(gamma)
        return self.rewards @ (g ** np.arange(self.horizon))


# ----------------------------------------------------------------------------- CDF tables
def _cdf_table(M):
    """``(indptr, indices, cdf)`` over the positive entries of a 2-D dense array or CSR matrix."""
    csr = sp.csr_array(M, dtype=np.float64)
    csr.sum_duplicates()
    csr.sort_indices()
    keep = csr.data > 0
    if not keep.all():
        row_of = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
        counts = np.bincount(row_of[keep], minlength=csr.shape[0])
        indptr = np.zeros(csr.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices, data = csr.indices[keep], csr.data[keep]
    else:
        indptr, indices, data = csr.indptr, csr.indices, csr.data
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    data = np.ascontiguousarray(data, dtype=np.float64)
    cdf = np.empty_like(data)
    _k.row_cumsum(indptr, data, cdf)
    return indptr, indices, cdf


def _transition_table(mdp: TabularMDP):
    if mdp.is_sparse or mdp.P.ndim == 3:
        return (*_cdf_table(mdp.P_matrix()), 1)
    H, S, A, _ = mdp.P.shape
    return (*_cdf_table(mdp.P.reshape(H * S * A, S)), H)


def _policy_array(policy, S: int, A: int, H: int, feasible=None) -> np.ndarray:
    """Validate ``policy`` and return it as a stochastic ``(Hpi, S, A)`` array (Hpi in {1, H});
    a policy using an infeasible action (``feasible[s, a]`` False) is refused."""
    pol = as_stochastic_policy(check_policy(policy, S, A, horizon=H, name="policy", feasible=feasible), A)
    return np.ascontiguousarray(pol).reshape(-1, S, A)


def rollout(mdp: TabularMDP, policy, n_episodes, *, horizon=None, rng=None) -> Trajectories:
    r"""Simulate ``n_episodes`` episodes of a Markov policy.

    Parameters
    ----------
    mdp : TabularMDP
        Any layout (dense, stage-dependent, sparse); the start state is drawn from ``mdp.rho``.
    policy : array_like
        Deterministic: int array of shape ``(S,)`` or ``(H, S)``. Stochastic: float array of
        shape ``(S, A)`` or ``(H, S, A)`` with rows on the simplex. It must not use an
        infeasible action (``mdp.feasible``): the simulator never draws one.
    n_episodes : int >= 0
        ``K``.
    horizon : int >= 1, optional
        ``H``; defaults to ``mdp.horizon`` and is required when ``mdp`` has none. With a
        stage-dependent ``mdp`` it must equal ``mdp.horizon``.
    rng : Generator, int or SeedSequence, optional

    Returns
    -------
    Trajectories
        ``states (K, H+1)``, ``actions (K, H)``, ``rewards (K, H)``.

    Examples
    --------
    >>> import numpy as np, mdps
    >>> m = mdps.river_swim(4, horizon=8)
    >>> tr = mdps.rollout(m, np.ones(4, dtype=int), 1000, rng=0)
    >>> tr.states.shape, tr.returns().shape
    ((1000, 9), (1000,))
    """
    check_mdp(mdp)
    K = check_int(n_episodes, "n_episodes", low=0)
    if horizon is None:
        if mdp.horizon is None:
            raise ValueError(f"horizon is required for a {mdp.criterion} mdp (it has no horizon of its own)")
        H = mdp.horizon
    else:
        H = check_int(horizon, "horizon", low=1)
        if mdp.stage_dependent and H != mdp.horizon:
            raise ValueError(f"horizon must equal mdp.horizon = {mdp.horizon} for a stage-dependent mdp, got {H}")
    if K * (H + 1) > _MAX_ENTRIES:
        raise ValueError(
            f"n_episodes * (horizon + 1) = {K} * {H + 1} states exceed what can be stored "
            f"({_MAX_ENTRIES} entries); simulate in batches of episodes"
        )
    rng = check_rng(rng)
    S, A = mdp.n_states, mdp.n_actions

    pi = _policy_array(policy, S, A, H, mdp.action_mask)
    p_indptr, p_indices, p_cdf, n_p = _transition_table(mdp)
    pi_indptr, pi_indices, pi_cdf = _cdf_table(pi.reshape(-1, A))
    rho_indptr, rho_indices, rho_cdf = _cdf_table(np.asarray(mdp.rho)[None, :])
    R = np.ascontiguousarray(mdp.R, dtype=np.float64).reshape(-1, S, A)

    states = np.empty((K, H + 1), dtype=np.int64)
    actions = np.empty((K, H), dtype=np.int64)
    rewards = np.empty((K, H))
    width = 2 * H + 1
    chunk = max(1, _CHUNK_UNIFORMS // width)
    for lo in range(0, K, chunk):
        hi = min(K, lo + chunk)
        u = rng.random((hi - lo, width))
        _k.rollout(p_indptr, p_indices, p_cdf, n_p, pi_indptr, pi_indices, pi_cdf, pi.shape[0],
                   rho_indptr, rho_indices, rho_cdf, R, u, states[lo:hi], actions[lo:hi], rewards[lo:hi])
    return Trajectories(readonly(states), readonly(actions), readonly(rewards))
