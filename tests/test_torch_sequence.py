"""The tiny causal transformer of the torch bridge (:mod:`algorithms.torch.sequence`).

* Enumeration: ``V^L`` distinct sequences in base-``V`` order; the model's enumerated policy sums
  to 1 (autoregressive normalisation), also for random sizes (Hypothesis); per-sequence
  log-probabilities are the sum of the per-token log-softmax entries (closed form on a batch).
* Causality: changing a later token leaves the earlier positions' logits unchanged.
* The sequence preference game satisfies ``Pref + Pref^T = 1`` with ``1/2`` on the diagonal.
* End to end (exact-oracle regime): Nash-MD, Nash-MP and INPO, by distillation of the exact
  mirror step, reduce the exact regularised exploitability to at most half its initial value.
* Seeded determinism on the CPU; bad inputs raise errors naming the argument.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mdps  # noqa: E402
from algorithms.torch import sequence as sq  # noqa: E402

V, L = 3, 3


def _setup(seed=0):
    game = sq.sequence_preference_game(V, L, rng=seed)
    ref = sq.TinyCausalTransformer(V, L, seed=100 + seed, init_scale=3.0, device="cpu")
    model = sq.TinyCausalTransformer(V, L, seed=200 + seed, init_scale=3.0, device="cpu")
    return game, ref, model


def test_enumeration_is_base_v_order():
    seqs = sq.enumerate_sequences(3, 2)
    assert seqs.tolist() == [[i, j] for i in range(3) for j in range(3)]
    assert len({tuple(r) for r in sq.enumerate_sequences(2, 5).tolist()}) == 32


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 4), st.integers(1, 3), st.integers(0, 2**31 - 1), st.integers(0, 2))
def test_enumerated_policy_is_normalised(vocab, length, seed, n_layers):
    m = sq.TinyCausalTransformer(vocab, length, d_model=8, n_heads=2, n_layers=n_layers, seed=seed,
                                 init_scale=4.0, device="cpu")
    logp = sq.response_log_policy(m, length)
    assert logp.dtype == torch.float64 and logp.shape == (vocab**length,)
    assert abs(float(torch.logsumexp(logp.detach(), 0))) < 1e-5  # float32 model, float64 sum


def test_sequence_log_probs_is_the_sum_of_token_log_softmax():
    m = sq.TinyCausalTransformer(4, 3, seed=3, device="cpu", dtype=torch.float64)
    seqs = torch.tensor([[0, 1, 2], [3, 3, 0]])
    logits = m(seqs).detach()
    expect = [sum(float(torch.log_softmax(logits[b, t], -1)[seqs[b, t]]) for t in range(3)) for b in range(2)]
    np.testing.assert_allclose(sq.sequence_log_probs(m, seqs).detach().numpy(), expect, rtol=0, atol=1e-12)
    # the first token's distribution is the BOS prediction: the marginal of y_1 over the enumeration
    pi = sq.response_log_policy(m, 3).exp().detach().numpy().reshape(4, 16).sum(axis=1)
    first = torch.softmax(m(torch.zeros(1, 1, dtype=torch.long))[0, 0], -1).detach().numpy()
    np.testing.assert_allclose(pi, first, atol=1e-12)


def test_the_model_is_causal():
    m = sq.TinyCausalTransformer(3, 4, n_layers=2, seed=5, device="cpu", dtype=torch.float64)
    a = torch.tensor([[0, 1, 2, 0]])
    b = torch.tensor([[0, 1, 0, 2]])  # differs from position 2 on
    la, lb = m(a), m(b)
    # position t reads BOS, y_1..y_t (0-based: tokens 0..t-1), so positions 0..2 see tokens 0..1 only
    torch.testing.assert_close(la[0, :3], lb[0, :3], rtol=0, atol=0)
    assert not torch.allclose(la[0, 3], lb[0, 3])


def test_sequence_game_is_complementary():
    g = sq.sequence_preference_game(2, 3, intransitive=2.0, rng=1)
    P = g.Pref
    assert P.shape == (8, 8)
    np.testing.assert_allclose(P + P.T, 1.0, atol=1e-15)
    np.testing.assert_array_equal(np.diag(P), 0.5)


@pytest.mark.parametrize("algorithm,eta", [("nash_md", 1.0), ("nash_mp", 1.0), ("inpo", 1.0)])
def test_training_halves_the_exact_exploitability(algorithm, eta):
    game, ref, model = _setup(0)
    beta = 0.1
    res = sq.train_sequence_policy(model, game, ref, algorithm=algorithm, beta=beta, eta=eta, n_steps=20, n_fit=20,
                                   lr=0.02, device="cpu")
    assert res.exploitability.shape == (21,) and res.policies.shape == (21, 27)
    # recompute from the returned policies, independently of the loop
    mu = sq.response_log_policy(ref, L).exp().detach().numpy()
    np.testing.assert_allclose(res.ref, mu / mu.sum(), atol=1e-12)
    e = [game.exploitability(p, beta=beta, ref=res.ref) for p in res.policies[[0, -1]]]
    np.testing.assert_allclose(e, res.exploitability[[0, -1]], rtol=1e-12)
    assert e[0] > 0.05
    assert e[1] <= 0.5 * e[0]
    # the final policy is the trained model's
    pi = sq.response_log_policy(model, L).exp().detach().numpy()
    np.testing.assert_allclose(res.policy, pi / pi.sum(), atol=1e-12)
    # and it moved towards the exact regularised equilibrium
    star = game.regularized_nash(beta, ref=res.ref)
    assert mdps.kl(star, res.policy) < mdps.kl(star, res.policies[0])


def test_seeded_determinism_on_cpu():
    out = []
    for _ in range(2):
        game, ref, model = _setup(1)
        out.append(sq.train_sequence_policy(model, game, ref, algorithm="nash_mp", beta=0.2, eta=1.0, n_steps=3,
                                            n_fit=5, device="cpu", seed=7))
    np.testing.assert_array_equal(out[0].policies, out[1].policies)
    np.testing.assert_array_equal(out[0].exploitability, out[1].exploitability)
    a = sq.TinyCausalTransformer(3, 2, seed=9, device="cpu")
    b = sq.TinyCausalTransformer(3, 2, seed=9, device="cpu")
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(pa, pb), na


def test_bfloat16_runs():
    game, ref, model = _setup(2)
    res = sq.train_sequence_policy(model, game, ref, algorithm="inpo", beta=0.1, eta=1.0, n_steps=2, n_fit=3,
                                   device="cpu", dtype=torch.bfloat16)
    assert np.isfinite(res.exploitability).all()
    np.testing.assert_allclose(res.policies.sum(axis=1), 1.0, atol=1e-12)


def test_bad_inputs():
    game, ref, model = _setup(0)
    kw = dict(beta=0.1, eta=1.0, n_steps=1, device="cpu")
    with pytest.raises(ValueError, match="game.n_responses.*27.*got 8"):
        sq.train_sequence_policy(model, sq.sequence_preference_game(2, 3, rng=0), ref, **kw)
    with pytest.raises(ValueError, match="ref_model.vocab_size.*3.*got 4"):
        sq.train_sequence_policy(model, game, sq.TinyCausalTransformer(4, 3, seed=0), **kw)
    with pytest.raises(ValueError, match="algorithm"):
        sq.train_sequence_policy(model, game, ref, algorithm="dpo", **kw)
    with pytest.raises(ValueError, match="eta \\* beta"):
        sq.train_sequence_policy(model, game, ref, algorithm="nash_md", beta=1.0, eta=2.0, n_steps=1)
    with pytest.raises(ValueError, match="beta"):
        sq.train_sequence_policy(model, game, ref, beta=float("nan"), eta=1.0, n_steps=1)
    with pytest.raises(ValueError, match="n_steps"):
        sq.train_sequence_policy(model, game, ref, beta=0.1, eta=1.0, n_steps=0)
    with pytest.raises(TypeError, match="game"):
        sq.train_sequence_policy(model, game.Pref, ref, **kw)
    with pytest.raises(TypeError, match="dtype"):
        sq.train_sequence_policy(model, game, ref, dtype=torch.int32, **kw)
    bad = np.full((27, 27), 0.5)
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="Pref"):
        mdps.PreferenceGame(bad)  # a non-finite game is refused where games are built
    with pytest.raises(ValueError, match="sequences.*got values in \\[0, 5\\]"):
        sq.sequence_log_probs(model, torch.tensor([[0, 5, 1]]))
    with pytest.raises(ValueError, match="max_len = 3"):
        sq.sequence_log_probs(model, torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        sq.sequence_log_probs(model, torch.zeros(1, 3))
    with pytest.raises(ValueError, match="d_model must be a multiple of n_heads"):
        sq.TinyCausalTransformer(3, 3, d_model=5, n_heads=2, seed=0)
    with pytest.raises(ValueError, match="vocab_size"):
        sq.TinyCausalTransformer(1, 3, seed=0)
    with pytest.raises(ValueError, match="seed"):
        sq.TinyCausalTransformer(3, 3, seed=-1)
    with pytest.raises(ValueError, match="vocab_size \\*\\* length"):
        sq.enumerate_sequences(10, 7)
    with pytest.raises(ValueError, match="intransitive"):
        sq.sequence_preference_game(3, 2, intransitive=-1.0, rng=0)
    with pytest.raises(ValueError, match="device"):
        sq.select_device("nonsense")


@pytest.mark.parametrize("algorithm,tabular", [("nash_md", "nash_md"), ("nash_mp", "nash_mirror_prox"),
                                               ("inpo", "inpo")])
def test_the_distillation_target_is_the_exact_tabular_step(algorithm, tabular):
    from algorithms import nash
    from algorithms.torch import nash as tn

    game, ref, model = _setup(3)
    mu = sq.response_log_policy(ref, L).detach().exp().numpy()
    mu /= mu.sum()
    pi = sq.response_log_policy(model, L).detach().exp().numpy()
    pi /= pi.sum()
    z = torch.log(torch.tensor(pi))[None]
    target = sq._target(algorithm, z, torch.log(torch.tensor(mu))[None], tn.pref_tensor(game), 1.0, 0.3)
    step = np.asarray(getattr(nash, tabular)(game, 0.3, 1.0, 1, ref=mu, init=pi).policies)[1]
    np.testing.assert_allclose(torch.exp(target[0]).numpy(), step, rtol=0, atol=1e-12)
