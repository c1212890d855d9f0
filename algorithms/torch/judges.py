r"""Pairwise judges: any function of a context and two responses returning ``P(a > b)``.

A *pairwise judge* is the preference oracle of Nash learning from human feedback (R. Munos et
al. 2023, *Nash Learning from Human Feedback*, arXiv 2312.00886, Section 2): a function

.. math::

    \mathcal{P}(y \succ y' \mid x) \in [0, 1], \qquad
    \mathcal{P}(y \succ y' \mid x) + \mathcal{P}(y' \succ y \mid x) = 1 ,

of a context ``x`` and two responses, **not** necessarily derived from a reward: it may be
intransitive (rock-paper-scissors cycles), which is why Nash learning targets an equilibrium
rather than a reward maximiser. The Bradley-Terry model (a reward model ``r`` and
``P(y > y') = sigmoid(r(x, y) - r(x, y'))``) is one special case, transitive by construction.

Protocol (:class:`PairwiseJudge`): ``judge(context, response_a, response_b)`` with a batch of
``B`` pairs returns a float64 tensor ``(B,)`` of probabilities ``P(a_i > b_i | x_i)``.
Responses are either index tensors ``(B,)`` (enumerated responses) or token tensors ``(B, L)``;
``context`` is ``None`` (one context) or a tensor with a leading batch axis ``B``.

Implementations
---------------
* :class:`BradleyTerryJudge` ``(reward_fn)``: ``sigmoid(r(x, a) - r(x, b))`` with
  ``reward_fn(context, responses) -> (B,)`` [R: the Bradley-Terry model, exactly].
* :class:`TableJudge` ``(P)``: an enumerated preference matrix ``P[i, j] = P(y_i > y_j)`` (or
  ``P[x, i, j]`` per context), e.g. ``game.Pref`` of an :class:`mdps.PreferenceGame`;
  intransitive allowed. Validated by building a ``PreferenceGame`` (entries in ``[0, 1]``,
  ``P + P^T = 1``). Token responses are mapped to their index in
  :func:`algorithms.torch.sequence.enumerate_sequences` order (base ``vocab_size``, most
  significant token first), so the judge of a sequence preference game reproduces its matrix.
* :class:`FunctionJudge` ``(fn)``: any callable with the protocol's signature, its outputs
  validated (shape ``(B,)``, finite, in ``[0, 1]``; with ``check_antisymmetry=True`` also
  ``fn(x, a, b) + fn(x, b, a) = 1`` within ``atol``).

Every judge validates its inputs (matching batch sizes, integer responses in range) and its
outputs, raising ``ValueError``/``TypeError`` naming the argument and the offending value; a
judge never returns NaN silently.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np
import torch

from mdps.preference import PreferenceGame
from mdps.validation import check_int, check_real

__all__ = ["PairwiseJudge", "BradleyTerryJudge", "TableJudge", "FunctionJudge", "check_probabilities",
           "sequence_index"]

#: tolerance of the optional antisymmetry check ``P(a > b) + P(b > a) = 1`` (float rounding of a
#: probability computed twice; a judge violating it by more is not a preference oracle)
ANTISYMMETRY_ATOL = 1e-9


@runtime_checkable
class PairwiseJudge(Protocol):
    """``judge(context, response_a, response_b) -> P(a > b | context)``, a float64 tensor ``(B,)``."""

    def __call__(self, context, response_a: torch.Tensor, response_b: torch.Tensor) -> torch.Tensor:
        ...


def _batch(t, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor with a leading batch axis, got {type(t).__name__}")
    if t.ndim == 0:
        raise ValueError(f"{name} must have a leading batch axis, got a 0-d tensor")
    return t


def _check_pair(context, a, b) -> int:
    a, b = _batch(a, "response_a"), _batch(b, "response_b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"response_a and response_b must have the same batch size, got {a.shape[0]} and "
                         f"{b.shape[0]}")
    if context is not None and isinstance(context, torch.Tensor) and context.ndim > 0 \
            and context.shape[0] != a.shape[0]:
        raise ValueError(f"context must have the batch size of the responses ({a.shape[0]}), got {context.shape[0]}")
    return int(a.shape[0])


def check_probabilities(p, batch: int, name: str = "judge output") -> torch.Tensor:
    """``p`` as a float64 tensor ``(batch,)`` of probabilities, else ``ValueError``/``TypeError``
    naming ``name``, the first offending index and its value."""
    if not isinstance(p, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of probabilities, got {type(p).__name__}")
    if tuple(p.shape) != (batch,):
        raise ValueError(f"{name} must have shape ({batch},), got {tuple(p.shape)}")
    if not p.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {p.dtype}")
    p = p.to(torch.float64)
    bad = ~torch.isfinite(p) | (p < 0) | (p > 1)
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0])
        raise ValueError(f"{name}[{i}] is {float(p[i])!r}, expected a probability in [0, 1]")
    return p


def sequence_index(responses: torch.Tensor, vocab_size: int, n_responses: int, name: str = "responses"
                   ) -> torch.Tensor:
    """Index of each response in the enumerated response space: ``(B,)`` integer indices pass
    through; ``(B, L)`` token sequences map to ``sum_t y_t V^{L-1-t}`` (the order of
    :func:`algorithms.torch.sequence.enumerate_sequences`). Validated: integers in range."""
    t = _batch(responses, name)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name} must be an integer tensor, got dtype {t.dtype}")
    t = t.long()
    if t.ndim == 1:
        hi = n_responses
    elif t.ndim == 2:
        if vocab_size is None:
            raise ValueError(f"{name} are token sequences {tuple(t.shape)}: the judge needs vocab_size")
        hi = vocab_size
    else:
        raise ValueError(f"{name} must have shape (B,) (indices) or (B, L) (tokens), got {tuple(t.shape)}")
    bad = (t < 0) | (t >= hi)
    if bool(bad.any()):
        v = int(t[tuple(torch.nonzero(bad)[0].tolist())])
        raise ValueError(f"{name} holds {v}, expected values in [0, {hi})")
    if t.ndim == 1:
        return t
    L = t.shape[1]
    if vocab_size**L != n_responses:
        raise ValueError(f"{name} have length {L}: vocab_size ** length = {vocab_size}**{L} = {vocab_size**L} must "
                         f"equal the number of responses {n_responses}")
    powers = vocab_size ** torch.arange(L - 1, -1, -1, device=t.device)
    return (t * powers).sum(dim=1)


class BradleyTerryJudge:
    """``P(a > b | x) = sigmoid(r(x, a) - r(x, b))`` from a reward model.

    ``reward_fn(context, responses) -> (B,)`` real rewards (any responses format it understands).
    Computed as ``sigmoid`` of the difference (``torch.sigmoid`` is stable for any finite
    argument), so ``P(a > b) + P(b > a) = 1`` up to rounding and ``P(a > a) = 1/2`` exactly.
    """

    def __init__(self, reward_fn: Callable):
        if not callable(reward_fn):
            raise TypeError(f"reward_fn must be callable, got {type(reward_fn).__name__}")
        self.reward_fn = reward_fn

    def rewards(self, context, responses) -> torch.Tensor:
        r = self.reward_fn(context, responses)
        n = int(responses.shape[0])
        if not isinstance(r, torch.Tensor):
            raise TypeError(f"reward_fn must return a torch.Tensor, got {type(r).__name__}")
        if tuple(r.shape) != (n,):
            raise ValueError(f"reward_fn must return shape ({n},), got {tuple(r.shape)}")
        r = r.to(torch.float64)
        bad = ~torch.isfinite(r)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            raise ValueError(f"reward_fn returned {float(r[i])!r} at index {i}, expected a finite reward")
        return r

    def __call__(self, context, response_a, response_b) -> torch.Tensor:
        B = _check_pair(context, response_a, response_b)
        p = torch.sigmoid(self.rewards(context, response_a) - self.rewards(context, response_b))
        return check_probabilities(p, B)


class TableJudge:
    """The judge of an enumerated preference matrix ``P (K, K)`` or ``(X, K, K)`` (a matrix or an
    :class:`mdps.PreferenceGame`), intransitive allowed; ``P + P^T = 1`` validated.

    ``vocab_size`` (optional) lets the judge read token sequences ``(B, L)`` with
    ``vocab_size ** L == K`` (enumeration order of :func:`algorithms.torch.sequence.enumerate_sequences`).
    A contextual matrix needs ``context``: an integer tensor ``(B,)`` of context indices.

    Examples
    --------
    >>> import numpy as np, torch
    >>> rps = np.array([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])  # intransitive
    >>> TableJudge(rps)(None, torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, P, *, vocab_size: int | None = None):
        if isinstance(P, torch.Tensor):
            P = P.detach().cpu().numpy()
        game = P if isinstance(P, PreferenceGame) else PreferenceGame(np.asarray(P, dtype=np.float64))
        self.game = game
        M = np.asarray(game.Pref, dtype=np.float64)
        self.contextual = M.ndim == 3
        self.Pref = torch.tensor(M if self.contextual else M[None], dtype=torch.float64)  # (X, K, K)
        self.n_responses = int(self.Pref.shape[-1])
        self.vocab_size = None if vocab_size is None else check_int(vocab_size, "vocab_size", low=2)

    def __call__(self, context, response_a, response_b) -> torch.Tensor:
        B = _check_pair(context, response_a, response_b)
        i = sequence_index(response_a, self.vocab_size, self.n_responses, "response_a").cpu()
        j = sequence_index(response_b, self.vocab_size, self.n_responses, "response_b").cpu()
        X = self.Pref.shape[0]
        if self.contextual:
            if context is None:
                raise ValueError(f"context is required for a contextual preference matrix ({X} contexts)")
            x = sequence_index(torch.as_tensor(context), None, X, "context").cpu()
            if x.shape[0] != B:
                raise ValueError(f"context must have the batch size of the responses ({B}), got {x.shape[0]}")
        else:
            x = torch.zeros(B, dtype=torch.long)
        return check_probabilities(self.Pref[x, i, j], B)


class FunctionJudge:
    """Any callable ``fn(context, response_a, response_b) -> (B,)`` as a validated judge.

    ``check_antisymmetry=True`` also evaluates ``fn(context, b, a)`` and requires
    ``P(a > b) + P(b > a) = 1`` within ``atol`` (default :data:`ANTISYMMETRY_ATOL`), naming the
    first pair that violates it.
    """

    def __init__(self, fn: Callable, *, check_antisymmetry: bool = False, atol: float = ANTISYMMETRY_ATOL):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if not isinstance(check_antisymmetry, bool):
            raise TypeError(f"check_antisymmetry must be a bool, got {check_antisymmetry!r}")
        self.fn = fn
        self.check_antisymmetry = check_antisymmetry
        self.atol = check_real(atol, "atol", low=0.0)

    def __call__(self, context, response_a, response_b) -> torch.Tensor:
        B = _check_pair(context, response_a, response_b)
        p = check_probabilities(self.fn(context, response_a, response_b), B)
        if self.check_antisymmetry:
            q = check_probabilities(self.fn(context, response_b, response_a), B, "judge output (swapped)")
            gap = (p + q - 1.0).abs()
            if bool((gap > self.atol).any()):
                i = int(torch.argmax(gap))
                raise ValueError(f"judge is not antisymmetric: P(a > b) + P(b > a) = {float(p[i] + q[i])!r} at pair "
                                 f"{i}, expected 1 within atol={self.atol:g}")
        return p
