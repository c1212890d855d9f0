r"""The log-linear preference task: a preference-learning problem with exact ground truth.

Model. ``X`` contexts drawn from ``weights`` (:math:`\rho`), ``K`` responses per context,
features :math:`\phi(x, y) \in \mathbb{R}^d` (``features``, shape ``(X, K, d)``), a reference
policy :math:`\mu` (``ref``, ``(X, K)``, full support), a true parameter :math:`\theta^*` and a
temperature :math:`\beta > 0`. The true reward and the log-linear policy class are

.. math:: r^*(x, y) = \beta\,\theta^{*\top}\phi(x, y), \qquad
          \pi_\theta(y|x) = \frac{\mu(y|x)\, e^{\theta^\top\phi(x,y)}}
                                 {\sum_{y'} \mu(y'|x)\, e^{\theta^\top\phi(x,y')}} ,

so that the optimum of the KL-regularised objective ([1]_, section 4)

.. math:: J_\beta(\pi) = \sum_x \rho_x \left[\langle \pi_x, r^*_x\rangle
          - \beta\, KL(\pi_x \| \mu_x)\right]

is :math:`\pi^*_\beta = \mathrm{softmax}(\log\mu + r^*/\beta) = \pi_{\theta^*}`: the class is
well specified and DPO's implicit reward :math:`\beta\log(\pi_\theta/\mu)` equals
:math:`\beta\,\theta^\top\phi` up to a per-context constant.

Suboptimality identity (exact). Write :math:`Z_x = \sum_y \mu(y|x) e^{r^*(x,y)/\beta}`, so
:math:`\log\pi^*_x = \log\mu_x + r^*_x/\beta - \log Z_x`, i.e.
:math:`r^*_x = \beta(\log\pi^*_x - \log\mu_x) + \beta\log Z_x`. For any policy :math:`\pi_x`
(zeros allowed; :math:`\mu` has full support)

.. math:: \langle\pi_x, r^*_x\rangle - \beta KL(\pi_x\|\mu_x)
          = \beta\langle\pi_x, \log\pi^*_x - \log\mu_x\rangle + \beta\log Z_x
            - \beta\langle\pi_x, \log\pi_x - \log\mu_x\rangle
          = \beta\log Z_x - \beta\, KL(\pi_x\|\pi^*_x).

Averaging over :math:`\rho`: :math:`J_\beta(\pi) = \beta\sum_x\rho_x\log Z_x -
\beta\sum_x\rho_x KL(\pi_x\|\pi^*_x)`. The KL term vanishes at :math:`\pi = \pi^*`, hence
:math:`J_\beta(\pi^*) = \beta\sum_x \rho_x \log Z_x` (:meth:`LogLinearPreferenceTask.optimal_value`)
and

.. math:: J_\beta(\pi^*) - J_\beta(\pi) = \beta \sum_x \rho_x\, KL(\pi_x \| \pi^*_x) \;\ge 0,

with equality iff :math:`\pi_x = \pi^*_x` on every context of positive weight.
:meth:`~LogLinearPreferenceTask.suboptimality` evaluates the right-hand side (non-negative by
construction, no cancellation); :meth:`~LogLinearPreferenceTask.value` evaluates the definition;
the tests check that the two sides agree to round-off.

Preference models (for a pair ``(i, j)`` in context ``x``, :math:`\Delta = r^*_i - r^*_j`):

* Bradley-Terry (``model="bt"``): :math:`P(i \succ j) = \sigma(\Delta)`.
* Thurstone / probit (``model="thurstone"``): each response's utility is
  :math:`r^*_y + \xi_y` with independent :math:`\xi_y \sim N(0, 1)`, so the difference has variance
  2 and :math:`P(i \succ j) = \Phi(\Delta/\sqrt{2})`. Scale convention: unit-variance noise per
  response, *not* rescaled to match the logistic (:math:`\Phi(\Delta/\sqrt 2)` and
  :math:`\sigma(\Delta)` agree at 0 and in sign; their slopes at 0 are :math:`1/(2\sqrt\pi)
  \approx 0.282` and :math:`1/4`). Under Thurstone labels the log-linear DPO class is
  misspecified, which is the point of offering it.

Both satisfy :math:`P(i \succ j) + P(j \succ i) = 1` exactly (``ndtr`` and ``expit`` are
evaluated at :math:`\pm\Delta`; the tests check the identity to round-off).

Pair distribution. :meth:`~LogLinearPreferenceTask.sample` draws two responses independently from
the sampling policy :math:`\pi_s` *conditioned on being different*; its law on ordered pairs is

.. math:: q^{\pi_s}_x(i, j) = \frac{\pi_s(i|x)\,\pi_s(j|x)}{1 - \sum_k \pi_s(k|x)^2}, \quad i \ne j,

drawn exactly by inverse CDF over the ``K x K`` table of each context (no rejection loop, so a
nearly deterministic sampling policy costs nothing extra).
:meth:`~LogLinearPreferenceTask.pair_distribution` returns this table.

Label noise (``flips``). After the clean label is drawn from the preference model:

* ``"symmetric"``: every label is flipped independently with probability ``eps``.
* ``"asymmetric"`` (class-conditional): the class of a clean label is whether it agrees with the
  true reward, i.e. whether the clean winner ``w`` has :math:`r^*_w \ge r^*_l` (ties count as
  agreeing). Agreeing labels are flipped with probability ``eps``, disagreeing ones with
  probability ``eps_minus``. (Classes defined by the order in which the two responses were drawn
  would be pointless: the pair law is exchangeable, so such flips are indistinguishable from
  symmetric flips at rate ``(eps + eps_minus) / 2``.) Under asymmetric flips the observed
  preference is not ``(1 - 2 eps) P + eps`` for any single ``eps``, so rDPO's correction is biased
  (the negative control of issue 9).

:meth:`~LogLinearPreferenceTask.preference_matrix` gives the exact probability of each observed
label under either noise model, and :meth:`~LogLinearPreferenceTask.outcome_distribution` the
exact law of one observed record ``(x, winner, loser)``, i.e. ``E[counts] / n``: every population
(infinite-data) loss is its average under that law.

Coverage. For a target policy :math:`\pi_t` and a sampling policy :math:`\pi_s`, with both pair
laws given by the conditioned convention above,

.. math:: C(\pi_t; \pi_s) = \max_{x:\,\rho_x > 0}\ \max_{(i,j):\, q^{\pi_t}_x(i,j) > 0}
          \frac{q^{\pi_t}_x(i,j)}{q^{\pi_s}_x(i,j)} .

It is ``inf`` exactly when the sampler gives zero probability to a pair the target uses, ``>= 1``
otherwise (both are distributions on the same pairs), and exactly ``1`` when
:math:`\pi_t = \pi_s` (every ratio is 1). Contexts where :math:`\pi_t` supports fewer than two
responses have no target pairs and impose nothing. (Under the unconditioned product convention
:math:`\pi_t(i)\pi_t(j) / q^{\pi_s}(i,j)` one would instead get
:math:`\max_x (1 - \|\pi_x\|_2^2) < 1` for :math:`\pi_t = \pi_s`.)

Decisions (written down as the design asks)
--------------------------------------------
* ``K >= 2``, ``X >= 1``, ``d >= 1``; ``features`` and ``theta_star`` finite.
* ``ref`` must have full support (every entry ``> 0``, so every KL to it is finite) and rows
  summing to 1 within ``1e-9``; it is stored renormalised. A ``(K,)`` ref is shared by all contexts.
* ``weights``: a distribution on contexts (zeros allowed) within ``1e-9``, stored renormalised.
* Policies passed to methods are ``(X, K)`` (or ``(K,)``, shared), finite, ``>= 0``, rows summing
  to 1 within ``1e-9``; used as given. Zeros are allowed (the KL to ``ref`` stays finite).
* ``eps`` and ``eps_minus`` lie in ``[0, 1/2)``: at 1/2 labels carry no information and the rDPO
  correction divides by ``1 - 2 eps = 0``.
* The sampling policy must support at least two responses in every context of positive weight
  (otherwise no pair ``i != j`` can be drawn there); the error names the context.
* All arrays held by the task and by :class:`PreferenceData` are read-only; attributes cannot be set.
* Generators: :meth:`LogLinearPreferenceTask.one_hot` (tabular: ``phi(x, y) = e_y``, ``d = K``,
  ``theta_star ~ N(0, I_K)``) and :meth:`LogLinearPreferenceTask.random` (Gaussian features
  rescaled by one common factor so that the largest norm is exactly ``norm_bound``; ``theta_star``
  uniform on the sphere of radius ``theta_norm``). Both use a uniform ``ref`` and uniform weights.

References
----------
.. [1] R. Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a
   Reward Model", NeurIPS 2023, arXiv:2305.18290.
.. [2] S. R. Chowdhury, A. Kini, N. Natarajan, "Provably Robust DPO: Aligning Language Models with
   Noisy Feedback", ICML 2024, arXiv:2403.00409.
.. [3] L. L. Thurstone, "A law of comparative judgment", Psychological Review 34 (1927).

Examples
--------
>>> import numpy as np, mdps
>>> task = mdps.LogLinearPreferenceTask.one_hot(2, 3, beta=0.5, rng=0)
>>> pi = task.ref
>>> bool(np.isclose(task.suboptimality(pi), task.optimal_value() - task.value(pi)))
True
>>> data = task.sample(1000, eps=0.1, rng=0)
>>> data.n_pairs, int(data.counts().sum())
(1000, 1000)
>>> task.coverage(task.ref)
1.0
"""

from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtr

from mdps.numerics import kl, log_softmax, logsumexp, softmax
from mdps.validation import (
    ROW_SUM_ATOL,
    _index_str,
    as_float_array,
    check_choice,
    check_distribution,
    check_int,
    check_real,
    check_rng,
    check_rows_stochastic,
    readonly,
)

__all__ = ["LogLinearPreferenceTask", "PreferenceData"]

MODELS = ("bt", "thurstone")
FLIPS = ("symmetric", "asymmetric")


def _check_eps(eps, name: str) -> float:
    return check_real(eps, name, low=0.0, high=0.5, high_open=True)


def _check_noise_args(eps, flips, eps_minus) -> tuple[float, str, float]:
    eps = _check_eps(eps, "eps")
    flips = check_choice(flips, "flips", FLIPS)
    if flips == "asymmetric":
        if eps_minus is None:
            raise ValueError("eps_minus is required when flips='asymmetric' (the flip rate of labels "
                             "that disagree with the true reward)")
        eps_minus = _check_eps(eps_minus, "eps_minus")
    else:
        if eps_minus is not None:
            raise ValueError(f"eps_minus is only for flips='asymmetric', got eps_minus={eps_minus!r} "
                             "with flips='symmetric'")
        eps_minus = eps
    return eps, flips, eps_minus


def _link(delta: np.ndarray, model: str) -> np.ndarray:
    """``P(i > j)`` as a function of the reward gap ``delta = r_i - r_j``."""
    if model == "bt":
        return expit(delta)
    return ndtr(delta / math.sqrt(2.0))


def _pair_table(p2: np.ndarray) -> np.ndarray:
    """``q_x(i, j) = p_i p_j / sum_{k != l} p_k p_l`` off the diagonal, shape ``(X, K, K)``;
    an all-zero slice where ``p_x`` supports fewer than two responses."""
    q = p2[:, :, None] * p2[:, None, :]
    K = p2.shape[1]
    q[:, np.arange(K), np.arange(K)] = 0.0
    tot = q.sum(axis=(1, 2), keepdims=True)
    return np.divide(q, tot, out=np.zeros_like(q), where=tot > 0)


@dataclass(frozen=True)
class PreferenceData:
    """A preference dataset drawn by :meth:`LogLinearPreferenceTask.sample` (frozen, arrays read-only).

    Attributes
    ----------
    contexts, winners, losers : ndarray of int64, shape (n,)
        The observed comparisons (after flipping): ``winners[k]`` beat ``losers[k]`` in
        context ``contexts[k]``.
    clean_winners : ndarray of int64, shape (n,)
        The winners before flipping (diagnostics; a learner must not use them). The clean loser
        is the other member of the pair.
    eps, eps_minus : float
        Flip rates (``eps_minus == eps`` for symmetric flips).
    model : {"bt", "thurstone"}
    flips : {"symmetric", "asymmetric"}
    policy : ndarray, shape (X, K)
        The sampling policy the pairs were drawn from (conditioned on ``i != j``).
    """

    contexts: np.ndarray
    winners: np.ndarray
    losers: np.ndarray
    clean_winners: np.ndarray
    eps: float
    eps_minus: float
    model: str
    flips: str
    policy: np.ndarray

    def __post_init__(self):
        pol = np.asarray(self.policy)
        if pol.ndim != 2:
            raise ValueError(f"policy must have shape (X, K), got {pol.shape}")
        X, K = pol.shape
        n = None
        for name in ("contexts", "winners", "losers", "clean_winners"):
            a = np.asarray(getattr(self, name))
            if a.ndim != 1 or a.dtype.kind not in "iu":
                raise TypeError(f"{name} must be a 1-d integer array, got dtype {a.dtype}, shape {a.shape}")
            n = a.shape[0] if n is None else n
            if a.shape[0] != n:
                raise ValueError(f"{name} has length {a.shape[0]}, expected {n} (as contexts)")
            hi = X if name == "contexts" else K
            if a.size and (a.min() < 0 or a.max() >= hi):
                raise ValueError(f"{name} must lie in [0, {hi}), got values in [{a.min()}, {a.max()}]")
            object.__setattr__(self, name, readonly(np.array(a, dtype=np.int64)))
        if n == 0:
            raise ValueError("a PreferenceData record needs at least one pair (n_pairs >= 1)")
        if np.any(self.winners == self.losers):
            k = int(np.argmax(self.winners == self.losers))
            raise ValueError(f"winners[{k}] == losers[{k}] == {int(self.winners[k])}: a pair needs two responses")
        pol = as_float_array(self.policy, "policy", ndim=2)
        if np.any(pol < 0) or np.any(np.abs(pol.sum(axis=1) - 1.0) > ROW_SUM_ATOL):
            raise ValueError("policy must have rows on the probability simplex (entries >= 0, "
                             f"sums 1 within {ROW_SUM_ATOL:g})")
        object.__setattr__(self, "policy", readonly(pol))
        object.__setattr__(self, "model", check_choice(self.model, "model", MODELS))
        object.__setattr__(self, "flips", check_choice(self.flips, "flips", FLIPS))
        object.__setattr__(self, "eps", _check_eps(self.eps, "eps"))
        object.__setattr__(self, "eps_minus", _check_eps(self.eps_minus, "eps_minus"))
        if self.flips == "symmetric" and self.eps_minus != self.eps:
            raise ValueError(f"eps_minus must equal eps for symmetric flips, got eps={self.eps!r}, "
                             f"eps_minus={self.eps_minus!r}")

    @property
    def n_pairs(self) -> int:
        return int(self.contexts.shape[0])

    @property
    def n_contexts(self) -> int:
        return int(self.policy.shape[0])

    @property
    def n_responses(self) -> int:
        return int(self.policy.shape[1])

    @property
    def flipped(self) -> np.ndarray:
        """``(n,)`` bool: which labels were flipped."""
        return self.winners != self.clean_winners

    def counts(self) -> np.ndarray:
        """Win counts ``C[x, i, j]`` = number of pairs in context ``x`` where ``i`` beat ``j``,
        shape ``(X, K, K)`` (zero diagonal; sums to ``n_pairs``). The sufficient statistics of
        every per-pair loss on the task."""
        X, K = self.policy.shape
        flat = (self.contexts * K + self.winners) * K + self.losers
        return np.bincount(flat, minlength=X * K * K).reshape(X, K, K)


class LogLinearPreferenceTask:
    """The log-linear preference task (module docstring): exact ground truth and datasets.

    Parameters
    ----------
    features : array_like, shape (X, K, d)
        :math:`\\phi(x, y)`, finite, ``K >= 2``.
    ref : array_like, shape (X, K) or (K,)
        Reference policy :math:`\\mu`, full support; a ``(K,)`` ref is shared by all contexts.
    theta_star : array_like, shape (d,)
        True parameter.
    beta : float > 0
        Temperature: :math:`r^* = \\beta\\,\\theta^{*\\top}\\phi`.
    weights : array_like, shape (X,), optional
        Context distribution :math:`\\rho` (default uniform).
    """

    __slots__ = ("_phi", "_ref", "_theta", "_beta", "_w", "_score", "_reward", "_pistar", "_frozen")

    def __init__(self, features, ref, theta_star, beta: float = 1.0, *, weights=None):
        object.__setattr__(self, "_frozen", False)
        phi = as_float_array(features, "features", ndim=3)
        X, K, d = phi.shape
        if X < 1 or d < 1:
            raise ValueError(f"features must have shape (X, K, d) with X >= 1 and d >= 1, got {phi.shape}")
        if K < 2:
            raise ValueError(f"features must have at least 2 responses (K >= 2), got shape {phi.shape}")
        theta = as_float_array(theta_star, "theta_star", ndim=1)
        if theta.shape != (d,):
            raise ValueError(f"theta_star must have shape ({d},) to match features {phi.shape}, got {theta.shape}")
        self._beta = check_real(beta, "beta", low=0.0, low_open=True)
        r = as_float_array(ref, "ref", ndim=(1, 2))
        if r.shape not in {(K,), (X, K)}:
            raise ValueError(f"ref must have shape ({K},) or ({X}, {K}), got {r.shape}")
        bad = r <= 0
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise ValueError(f"ref[{_index_str(idx)}] is {r[tuple(idx)]:.6g}, expected > 0 (full support)")
        check_rows_stochastic(r, "ref")
        r = r / r.sum(axis=-1, keepdims=True)
        ref2 = np.broadcast_to(r, (X, K)).copy()
        if weights is None:
            w = np.full(X, 1.0 / X)
        else:
            w = check_distribution(weights, "weights", X)
            w = w / w.sum()
        score = phi @ theta
        if not np.all(np.isfinite(self._beta * score)):
            raise ValueError("beta * features . theta_star overflows float64; scale features or theta_star down")
        self._phi = readonly(phi)
        self._theta = readonly(theta)
        self._ref = readonly(ref2)
        self._w = readonly(w)
        self._score = readonly(score)
        self._reward = readonly(self._beta * score)
        self._pistar = readonly(softmax(np.log(ref2) + score))
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"LogLinearPreferenceTask is immutable; cannot set {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        X, K, d = self._phi.shape
        return f"LogLinearPreferenceTask(n_contexts={X}, n_responses={K}, dim={d}, beta={self._beta:g})"

    # -- generators -------------------------------------------------------------------------------
    @classmethod
    def one_hot(cls, n_contexts: int, n_responses: int, *, beta: float = 1.0, rng=None):
        """Tabular task: ``phi(x, y) = e_y`` (``d = K``), ``theta_star ~ N(0, I_K)``, uniform ref
        and weights. The true reward is the same in every context."""
        X = check_int(n_contexts, "n_contexts", low=1)
        K = check_int(n_responses, "n_responses", low=2)
        gen = check_rng(rng)
        phi = np.broadcast_to(np.eye(K), (X, K, K)).copy()
        theta = gen.standard_normal(K)
        return cls(phi, np.full(K, 1.0 / K), theta, beta)

    @classmethod
    def random(cls, n_contexts: int, n_responses: int, dim: int, *, norm_bound: float = 1.0,
               theta_norm: float = 1.0, beta: float = 1.0, rng=None):
        """Random features: Gaussian ``(X, K, d)`` rescaled by one common factor so that
        ``max ||phi(x, y)|| = norm_bound`` exactly; ``theta_star`` uniform on the sphere of radius
        ``theta_norm``; uniform ref and weights."""
        X = check_int(n_contexts, "n_contexts", low=1)
        K = check_int(n_responses, "n_responses", low=2)
        d = check_int(dim, "dim", low=1)
        L = check_real(norm_bound, "norm_bound", low=0.0, low_open=True)
        B = check_real(theta_norm, "theta_norm", low=0.0)
        gen = check_rng(rng)
        g = gen.standard_normal((X, K, d))
        phi = g * (L / np.linalg.norm(g, axis=-1).max())
        u = gen.standard_normal(d)
        theta = u * (B / np.linalg.norm(u))
        return cls(phi, np.full(K, 1.0 / K), theta, beta)

    # -- read-only views --------------------------------------------------------------------------
    @property
    def features(self) -> np.ndarray:
        """``(X, K, d)``, read-only."""
        return self._phi

    @property
    def ref(self) -> np.ndarray:
        """Reference policy ``(X, K)``, read-only, full support."""
        return self._ref

    @property
    def theta_star(self) -> np.ndarray:
        return self._theta

    @property
    def beta(self) -> float:
        return self._beta

    @property
    def weights(self) -> np.ndarray:
        """Context distribution ``(X,)``."""
        return self._w

    @property
    def n_contexts(self) -> int:
        return self._phi.shape[0]

    @property
    def n_responses(self) -> int:
        return self._phi.shape[1]

    @property
    def dim(self) -> int:
        return self._phi.shape[2]

    # -- validation helpers -----------------------------------------------------------------------
    def _check_theta(self, theta, name: str = "theta") -> np.ndarray:
        t = as_float_array(theta, name, ndim=1)
        if t.shape != (self.dim,):
            raise ValueError(f"{name} must have shape ({self.dim},), got {t.shape}")
        return t

    def _check_policy(self, pi, name: str = "pi") -> np.ndarray:
        """A policy ``(X, K)`` or ``(K,)`` (shared); returned as ``(X, K)``, not renormalised."""
        X, K = self._ref.shape
        p = as_float_array(pi, name, ndim=(1, 2))
        if p.shape not in {(K,), (X, K)}:
            raise ValueError(f"{name} must have shape ({X}, {K}) or ({K},), got {p.shape}")
        check_rows_stochastic(p, name)
        return np.broadcast_to(p, (X, K)).copy()

    # -- exact ground truth -----------------------------------------------------------------------
    def reward(self, theta=None) -> np.ndarray:
        """``beta * phi . theta``, shape ``(X, K)`` (``theta`` default ``theta_star``: the true reward)."""
        if theta is None:
            return self._reward
        return self._beta * (self._phi @ self._check_theta(theta))

    def policy(self, theta) -> np.ndarray:
        """The log-linear policy :math:`\\pi_\\theta \\propto \\mu\\, e^{\\phi\\cdot\\theta}`, ``(X, K)``."""
        t = self._check_theta(theta)
        return softmax(np.log(self._ref) + self._phi @ t)

    def optimal_policy(self) -> np.ndarray:
        """:math:`\\pi^*_\\beta = \\pi_{\\theta^*}`, the maximiser of :math:`J_\\beta` (read-only)."""
        return self._pistar

    def kl_to_ref(self, pi) -> float:
        """:math:`\\sum_x \\rho_x KL(\\pi_x \\| \\mu_x)`."""
        p = self._check_policy(pi)
        return float(self._w @ kl(p, self._ref))

    def value(self, pi) -> float:
        """:math:`J_\\beta(\\pi) = \\sum_x \\rho_x [\\langle\\pi_x, r^*_x\\rangle - \\beta KL(\\pi_x\\|\\mu_x)]`."""
        p = self._check_policy(pi)
        per = np.sum(p * self._reward, axis=-1) - self._beta * kl(p, self._ref)
        return float(self._w @ per)

    def optimal_value(self) -> float:
        """:math:`J_\\beta(\\pi^*) = \\beta \\sum_x \\rho_x \\log\\sum_y \\mu(y|x) e^{r^*(x,y)/\\beta}`
        (closed form, module docstring)."""
        return float(self._beta * (self._w @ logsumexp(np.log(self._ref) + self._score)))

    def suboptimality(self, pi) -> float:
        """:math:`J_\\beta(\\pi^*) - J_\\beta(\\pi) = \\beta \\sum_x \\rho_x KL(\\pi_x \\| \\pi^*_x)`,
        evaluated by the right-hand side (exact identity, proved in the module docstring)."""
        p = self._check_policy(pi)
        logstar = log_softmax(np.log(self._ref) + self._score)
        pos = p > 0
        terms = np.where(pos, p * (np.log(np.where(pos, p, 1.0)) - logstar), 0.0)
        return float(self._beta * (self._w @ np.maximum(terms.sum(axis=-1), 0.0)))

    # -- the preference model ---------------------------------------------------------------------
    def preference_probability(self, x, i, j, *, model: str = "bt"):
        """Clean :math:`P(i \\succ j \\mid x)` under the preference model (vectorised over
        broadcastable integer ``x, i, j``); 1/2 when ``i == j``. Bradley-Terry:
        :math:`\\sigma(r^*_i - r^*_j)`; Thurstone: :math:`\\Phi((r^*_i - r^*_j)/\\sqrt 2)`."""
        model = check_choice(model, "model", MODELS)
        X, K = self._ref.shape
        arrs = []
        for name, v, hi in (("x", x, X), ("i", i, K), ("j", j, K)):
            a = np.asarray(v)
            if a.dtype.kind not in "iu" or isinstance(v, (bool, np.bool_)):
                raise TypeError(f"{name} must be an integer or an integer array, got {v!r}")
            if a.size and (a.min() < 0 or a.max() >= hi):
                raise ValueError(f"{name} must lie in [0, {hi}), got {v!r}")
            arrs.append(a)
        xa, ia, ja = np.broadcast_arrays(*arrs)
        out = _link(self._reward[xa, ia] - self._reward[xa, ja], model)
        return float(out) if out.ndim == 0 else out

    def preference_matrix(self, model: str = "bt", *, eps: float = 0.0, flips: str = "symmetric",
                          eps_minus=None) -> np.ndarray:
        """Probability that ``i`` is *observed* to beat ``j``: ``(X, K, K)``, diagonal 1/2,
        ``M + M^T = 1``. With ``eps = 0`` the clean model; otherwise after the flips of
        :meth:`sample` (symmetric: ``(1 - eps) P + eps (1 - P)``; asymmetric: the rate depends on
        whether the clean label agrees with the true reward, module docstring)."""
        model = check_choice(model, "model", MODELS)
        eps, flips, eps_minus = _check_noise_args(eps, flips, eps_minus)
        r = self._reward
        P = _link(r[:, :, None] - r[:, None, :], model)
        # flip rate of a clean label "i beats j": eps if it agrees with r* (r_i >= r_j), else eps_minus
        rate = np.where(r[:, :, None] >= r[:, None, :], eps, eps_minus)
        M = P * (1.0 - rate) + (1.0 - P) * np.swapaxes(rate, 1, 2)
        K = r.shape[1]
        M[:, np.arange(K), np.arange(K)] = 0.5
        return M

    def pair_distribution(self, policy=None) -> np.ndarray:
        """The law of the ordered pair drawn by :meth:`sample` from ``policy`` (default ``ref``):
        :math:`q_x(i, j) = \\pi(i|x)\\pi(j|x) / (1 - \\sum_k \\pi(k|x)^2)` for ``i != j``, 0 on the
        diagonal; ``(X, K, K)``. A context where ``policy`` supports fewer than two responses gets
        an all-zero slice."""
        p = self._ref if policy is None else self._check_policy(policy, "policy")
        return _pair_table(p)

    def outcome_distribution(self, policy=None, *, model: str = "bt", eps: float = 0.0,
                             flips: str = "symmetric", eps_minus=None) -> np.ndarray:
        """The exact law of one observed record of :meth:`sample` with the same arguments:
        ``D[x, i, j] = Pr(context x, observed winner i, observed loser j)``
        :math:`= \\rho_x\\,(q_x(i, j) + q_x(j, i))\\, M_x(i, j)`, with ``q`` the
        :meth:`pair_distribution` of ``policy`` (default ``ref``) and ``M`` the
        :meth:`preference_matrix` of the noise model. ``(X, K, K)``, sums to 1, zero diagonal;
        ``E[data.counts()] = n_pairs * D`` exactly, so every population (infinite-data) loss is
        ``sum_{x,i,j} D[x,i,j] * loss(x, i, j)``. Unlike :meth:`sample`, a context of positive
        weight where ``policy`` supports fewer than two responses is an error here too."""
        M = self.preference_matrix(model, eps=eps, flips=flips, eps_minus=eps_minus)
        p = self._ref if policy is None else self._check_policy(policy, "policy")
        self._check_sampler_support(p)
        q = _pair_table(p)
        D = self._w[:, None, None] * (q + np.swapaxes(q, 1, 2)) * M
        K = p.shape[1]
        D[:, np.arange(K), np.arange(K)] = 0.0
        return D

    def _check_sampler_support(self, p: np.ndarray) -> None:
        support = (p > 0).sum(axis=1)
        short = np.flatnonzero((support < 2) & (self._w > 0))
        if short.size:
            x = int(short[0])
            raise ValueError(
                f"policy[{x}, :] supports {int(support[x])} response(s) in context {x} (weight "
                f"{self._w[x]:.6g}); sampling pairs i != j needs at least two responses with positive "
                "probability in every context of positive weight"
            )

    def coverage(self, target_policy, sampling_policy=None) -> float:
        """Coverage coefficient :math:`C(\\pi_t; \\pi_s)` (module docstring): the largest ratio of
        the target's pair probability to the sampler's, over contexts of positive weight and pairs
        the target uses. ``sampling_policy`` defaults to ``ref``; a :class:`PreferenceData` stands
        for the policy it was drawn from. ``inf`` iff the sampler misses a needed pair; exactly 1
        when the two policies are equal."""
        qt = _pair_table(self._check_policy(target_policy, "target_policy"))
        if isinstance(sampling_policy, PreferenceData):
            if sampling_policy.policy.shape != self._ref.shape:
                raise ValueError(f"sampling_policy (a PreferenceData) has policy shape "
                                 f"{sampling_policy.policy.shape}, expected {self._ref.shape}")
            sampling_policy = sampling_policy.policy
        ps = self._ref if sampling_policy is None else self._check_policy(sampling_policy, "sampling_policy")
        qs = _pair_table(ps)
        need = (qt > 0) & (self._w > 0)[:, None, None]
        if not need.any():
            raise ValueError("target_policy supports fewer than two responses in every context of "
                             "positive weight: it uses no pair, so there is nothing to cover")
        if np.any(qs[need] == 0):
            return math.inf
        return float(np.max(qt[need] / qs[need]))

    # -- datasets ---------------------------------------------------------------------------------
    def sample(self, n_pairs: int, *, eps: float = 0.0, rng=None, policy=None, model: str = "bt",
               flips: str = "symmetric", eps_minus=None) -> PreferenceData:
        """Draw ``n_pairs`` noisy comparisons (module docstring).

        Contexts from ``weights``; an ordered pair ``(i, j)``, ``i != j``, exactly from
        :meth:`pair_distribution` of ``policy`` (default ``ref``); the clean label from ``model``
        (``"bt"`` or ``"thurstone"``); then flipped: ``flips="symmetric"`` with probability ``eps``,
        ``"asymmetric"`` with ``eps`` for labels agreeing with the true reward and ``eps_minus`` for
        the others. ``eps, eps_minus`` in ``[0, 1/2)``. Returns a :class:`PreferenceData`.
        """
        n = check_int(n_pairs, "n_pairs", low=1)
        eps, flips, eps_minus = _check_noise_args(eps, flips, eps_minus)
        model = check_choice(model, "model", MODELS)
        gen = check_rng(rng)
        p = self._ref if policy is None else self._check_policy(policy, "policy")
        X, K = p.shape
        self._check_sampler_support(p)
        # contexts by inverse CDF over the weights (never a zero-weight context)
        cw = np.cumsum(self._w)
        last_w = int(np.flatnonzero(self._w > 0)[-1])
        contexts = np.minimum(np.searchsorted(cw, gen.random(n) * cw[-1], side="right"), last_w)
        # ordered pairs, exactly from the conditioned pair law, one inverse CDF per context
        u_pair = gen.random(n)
        first = np.empty(n, dtype=np.int64)
        second = np.empty(n, dtype=np.int64)
        order = np.argsort(contexts, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(contexts, minlength=X))])
        q = _pair_table(p)
        for x in np.flatnonzero(np.diff(bounds)):
            sel = order[bounds[x]:bounds[x + 1]]
            cdf = np.cumsum(q[x].ravel())
            last = int(np.flatnonzero(q[x].ravel() > 0)[-1])
            flat = np.minimum(np.searchsorted(cdf, u_pair[sel] * cdf[-1], side="right"), last)
            first[sel], second[sel] = np.divmod(flat, K)
        # clean labels from the preference model
        r = self._reward
        p_first = _link(r[contexts, first] - r[contexts, second], model)
        first_wins = gen.random(n) < p_first
        clean_w = np.where(first_wins, first, second)
        clean_l = np.where(first_wins, second, first)
        # flips
        agree = r[contexts, clean_w] >= r[contexts, clean_l]
        rate = np.where(agree, eps, eps_minus)
        flip = gen.random(n) < rate
        winners = np.where(flip, clean_l, clean_w)
        losers = np.where(flip, clean_w, clean_l)
        return PreferenceData(contexts=contexts.astype(np.int64), winners=winners, losers=losers,
                              clean_winners=clean_w, eps=eps, eps_minus=eps_minus, model=model,
                              flips=flips, policy=p)
