r"""Any model returning per-token logits as a sequence policy (a Hugging Face causal LM works).

:class:`LogitsModelPolicy` wraps a module ``model(input_ids) -> logits`` (a tensor ``(B, T, N)``,
or an object with a ``.logits`` attribute, as Hugging Face causal LMs return) into the interface
of :mod:`algorithms.torch.sequence`: ``vocab_size``, ``max_len`` and ``log_prob(sequences)``, so
that :func:`~algorithms.torch.sequence.sequence_log_probs`,
:func:`~algorithms.torch.sequence.response_log_policy` (enumeration of the ``V^L`` responses) and
:func:`~algorithms.torch.train_sequence_policy` (exact or sampled mode) accept it.

Convention (the causal-LM one): ``logits[:, i]`` is the distribution of token ``i + 1`` given
tokens ``0..i``. With a prompt ``x = (x_1, ..., x_P)`` (``P >= 1``; e.g. a BOS token) and a response
``y = (y_1, ..., y_L)``, the model reads ``(x, y)`` and

.. math::

    \log\pi(y \mid x) = \sum_{t=1}^{L} \log \operatorname{softmax}_{a \in \mathcal{A}}
        \big(\ell_{P + t - 1}[a]\big)_{y_t},

where ``ell_i`` are the logits at position ``i`` (0-based) and ``A`` is the response alphabet
``tokens`` (default: all ``N`` model tokens). Restricting the softmax to ``A`` (constrained
decoding) makes the policy a distribution over ``A^L`` whose enumerated probabilities sum to 1
exactly (the product of normalised factors, by induction over ``t``), so that a tabular game can be
played on it with a large-vocabulary model. In the sequence-policy interface a response token is
an index into ``tokens`` (``0 .. V - 1``, ``V = len(tokens)``), mapped to the model's token ids.

The log-probabilities are computed by ``torch.log_softmax`` in float64 from the model's logits
(cast after the model's forward pass, which runs in the model's dtype).
"""

from __future__ import annotations

import torch
from torch import nn

from mdps.validation import check_int

__all__ = ["LogitsModelPolicy", "logits_of"]


def logits_of(output) -> torch.Tensor:
    """The logits tensor of a model's output: the output itself or its ``.logits`` attribute."""
    logits = output if isinstance(output, torch.Tensor) else getattr(output, "logits", None)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"model must return a logits tensor or an object with .logits, got {type(output).__name__}")
    return logits


def _token_tensor(t, name: str, *, ndim: tuple[int, ...]) -> torch.Tensor:
    t = torch.as_tensor(t)
    if t.numel() == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name} must hold integer token ids, got dtype {t.dtype}")
    if t.ndim not in ndim or t.shape[-1] == 0:
        raise ValueError(f"{name} must be a non-empty tensor with ndim in {ndim}, got shape {tuple(t.shape)}")
    if bool((t < 0).any()):
        raise ValueError(f"{name} holds {int(t.min())}, expected token ids >= 0")
    return t.long()


class LogitsModelPolicy(nn.Module):
    """A per-token-logits model as a sequence policy over responses of at most ``max_len`` tokens.

    Parameters
    ----------
    model : nn.Module
        ``model(input_ids (B, T)) -> (B, T, N)`` logits, or an object with ``.logits`` (Hugging
        Face ``AutoModelForCausalLM``). Registered as a submodule (trained in place).
    prompt : sequence of int or Tensor (P,)
        The context ``x``, ``P >= 1`` model token ids (a BOS token is the usual one-token prompt).
    max_len : int
        The longest response.
    tokens : sequence of int, optional
        The response alphabet (distinct model token ids; default ``range(N)``, ``N`` read from the
        first forward pass is not known in advance, so pass ``vocab_size`` instead to take ``0..V-1``).
    vocab_size : int, optional
        Shorthand for ``tokens = range(vocab_size)``. Exactly one of ``tokens`` and ``vocab_size``.

    Examples
    --------
    >>> import torch
    >>> class Bigram(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = torch.nn.Embedding(4, 4)
    ...     def forward(self, ids):
    ...         return self.w(ids)
    >>> pol = LogitsModelPolicy(Bigram(), prompt=[3], max_len=2, tokens=[0, 1, 2])
    >>> from algorithms.torch.sequence import response_log_policy
    >>> round(float(response_log_policy(pol, 2).exp().sum()), 6)
    1.0
    """

    def __init__(self, model: nn.Module, *, prompt, max_len: int, tokens=None, vocab_size: int | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module returning per-token logits, got {type(model).__name__}")
        if (tokens is None) == (vocab_size is None):
            raise ValueError("pass exactly one of tokens (the response alphabet) and vocab_size")
        if tokens is None:
            tokens = range(check_int(vocab_size, "vocab_size", low=2))
        tok = _token_tensor(list(tokens) if not isinstance(tokens, torch.Tensor) else tokens, "tokens", ndim=(1,))
        if tok.numel() < 2 or tok.unique().numel() != tok.numel():
            raise ValueError(f"tokens must be at least 2 distinct token ids, got {tok.tolist()}")
        self.model = model
        self.vocab_size = int(tok.numel())
        self.max_len = check_int(max_len, "max_len", low=1)
        self.register_buffer("tokens", tok, persistent=False)
        self.register_buffer("prompt", _token_tensor(prompt, "prompt", ndim=(1,)), persistent=False)

    def _logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        logits = logits_of(self.model(input_ids))
        B, T = input_ids.shape
        if logits.ndim != 3 or tuple(logits.shape[:2]) != (B, T):
            raise ValueError(f"model logits must have shape (B, T, N) = ({B}, {T}, N), got {tuple(logits.shape)}")
        if int(self.tokens.max()) >= logits.shape[-1]:
            raise ValueError(f"tokens holds {int(self.tokens.max())}, expected ids below the model's "
                             f"{logits.shape[-1]} logits")
        return logits

    def log_prob(self, sequences: torch.Tensor) -> torch.Tensor:
        """``log pi(y | prompt)`` per response: ``sequences (B, L)`` alphabet indices in ``[0, V)``,
        ``1 <= L <= max_len``; returns ``(B,)`` float64, differentiable in the model's parameters."""
        seq = _token_tensor(sequences, "sequences", ndim=(2,))
        if not 1 <= seq.shape[1] <= self.max_len:
            raise ValueError(f"sequences must have 1 <= L <= max_len = {self.max_len} tokens, got {seq.shape[1]}")
        if seq.numel() and int(seq.max()) >= self.vocab_size:
            raise ValueError(f"sequences holds {int(seq.max())}, expected alphabet indices in [0, {self.vocab_size})")
        seq = seq.to(self.tokens.device)
        B, L = seq.shape
        P = self.prompt.numel()
        ids = torch.cat([self.prompt.expand(B, P), self.tokens[seq]], dim=1)
        logits = self._logits(ids)[:, P - 1: P + L - 1]  # position P + t - 1 predicts response token t
        logp = torch.log_softmax(logits[..., self.tokens].to(torch.float64), dim=-1)  # over the alphabet
        return logp.gather(-1, seq[..., None]).squeeze(-1).sum(dim=-1)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`log_prob`."""
        return self.log_prob(sequences)
