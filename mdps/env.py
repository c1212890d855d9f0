"""A Gymnasium environment backed by a :class:`~mdps.tabular.TabularMDP`.

Gymnasium is an optional dependency: when it is importable :class:`TabularEnv` subclasses
:class:`gymnasium.Env`; otherwise constructing one raises :class:`ImportError` with the
install hint (importing this module never fails).

Semantics (Gymnasium 1.x step API ``(obs, reward, terminated, truncated, info)``):

* ``reset`` draws ``s_0 ~ mdp.rho`` with ``self.np_random`` (seeded by ``reset(seed=...)``,
  Gymnasium's PCG64 generator), so a seeded reset followed by the same actions reproduces an
  episode exactly.
* ``step(a)`` returns ``R_t(s, a)`` (the expected reward, as the container stores) and draws
  ``s' ~ P_t(.|s, a)`` by inverse CDF on one uniform from ``self.np_random``.
* ``terminated`` is always ``False``: tabular MDPs have no terminal states (absorbing states
  are ordinary states). ``truncated`` is ``True`` at step ``H`` (``horizon`` or
  ``mdp.horizon``; ``None`` never truncates). Stepping after truncation raises
  :class:`RuntimeError` until the next ``reset``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from mdps.tabular import TabularMDP
from mdps.validation import check_int, check_mdp

try:  # optional dependency
    import gymnasium as _gym
    from gymnasium import spaces as _spaces

    _Base = _gym.Env
except ImportError:  # pragma: no cover - exercised only without gymnasium
    _gym = None
    _spaces = None
    _Base = object

__all__ = ["TabularEnv"]

_INSTALL_HINT = "TabularEnv needs the optional dependency gymnasium: pip install gymnasium"


class TabularEnv(_Base):
    """A :class:`gymnasium.Env` simulating a tabular MDP.

    Parameters
    ----------
    mdp : TabularMDP
        Any layout; a stage-dependent ``mdp`` uses ``P[t]``, ``R[t]`` at step ``t``.
    horizon : int >= 1, optional
        Truncation time ``H`` (default ``mdp.horizon``; ``None`` for a discounted or
        average-reward ``mdp`` means never truncate). For a stage-dependent ``mdp`` it must
        not exceed ``mdp.horizon``.

    Attributes
    ----------
    observation_space : Discrete(S)
    action_space : Discrete(A)
    state : int or None
        Current state (``None`` before the first ``reset``).
    t : int
        Steps taken in the current episode.

    Examples
    --------
    >>> import mdps
    >>> env = mdps.TabularEnv(mdps.river_swim(4, horizon=3))
    >>> obs, info = env.reset(seed=0)
    >>> obs
    0
    >>> [env.step(1)[3] for _ in range(3)]
    [False, False, True]
    """

    metadata = {"render_modes": []}

    def __init__(self, mdp: TabularMDP, *, horizon=None):
        if _gym is None:
            raise ImportError(_INSTALL_HINT)
        check_mdp(mdp)
        if horizon is None:
            H = mdp.horizon
        else:
            H = check_int(horizon, "horizon", low=1)
            if mdp.stage_dependent and H > mdp.horizon:
                raise ValueError(f"horizon must be <= mdp.horizon = {mdp.horizon} for a stage-dependent mdp, got {H}")
        self.mdp = mdp
        self.horizon = H
        self.observation_space = _spaces.Discrete(mdp.n_states)
        self.action_space = _spaces.Discrete(mdp.n_actions)
        self.render_mode = None
        self._rho_cdf = np.cumsum(mdp.rho)
        self._rho_last = int(np.flatnonzero(np.asarray(mdp.rho) > 0)[-1])
        self._csr = sp.csr_array(mdp.P) if mdp.is_sparse else None
        self.state = None
        self.t = 0
        self._needs_reset = True

    # -- sampling ---------------------------------------------------------------------------------
    def _draw(self, cdf, support_last, u):
        i = int(np.searchsorted(cdf, u, side="right"))
        return support_last if i >= cdf.shape[0] else i

    def _next_state(self, s: int, a: int) -> int:
        u = self.np_random.random()
        A = self.mdp.n_actions
        if self._csr is not None:
            lo, hi = self._csr.indptr[s * A + a], self._csr.indptr[s * A + a + 1]
            data, idx = self._csr.data[lo:hi], self._csr.indices[lo:hi]
            pos = np.flatnonzero(data > 0)
            k = self._draw(np.cumsum(data), int(pos[-1]), u)
            return int(idx[k])
        p = self.mdp.P_stage(self.t)[s, a]
        return self._draw(np.cumsum(p), int(np.flatnonzero(p > 0)[-1]), u)

    # -- Gymnasium API -----------------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.state = self._draw(self._rho_cdf, self._rho_last, self.np_random.random())
        self._needs_reset = False
        return self.state, {"t": 0}

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (at the start and after truncation)")
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, numbers.Integral):
            raise ValueError(f"action must be an integer in [0, {self.mdp.n_actions - 1}], got {action!r}")
        a = int(action)
        if not 0 <= a < self.mdp.n_actions:
            raise ValueError(f"action must be an integer in [0, {self.mdp.n_actions - 1}], got {a}")
        s = self.state
        mask = self.mdp.action_mask
        if mask is not None and not mask[s, a]:
            raise ValueError(f"action {a} is infeasible in state {s} (mdp.feasible[{s}, {a}] is False); "
                             f"feasible actions there: {np.flatnonzero(mask[s]).tolist()}")
        reward = float(self.mdp.R_stage(self.t)[s, a])
        self.state = self._next_state(s, a)
        self.t += 1
        truncated = self.horizon is not None and self.t >= self.horizon
        if truncated:
            self._needs_reset = True
        return self.state, reward, False, truncated, {"t": self.t}
