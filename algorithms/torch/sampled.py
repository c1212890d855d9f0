r"""Sampled Nash-MD on a sequence policy: duels drawn from the policy and its geometric mixture,
decided by a pairwise judge, and the score-function gradient of the KL-regularised objective.

Paper: R. Munos et al. (2023), *Nash Learning from Human Feedback*, arXiv 2312.00886, Section 7
(Nash-MD-PG). At the current parameters ``theta`` with policy ``pi = pi_theta`` over the ``V^L``
enumerated responses and reference ``mu``, one gradient step samples ``n`` duels

.. math::

    y_i \sim \pi, \qquad y'_i \sim \pi^\mu \propto \pi^{1-\eta\beta}\mu^{\eta\beta}, \qquad
    o_i \sim \mathrm{Bernoulli}\big(\mathcal{P}(y_i \succ y'_i)\big),

with :math:`\mathcal{P}` a :class:`algorithms.torch.judges.PairwiseJudge`, and descends the
surrogate :func:`algorithms.torch.nash.sampled_nash_md_pg_loss`, whose gradient is an unbiased
estimate [R] of the gradient of Nash-MD's KL-regularised policy-gradient loss
:func:`algorithms.torch.nash.nash_md_pg_objective` ``-(pi^T Pref pi^mu - beta KL(pi || mu))``
with the opponent ``pi^mu`` held fixed (the derivation is in that function's docstring). The
check ``torch_bridge.sampled_gradient_unbiased`` measures it: the mean of many sampled gradients
against the exact autograd gradient of the enumerated objective, with z-scores.

Departures (marked): ``y`` and ``y'`` are drawn from the *enumerated* policy and the exactly
normalised sequence-level geometric mixture (an LLM would sample token by token and mix per
token, which changes the opponent's distribution; not in scope). This is stochastic gradient
descent on a moving objective, not the exact mirror step: its iterates are a different dynamic
from the exact-oracle regime of :func:`algorithms.torch.train_sequence_policy`, compared in
distribution through the gradient and on the exploitability curve (notebook 06), not iterate by
iterate.
"""

from __future__ import annotations

import torch

from mdps.preference import check_beta
from mdps.validation import check_int, check_real

from algorithms.torch import nash as tnash
from algorithms.torch.judges import check_probabilities
from algorithms.torch.sequence import _check_model, sequence_log_probs

__all__ = ["sample_duels", "sampled_loss", "exact_loss", "make_sampled_step"]


def sample_duels(log_pi: torch.Tensor, log_mu: torch.Tensor, sequences: torch.Tensor, judge, *, eta: float,
                 beta: float, n_duels: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor,
                                                                                 torch.Tensor]:
    """``n_duels`` duels: indices ``y ~ exp(log_pi)``, ``y' ~`` the geometric mixture with weight
    ``eta beta``, and outcomes ``o ~ Bernoulli(judge(None, sequences[y], sequences[y']))``.

    ``log_pi``, ``log_mu``: ``(K,)`` normalised log-policies over the enumerated ``sequences (K, L)``.
    Returns ``(y, y_prime, outcomes)``, each ``(n_duels,)`` (outcomes float64 in {0, 1}).
    """
    n = check_int(n_duels, "n_duels", low=1)
    w = check_real(float(eta) * float(beta), "eta * beta", low=0.0, high=1.0)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    log_pi, log_mu = log_pi.detach(), log_mu.detach()
    y = torch.multinomial(torch.exp(log_pi), n, replacement=True, generator=generator)
    y_prime = tnash.sample_geometric_mixture(log_pi[None], log_mu[None], w, n, rng=generator)[0]
    p = check_probabilities(judge(None, sequences[y], sequences[y_prime]), n)
    outcomes = torch.bernoulli(p.to(log_pi.device), generator=generator)
    return y, y_prime, outcomes


def sampled_loss(model, judge, log_mu: torch.Tensor, sequences: torch.Tensor, *, beta: float, eta: float,
                 n_duels: int, generator: torch.Generator) -> torch.Tensor:
    """One sampled Nash-MD-PG surrogate loss of ``model`` (differentiable in its parameters; module
    docstring): duels from :func:`sample_duels`, then
    :func:`algorithms.torch.nash.sampled_nash_md_pg_loss` on ``log pi_theta(y_i)`` recomputed by the model."""
    b = check_beta(beta)
    with torch.no_grad():
        log_pi = torch.log_softmax(sequence_log_probs(model, sequences), dim=-1)
    y, _, outcomes = sample_duels(log_pi, log_mu, sequences, judge, eta=eta, beta=b, n_duels=n_duels,
                                  generator=generator)
    logp = sequence_log_probs(model, sequences[y])
    return tnash.sampled_nash_md_pg_loss(logp, log_mu[y], outcomes, b)


def exact_loss(model, Pref: torch.Tensor, log_mu: torch.Tensor, sequences: torch.Tensor, *, beta: float,
               eta: float) -> torch.Tensor:
    """The exact objective whose gradient :func:`sampled_loss` estimates: Nash-MD's PG loss
    :func:`algorithms.torch.nash.nash_md_pg_objective` of the model's enumerated log-policy against
    the geometric mixture (held fixed). ``Pref (K, K)`` or ``(1, K, K)`` the judge's matrix."""
    b = check_beta(beta)
    w = check_real(float(eta) * b, "eta * beta", low=0.0, high=1.0)
    _check_model(model)
    z = sequence_log_probs(model, sequences)[None]
    P = Pref if Pref.ndim == 3 else Pref[None]
    opponent = torch.exp(tnash.geometric_mixture(z.detach(), log_mu[None], w))
    return tnash.nash_md_pg_objective(z, P.to(z.dtype), opponent, log_mu[None], b)


def make_sampled_step(model, judge, log_mu: torch.Tensor, sequences: torch.Tensor, *, beta: float, eta: float,
                      n_duels: int, generator: torch.Generator):
    """A closure returning a fresh :func:`sampled_loss` of ``model`` at each call (the training loop's step)."""
    def step() -> torch.Tensor:
        return sampled_loss(model, judge, log_mu, sequences, beta=beta, eta=eta, n_duels=n_duels,
                            generator=generator)
    return step
