r"""Nash learning updates in torch, on the logits of a :class:`TabularSoftmaxPolicy` (exact mode).

The tabular Nash-learning lab (:mod:`algorithms.nash`) runs every update as one or two closed-form
geometric steps on log-policies (the shared prox primitive, docs/theory/nash.md, section
'Closed-form prox steps'). This module applies **the same closed-form mirror steps to the
logits of a torch policy**, so that in float64 on the CPU each torch algorithm's iterates equal
the NumPy/Numba lab's iterates on the same preference game (to 1e-10; the check
``torch_bridge.exact_iterates`` and ``tests/test_torch_nash.py`` measure it), and it gives the
differentiable losses whose gradients are those update directions, the form a neural policy
trains with.

Papers (tags as ``labkit.TAGS``; docs/theory/torch_bridge.md)
------------------------------------------------------------
* OMD / INPO: Y. Zhang et al. (2024), *Iterative Nash Policy Optimization*, arXiv 2407.00617.
* Nash-MD: R. Munos et al. (2023), *Nash Learning from Human Feedback*, arXiv 2312.00886.
* Nash-MP: D. Tiapkin et al. (2025), *Accelerating Nash Learning from Human Feedback via Mirror
  Prox*, arXiv 2505.19731.

Updates (our symbols: ``beta`` = the papers' tau, ``eta`` multiplies the win rate, ``mu`` the
reference; ``g(pi') = Pref pi'`` the win-rate vector, per context)
-------------------------------------------------------------------------------------------

.. math::

    \mathrm{prox}(z_0, v)       &= \operatorname{log\,softmax}\big(s z_0 + (1-s)\log\mu + \eta s v\big),
        \quad s = 1/(1+\eta\beta) \\
    \mathrm{prox}^{lin}(z_0, v) &= \operatorname{log\,softmax}\big((1-\eta\beta) z_0 + \eta\beta\log\mu + \eta v\big)

* OMD (``prox="linearized"``, = INPO's closed form) ``z_{t+1} = prox^lin(z_t, g(pi_t))``;
  ``prox="exact"``: ``prox(z_t, g(pi_t))``.
* Nash-MD: ``z^mu = prox^lin(z_t, 0)`` (the geometric mixture ``pi_t^{1-eta beta} mu^{eta beta}``),
  ``z_{t+1} = prox^lin(z_t, g(pi^mu))`` [A; the step is exact, R].
* Nash-MP: ``z_{t+1/2} = prox(z_t, g(pi_t))``, ``z_{t+1} = prox(z_t, g(pi_{t+1/2}))`` [A].

The step sizes are :func:`algorithms.nash.step_sizes` (the same schedules). These are written
with torch operations here (a second, tensor-valued, evaluation of the lab's one prox formula,
tested against it iterate by iterate rather than trusted).

Losses whose gradients are the update directions [R, derivations in docs/theory/torch_bridge.md]
------------------------------------------------------------------------------------------------
* :func:`preference_objective` ``sum_x pi_x^T Pref_x pi'_x``: its gradient in ``pi`` is the win
  rate ``g(pi')`` (the payoff of every step above).
* :func:`nash_md_pg_loss` ``-(P(pi > pi') - beta KL(pi || mu))`` with the opponent ``pi'`` held
  fixed (Nash-MD's KL-regularised policy-gradient loss, opponent ``pi^mu``): for the softmax
  policy its gradient in the logits is ``-pi * (w - <pi, w>)`` with ``w = g(pi') - beta (log pi -
  log mu)``, so ``-grad / pi`` (the natural gradient, exact Fisher of a tabular softmax) equals
  ``(z_{t+1} - z_t)/eta`` up to a constant per context: the Nash-MD (and OMD) step direction.
* :func:`prox_loss` ``-Phi(pi)`` with ``Phi = eta <pi, v> - eta beta KL(pi || mu) - KL(pi || pi_0)``:
  the exact prox step is its unique minimiser, so its gradient vanishes there (Nash-MP's two
  steps, OMD's exact prox).
* INPO's pair loss is :func:`algorithms.torch.losses.inpo`.

Sampling from the geometric mixture: :func:`sample_geometric_mixture` draws responses from
``pi^mu`` (the tabular mixture is normalised exactly; an LLM would mix per token, which is not
in scope here).
"""

from __future__ import annotations

import numpy as np
import torch

from mdps.preference import PreferenceGame, check_beta
from mdps.validation import check_choice, check_int, check_real

from algorithms.nash import step_sizes
from algorithms.torch.policies import TabularSoftmaxPolicy

__all__ = [
    "prox_step",
    "linearized_prox_step",
    "geometric_mixture",
    "win_rates",
    "preference_objective",
    "nash_md_pg_loss",
    "nash_md_pg_objective",
    "sampled_nash_md_pg_loss",
    "prox_loss",
    "omd_step",
    "nash_md_step",
    "nash_mp_step",
    "online_mirror_descent",
    "nash_md",
    "nash_mirror_prox",
    "inpo",
    "sample_geometric_mixture",
    "pref_tensor",
]


# ----------------------------------------------------------------------------- primitives
def prox_step(log_pi0: torch.Tensor, log_mu: torch.Tensor, v, eta: float, beta: float) -> torch.Tensor:
    """Exact two-anchor prox ``log softmax(s log_pi0 + (1-s) log_mu + eta s v)``, ``s = 1/(1+eta beta)``
    (``v = None``: no payoff). Tensors ``(X, K)``; returns the normalised log-policy."""
    s = 1.0 / (1.0 + float(eta) * float(beta))
    z = s * log_pi0
    if beta != 0.0:
        z = z + (1.0 - s) * log_mu
    if v is not None:
        z = z + (eta * s) * v
    return torch.log_softmax(z, dim=-1)


def linearized_prox_step(log_pi0: torch.Tensor, log_mu: torch.Tensor, v, eta: float, beta: float) -> torch.Tensor:
    """Linearised prox ``log softmax((1 - eta beta) log_pi0 + eta beta log_mu + eta v)``
    (``v = None``: the geometric mixture). Needs ``eta beta <= 1``."""
    a = float(eta) * float(beta)
    z = (1.0 - a) * log_pi0
    if a != 0.0:
        z = z + a * log_mu
    if v is not None:
        z = z + eta * v
    return torch.log_softmax(z, dim=-1)


def geometric_mixture(log_pi: torch.Tensor, log_mu: torch.Tensor, weight: float) -> torch.Tensor:
    """``log`` of ``pi^{1-w} mu^w / Z`` (Nash-MD's regularised opponent with ``w = eta beta``), ``w`` in [0, 1]."""
    w = check_real(weight, "weight", low=0.0, high=1.0)
    return linearized_prox_step(log_pi, log_mu, None, w, 1.0)


def win_rates(Pref: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
    """``g = Pref pi`` per context: ``Pref (X, K, K)``, ``pi (X, K)`` -> ``(X, K)``."""
    return torch.matmul(Pref, pi.unsqueeze(-1)).squeeze(-1)


# ----------------------------------------------------------------------------- losses
def preference_objective(pi: torch.Tensor, Pref: torch.Tensor, opponent: torch.Tensor) -> torch.Tensor:
    """``sum_x pi_x^T Pref_x opponent_x`` (the win probability against ``opponent``, summed over
    contexts); its gradient in ``pi`` is :func:`win_rates` of ``opponent``."""
    return (pi * win_rates(Pref, opponent)).sum()


def _kl_rows(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    return (torch.exp(log_p) * (log_p - log_q)).sum(dim=-1)


def nash_md_pg_loss(policy: TabularSoftmaxPolicy, Pref: torch.Tensor, opponent: torch.Tensor,
                    log_mu: torch.Tensor, beta: float) -> torch.Tensor:
    """Nash-MD's KL-regularised policy-gradient loss ``-(P(pi > opponent) - beta KL(pi || mu))``,
    summed over contexts, with ``opponent`` (``(X, K)``, e.g. the geometric mixture) held fixed
    (module docstring: its natural gradient is the Nash-MD step direction)."""
    return nash_md_pg_objective(policy(), Pref, opponent, log_mu, beta)


def nash_md_pg_objective(log_pi: torch.Tensor, Pref: torch.Tensor, opponent: torch.Tensor, log_mu: torch.Tensor,
                         beta: float) -> torch.Tensor:
    """:func:`nash_md_pg_loss` on a log-policy tensor ``(X, K)`` (e.g. a sequence model's enumerated
    log-policy, differentiable in its parameters) instead of a :class:`TabularSoftmaxPolicy`."""
    b = check_beta(beta, allow_zero=True)
    return -(preference_objective(torch.exp(log_pi), Pref, opponent.detach()) - b * _kl_rows(log_pi, log_mu).sum())


def sampled_nash_md_pg_loss(logp: torch.Tensor, ref_logp: torch.Tensor, outcomes: torch.Tensor,
                            beta: float) -> torch.Tensor:
    r"""The score-function (REINFORCE) estimate of :func:`nash_md_pg_objective` from ``n`` sampled duels.

    Inputs ``(n,)``: ``logp = log pi_theta(y_i)`` (differentiable), ``ref_logp = log mu(y_i)``,
    ``outcomes`` the duels' results ``o_i`` in ``[0, 1]`` of ``y_i ~ pi_theta`` against
    ``y'_i ~ pi^mu`` (the opponent, held fixed), e.g. Bernoulli draws of a judge's ``P(y_i > y'_i)``.
    Returns the surrogate ``-(1/n) sum_i logp_i * A_i`` with the advantage (held fixed)

    .. math::

        A_i = o_i - eta(\log\pi(y_i) - \log\mu(y_i)) - b_i, \qquad
        b_i = rac{1}{n-1}\sum_{j 
e i}ig(o_j - eta(\log\pi(y_j) - \log\mu(y_j))ig),

    (leave-one-out baseline, ``n >= 2``). Its gradient is an unbiased estimate of the gradient of
    :func:`nash_md_pg_objective` [R; derivation]: with ``g = Pref pi^mu``,
    ``grad sum_y pi(y) (g(y) - beta (log pi(y) - log mu(y))) = E_{y ~ pi}[grad log pi(y) (g(y) -
    beta (log pi(y) - log mu(y)))] - beta E_pi[grad log pi]``, the last term ``sum_y grad pi(y) = 0``;
    ``E[o_i | y_i] = g(y_i)``; and ``b_i`` is independent of ``y_i``, so ``E[grad log pi(y_i) b_i] =
    E[b_i] E[grad log pi(y_i)] = 0``. (Munos et al. 2023, arXiv 2312.00886, Section 7, Nash-MD-PG.)
    """
    b = check_beta(beta, allow_zero=True)
    for name, t in (("logp", logp), ("ref_logp", ref_logp), ("outcomes", outcomes)):
        if not isinstance(t, torch.Tensor) or t.ndim != 1:
            raise ValueError(f"{name} must be a 1-d torch.Tensor (n,), got {t!r:.80}")
    n = logp.shape[0]
    if ref_logp.shape[0] != n or outcomes.shape[0] != n:
        raise ValueError(f"logp, ref_logp and outcomes must have one length, got {n}, {ref_logp.shape[0]}, "
                         f"{outcomes.shape[0]}")
    if n < 2:
        raise ValueError(f"the leave-one-out baseline needs n >= 2 duels, got n={n}")
    with torch.no_grad():
        reward = outcomes.to(logp.dtype) - b * (logp - ref_logp.to(logp.dtype))
        baseline = (reward.sum() - reward) / (n - 1)
        advantage = reward - baseline
    return -(logp * advantage).mean()


def prox_loss(policy: TabularSoftmaxPolicy, log_pi0: torch.Tensor, log_mu: torch.Tensor, v: torch.Tensor,
              eta: float, beta: float) -> torch.Tensor:
    """``-Phi(pi)``, ``Phi = eta <pi, v> - eta beta KL(pi || mu) - KL(pi || pi_0)`` summed over
    contexts; :func:`prox_step` is its unique minimiser."""
    log_pi = policy()
    pi = torch.exp(log_pi)
    phi = eta * (pi * v).sum() - eta * beta * _kl_rows(log_pi, log_mu).sum() - _kl_rows(log_pi, log_pi0).sum()
    return -phi


# ----------------------------------------------------------------------------- validation
def pref_tensor(game, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """``Pref`` of an :class:`mdps.PreferenceGame` (or of a matrix, validated by building one) as a
    ``(X, K, K)`` tensor."""
    if not isinstance(game, PreferenceGame):
        arr = game.detach().cpu().numpy() if isinstance(game, torch.Tensor) else game
        game = PreferenceGame(np.asarray(arr, dtype=np.float64))
    P = np.asarray(game.Pref, dtype=np.float64)
    return torch.tensor(P if P.ndim == 3 else P[None], dtype=dtype, device=device)


def _log_rows(p, name: str, X: int, K: int, dtype, device) -> torch.Tensor:
    arr = p.detach().cpu().numpy() if isinstance(p, torch.Tensor) else p
    try:
        pol = TabularSoftmaxPolicy.from_policy(np.asarray(arr, dtype=np.float64))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    lp = pol().detach()
    if lp.shape[-1] != K or lp.shape[0] not in (1, X):
        raise ValueError(f"{name} must have shape ({K},) or ({X}, {K}), got {tuple(np.shape(arr))}")
    return lp.expand(X, K).to(dtype=dtype, device=device).clone()


def _check_step_args(policy, Pref, log_mu, eta, beta, *, linearized: bool) -> tuple[float, float]:
    """Validate the arguments of a single step: the policy module, ``Pref (X, K, K)`` and
    ``log_mu (X, K)`` tensors of its shape, ``eta > 0``, ``beta >= 0`` (``eta beta <= 1`` for a
    linearised step). Returns ``(eta, beta)`` as floats."""
    if not isinstance(policy, TabularSoftmaxPolicy):
        raise TypeError(f"policy must be a TabularSoftmaxPolicy, got {type(policy).__name__}")
    X, K = policy.n_contexts, policy.n_responses
    for name, t, shape in (("Pref", Pref, (X, K, K)), ("log_mu", log_mu, (X, K))):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (see pref_tensor), got {type(t).__name__}")
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} for this policy, got {tuple(t.shape)}")
    e = check_real(eta, "eta", low=0.0, low_open=True)
    b = check_beta(beta, allow_zero=True)
    if linearized and e * b > 1.0 + 1e-12:
        raise ValueError(f"eta * beta must be <= 1 for a linearised step, got eta={eta!r}, beta={beta!r}")
    return e, b


# ----------------------------------------------------------------------------- steps on a policy
@torch.no_grad()
def omd_step(policy: TabularSoftmaxPolicy, Pref: torch.Tensor, log_mu: torch.Tensor, eta: float, beta: float,
             *, prox: str = "linearized") -> torch.Tensor:
    """One OMD / INPO step on ``policy``'s logits, in place; returns the new log-policy.

    ``prox`` is ``"linearized"`` (INPO's closed form; ``eta beta <= 1``) or ``"exact"``."""
    prox = check_choice(prox, "prox", ("linearized", "exact"))
    eta, beta = _check_step_args(policy, Pref, log_mu, eta, beta, linearized=prox == "linearized")
    z = policy()
    g = win_rates(Pref, torch.exp(z))
    step = linearized_prox_step if prox == "linearized" else prox_step
    z = step(z, log_mu, g, eta, beta)
    policy.set_log_policy(z)
    return z


@torch.no_grad()
def nash_md_step(policy: TabularSoftmaxPolicy, Pref: torch.Tensor, log_mu: torch.Tensor, eta: float,
                 beta: float) -> torch.Tensor:
    """One Nash-MD step: against the geometric mixture ``pi^{1-eta beta} mu^{eta beta}``, in place
    (``eta beta <= 1``); returns the new log-policy."""
    eta, beta = _check_step_args(policy, Pref, log_mu, eta, beta, linearized=True)
    z = policy()
    z_mu = linearized_prox_step(z, log_mu, None, eta, beta)
    g = win_rates(Pref, torch.exp(z_mu))
    z = linearized_prox_step(z, log_mu, g, eta, beta)
    policy.set_log_policy(z)
    return z


@torch.no_grad()
def nash_mp_step(policy: TabularSoftmaxPolicy, Pref: torch.Tensor, log_mu: torch.Tensor, eta: float,
                 beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One Nash Mirror Prox iteration (extrapolation, then update, both from ``z_t``), in place;
    returns ``(z_{t+1/2}, z_{t+1})``."""
    eta, beta = _check_step_args(policy, Pref, log_mu, eta, beta, linearized=False)
    z = policy()
    z_half = prox_step(z, log_mu, win_rates(Pref, torch.exp(z)), eta, beta)
    z_new = prox_step(z, log_mu, win_rates(Pref, torch.exp(z_half)), eta, beta)
    policy.set_log_policy(z_new)
    return z_half, z_new


# ----------------------------------------------------------------------------- runs
def _run(kind: str, game, beta, eta, n_iter, ref, init, schedule, linear_bound: bool, **kw) -> torch.Tensor:
    P = pref_tensor(game)
    X, K = P.shape[0], P.shape[-1]
    b = check_beta(beta)
    n = check_int(n_iter, "n_iter", low=1)
    etas = step_sizes(schedule, eta, n, beta=b)
    if linear_bound and (etas * b > 1.0 + 1e-12).any():
        t = int(np.argmax(etas * b > 1.0 + 1e-12))
        raise ValueError(f"eta_t * beta must be <= 1 for {kind}'s linearised step, got eta_{t}={etas[t]!r}, "
                         f"beta={beta!r}")
    if ref is None:
        ref = game.ref if isinstance(game, PreferenceGame) else np.full(K, 1.0 / K)
    log_mu = _log_rows(ref, "ref", X, K, P.dtype, P.device)
    log_init = log_mu.clone() if init is None else _log_rows(init, "init", X, K, P.dtype, P.device)
    policy = TabularSoftmaxPolicy(log_init)
    out = torch.empty((n + 1, X, K), dtype=P.dtype)
    out[0] = policy.probs().detach()
    for t in range(n):
        e = float(etas[t])
        if kind == "nash_md":
            nash_md_step(policy, P, log_mu, e, b)
        elif kind == "nash_mirror_prox":
            nash_mp_step(policy, P, log_mu, e, b)
        else:
            omd_step(policy, P, log_mu, e, b, **kw)
        out[t + 1] = policy.probs().detach()
    return out


def online_mirror_descent(game, beta, eta, n_iter, ref=None, init=None, *, prox: str = "linearized",
                          schedule="constant") -> torch.Tensor:
    """OMD self-play on a :class:`TabularSoftmaxPolicy`: the iterates ``(n_iter + 1, X, K)``
    (float64), to compare with :func:`algorithms.nash.online_mirror_descent` ``.policies``."""
    p = check_choice(prox, "prox", ("linearized", "exact"))
    return _run("omd", game, beta, eta, n_iter, ref, init, schedule, p == "linearized", prox=p)


def inpo(game, beta, eta, n_iter, ref=None, init=None, *, schedule="constant") -> torch.Tensor:
    """INPO's closed-form iterates (the linearised OMD step), as :func:`algorithms.nash.inpo`."""
    return _run("omd", game, beta, eta, n_iter, ref, init, schedule, True, prox="linearized")


def nash_md(game, beta, eta, n_iter, ref=None, init=None, *, schedule="constant") -> torch.Tensor:
    """Nash-MD iterates ``(n_iter + 1, X, K)``, as :func:`algorithms.nash.nash_md` ``.policies``."""
    return _run("nash_md", game, beta, eta, n_iter, ref, init, schedule, True)


def nash_mirror_prox(game, beta, eta, n_iter, ref=None, init=None, *, schedule="constant") -> torch.Tensor:
    """Nash-MP iterates ``(n_iter + 1, X, K)``, as :func:`algorithms.nash.nash_mirror_prox` ``.policies``."""
    return _run("nash_mirror_prox", game, beta, eta, n_iter, ref, init, schedule, False)


# ----------------------------------------------------------------------------- sampling
def sample_geometric_mixture(log_pi: torch.Tensor, log_mu: torch.Tensor, weight: float, n: int, *,
                             rng) -> torch.Tensor:
    """``n`` responses per context from ``pi^{1-w} mu^w / Z``: an int64 tensor ``(X, n)``.

    ``rng`` (keyword-only, required) is a ``torch.Generator`` or an int seed (a fresh CPU
    generator seeded with it); torch's global random state is never used.
    """
    n = check_int(n, "n", low=1)
    if isinstance(rng, torch.Generator):
        generator = rng
    elif isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and 0 <= int(rng) < 2**63:
        generator = torch.Generator().manual_seed(int(rng))
    else:
        raise TypeError(f"rng must be a torch.Generator or an int seed in [0, 2**63), got {rng!r}")
    probs = torch.exp(geometric_mixture(log_pi, log_mu, weight))
    return torch.multinomial(probs, n, replacement=True, generator=generator)
