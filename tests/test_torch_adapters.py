"""The logits-model adapter: a module returning per-token logits (a tensor, or an object with
``.logits`` as Hugging Face causal LMs return) as a sequence policy.

* Exact: on a stub causal model the adapter's log-probabilities equal the product of
  next-token softmaxes over the alphabet written out by hand; the enumerated policy sums to 1;
  a tensor-returning and a ``.logits``-returning model agree; the alphabet maps to model ids.
* It plugs into the sequence lab: ``response_log_policy``, the sampled loss, and
  ``train_sequence_policy`` (exact mode) whose recorded exploitability the tabular lab recomputes.
* Optional: a randomly initialised tiny GPT-2 (``transformers``, skipped when not installed).
* Bad inputs name the argument.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from algorithms.torch import LogitsModelPolicy  # noqa: E402
from algorithms.torch import sequence as sq  # noqa: E402


class CumsumLM(torch.nn.Module):
    """A stub causal LM: logits at position i are a linear map of the sum of the embeddings of
    tokens 0..i (causal: position i never reads i + 1). Returns an object with ``.logits``."""

    def __init__(self, n_tokens: int, seed: int, as_object: bool = True):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.emb = torch.nn.Parameter(torch.randn(n_tokens, 6, generator=g, dtype=torch.float64))
        self.out = torch.nn.Parameter(torch.randn(6, n_tokens, generator=g, dtype=torch.float64))
        self.as_object = as_object

    def forward(self, input_ids):
        logits = self.emb[input_ids].cumsum(dim=1) @ self.out
        return SimpleNamespace(logits=logits) if self.as_object else logits


def by_hand(lm: CumsumLM, prompt, tokens, y) -> float:
    ids = list(prompt) + [tokens[t] for t in y]
    logits = lm(torch.tensor([ids])).logits[0].detach().numpy()
    total = 0.0
    for t, yt in enumerate(y):
        row = logits[len(prompt) + t - 1, tokens]
        total += row[yt] - np.log(np.exp(row - row.max()).sum()) - row.max()
    return total


def test_log_prob_equals_the_product_of_next_token_softmaxes():
    lm = CumsumLM(7, seed=0)
    tokens, prompt = [5, 1, 3], [6, 2]
    pol = LogitsModelPolicy(lm, prompt=prompt, max_len=3, tokens=tokens)
    seqs = sq.enumerate_sequences(3, 3)
    got = pol.log_prob(seqs).detach().numpy()
    want = [by_hand(lm, prompt, tokens, y.tolist()) for y in seqs]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert abs(float(sq.response_log_policy(pol, 3).detach().exp().sum()) - 1.0) < 1e-12
    assert abs(float(sq.response_log_policy(pol, 2).detach().exp().sum()) - 1.0) < 1e-12  # shorter responses too
    plain = LogitsModelPolicy(CumsumLM(7, seed=0, as_object=False), prompt=prompt, max_len=3, tokens=tokens)
    np.testing.assert_array_equal(plain.log_prob(seqs).detach().numpy(), got)
    assert sq.is_sequence_policy(pol)


def test_adapter_in_the_training_loop_and_sampled_loss():
    from algorithms.torch import judges, sampled

    game = sq.sequence_preference_game(2, 2, rng=0)
    model = LogitsModelPolicy(CumsumLM(4, seed=1), prompt=[3], max_len=2, vocab_size=2)
    ref = LogitsModelPolicy(CumsumLM(4, seed=2), prompt=[3], max_len=2, vocab_size=2)
    res = sq.train_sequence_policy(model, game, ref, beta=0.5, eta=1.0, n_steps=3, n_fit=5, lr=0.05,
                                   dtype=torch.float64, device="cpu")
    with torch.no_grad():
        pi = sq.response_log_policy(model, 2).exp().numpy()
    np.testing.assert_allclose(res.policy, pi / pi.sum(), rtol=0, atol=1e-12)
    assert res.exploitability[-1] == pytest.approx(game.exploitability(res.policy, beta=0.5, ref=res.ref), abs=1e-12)
    seqs = sq.enumerate_sequences(2, 2)
    with torch.no_grad():
        log_mu = sq.response_log_policy(ref, 2)
    loss = sampled.sampled_loss(model, judges.TableJudge(game, vocab_size=2), log_mu, seqs, beta=0.5, eta=1.0,
                                n_duels=4, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert model.model.emb.grad is not None and torch.isfinite(model.model.emb.grad).all()


def test_adapter_rejects_bad_inputs():
    lm = CumsumLM(4, seed=0)
    with pytest.raises(ValueError, match="exactly one of tokens"):
        LogitsModelPolicy(lm, prompt=[0], max_len=2)
    with pytest.raises(ValueError, match="distinct"):
        LogitsModelPolicy(lm, prompt=[0], max_len=2, tokens=[1, 1])
    with pytest.raises(ValueError, match="prompt"):
        LogitsModelPolicy(lm, prompt=[], max_len=2, vocab_size=2)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        LogitsModelPolicy(lambda x: x, prompt=[0], max_len=2, vocab_size=2)
    pol = LogitsModelPolicy(torch.nn.Embedding(10, 3), prompt=[0], max_len=2, tokens=[0, 9])  # 3 logits
    with pytest.raises(ValueError, match="tokens holds 9"):
        pol.log_prob(torch.tensor([[0, 1]]))
    pol = LogitsModelPolicy(lm, prompt=[0], max_len=2, vocab_size=2)
    with pytest.raises(ValueError, match="sequences holds 2"):
        pol.log_prob(torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match="max_len = 2"):
        pol.log_prob(torch.tensor([[0, 1, 1]]))
    with pytest.raises(TypeError, match="integer token ids"):
        pol.log_prob(torch.tensor([[0.0, 1.0]]))
    bad = LogitsModelPolicy(torch.nn.Identity(), prompt=[0], max_len=2, vocab_size=2)
    with pytest.raises(ValueError, match="model logits must have shape"):
        bad.log_prob(torch.tensor([[0, 1]]))


def test_tiny_gpt2_when_transformers_is_installed():
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=6, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    with torch.random.fork_rng():  # Hugging Face initialises from torch's global generator
        torch.manual_seed(0)
        lm = transformers.GPT2LMHeadModel(config).double().eval()
    pol = LogitsModelPolicy(lm, prompt=[5], max_len=3, tokens=[0, 1, 2])
    seqs = sq.enumerate_sequences(3, 3)
    with torch.no_grad():
        got = pol.log_prob(seqs)
        logits = lm(torch.cat([torch.full((27, 1), 5), seqs], dim=1)).logits[:, :3, :3]
        want = torch.log_softmax(logits, -1).gather(-1, seqs[..., None]).squeeze(-1).sum(-1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-12)
    assert abs(float(got.exp().sum()) - 1.0) < 1e-12
