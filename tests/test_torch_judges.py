"""Pairwise judges and sampled Nash-MD-PG on the tiny transformer.

* Judges: a TableJudge on enumerated responses reproduces the game's matrix exactly (indices and
  token sequences); a BradleyTerryJudge equals sigmoid(r_a - r_b) and is antisymmetric
  (Hypothesis over rewards); a FunctionJudge validates its outputs; bad inputs name the argument.
* Sampled loss: on a tabular softmax policy the expected sampled gradient is computed *exactly*
  (sum over all duels and outcomes) and equals the exact gradient; on the tiny transformer the
  mean of many sampled gradients matches the exact one (z-scores, Bonferroni at family-wise 1e-3,
  seeds 0..2 stated); the training loop's sampled mode runs, is seeded, and records the exact
  exploitability.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy.stats import norm  # noqa: E402

import mdps  # noqa: E402
from algorithms.torch import TabularSoftmaxPolicy  # noqa: E402
from algorithms.torch import judges, sampled  # noqa: E402
from algorithms.torch import nash as tn  # noqa: E402
from algorithms.torch import sequence as sq  # noqa: E402
from mdps import preference_generators as pg  # noqa: E402
from tests.strategies import preference_matrix  # noqa: E402

V, L = 3, 2


# ----------------------------------------------------------------------------- judges
def test_table_judge_reproduces_the_game_matrix_on_all_pairs():
    game = sq.sequence_preference_game(V, L, rng=3)
    K = V**L
    i, j = torch.meshgrid(torch.arange(K), torch.arange(K), indexing="ij")
    judge = judges.TableJudge(game, vocab_size=V)
    got = judge(None, i.reshape(-1), j.reshape(-1)).reshape(K, K).numpy()
    np.testing.assert_array_equal(got, game.Pref)
    seqs = sq.enumerate_sequences(V, L)  # the same through token sequences
    got_tok = judge(None, seqs[i.reshape(-1)], seqs[j.reshape(-1)]).reshape(K, K).numpy()
    np.testing.assert_array_equal(got_tok, game.Pref)


@settings(max_examples=40, deadline=None)
@given(preference_matrix(max_K=8))
def test_table_judge_is_the_matrix_and_antisymmetric(P):
    K = P.shape[0]
    i, j = torch.meshgrid(torch.arange(K), torch.arange(K), indexing="ij")
    a, b = i.reshape(-1), j.reshape(-1)
    judge = judges.FunctionJudge(judges.TableJudge(P), check_antisymmetry=True)  # raises if P + P^T != 1
    np.testing.assert_array_equal(judge(None, a, b).reshape(K, K).numpy(), P)


def test_table_judge_intransitive_and_contextual():
    rps = np.array([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])
    j = judges.TableJudge(rps)
    assert j(None, torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])).tolist() == [1.0, 1.0, 1.0]  # a cycle
    ctx = np.stack([rps, rps.T])
    jc = judges.TableJudge(ctx)
    out = jc(torch.tensor([0, 1]), torch.tensor([0, 0]), torch.tensor([1, 1]))
    assert out.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="context is required"):
        jc(None, torch.tensor([0]), torch.tensor([1]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=2, max_size=8))
def test_bradley_terry_judge_is_sigmoid_of_reward_difference(r):
    rt = torch.tensor(r, dtype=torch.float64)
    judge = judges.BradleyTerryJudge(lambda ctx, y: rt[y])
    n = len(r)
    a, b = torch.arange(n), torch.arange(n).flip(0)
    p = judge(None, a, b)
    want = 1.0 / (1.0 + np.exp(-(np.array(r) - np.array(r)[::-1])))
    np.testing.assert_allclose(p.numpy(), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose((p + judge(None, b, a)).numpy(), 1.0, rtol=0, atol=1e-15)
    assert judge(None, a, a).tolist() == [0.5] * n


def test_function_judge_validation_and_antisymmetry():
    ok = judges.FunctionJudge(lambda c, a, b: torch.sigmoid((a - b).double()), check_antisymmetry=True)
    assert ok(None, torch.tensor([2]), torch.tensor([2])).tolist() == [0.5]
    bad = judges.FunctionJudge(lambda c, a, b: torch.full((a.shape[0],), 0.7, dtype=torch.float64),
                               check_antisymmetry=True)
    with pytest.raises(ValueError, match="not antisymmetric"):
        bad(None, torch.tensor([0, 1]), torch.tensor([1, 0]))
    assert bad.__class__ is judges.FunctionJudge
    out_of_range = judges.FunctionJudge(lambda c, a, b: torch.tensor([0.2, 1.5], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"judge output\[1\] is 1.5"):
        out_of_range(None, torch.tensor([0, 1]), torch.tensor([1, 0]))
    nan = judges.FunctionJudge(lambda c, a, b: torch.tensor([float("nan")], dtype=torch.float64))
    with pytest.raises(ValueError, match="expected a probability"):
        nan(None, torch.tensor([0]), torch.tensor([1]))
    shape = judges.FunctionJudge(lambda c, a, b: torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        shape(None, torch.tensor([0]), torch.tensor([1]))
    assert isinstance(ok, judges.PairwiseJudge)


def test_judges_reject_bad_inputs():
    with pytest.raises(ValueError):
        judges.TableJudge(np.array([[0.5, 0.9], [0.9, 0.5]]))  # P + P^T != 1
    j = judges.TableJudge(np.array([[0.5, 0.9], [0.1, 0.5]]))
    with pytest.raises(ValueError, match="response_a holds 2"):
        j(None, torch.tensor([2]), torch.tensor([0]))
    with pytest.raises(ValueError, match="same batch size"):
        j(None, torch.tensor([0, 1]), torch.tensor([0]))
    with pytest.raises(TypeError, match="response_b must be an integer tensor"):
        j(None, torch.tensor([0]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="needs vocab_size"):
        j(None, torch.tensor([[0]]), torch.tensor([[1]]))
    with pytest.raises(TypeError, match="reward_fn must be callable"):
        judges.BradleyTerryJudge(3)
    bt = judges.BradleyTerryJudge(lambda c, y: torch.tensor([float("inf")] * y.shape[0]))
    with pytest.raises(ValueError, match="expected a finite reward"):
        bt(None, torch.tensor([0]), torch.tensor([1]))


# ----------------------------------------------------------------------------- sampled loss
def test_expected_sampled_gradient_equals_exact_gradient_exactly():
    """Tabular softmax policy: the expectation over every (y, y', o) of the single-duel-pair
    estimate (n = 2 duels, leave-one-out baseline) is summed exactly and equals the exact gradient."""
    rng = np.random.default_rng(0)
    K, beta, w = 4, 0.3, 0.6
    P = tn.pref_tensor(pg.uniform_tournament(K, rng=rng))[0]
    pol = TabularSoftmaxPolicy(rng.normal(0, 1, K))
    log_mu = torch.log_softmax(torch.tensor(rng.normal(0, 1, K)), -1)
    z = pol()[0].detach()
    mix = torch.exp(tn.geometric_mixture(z[None], log_mu[None], w))[0]
    (exact,) = torch.autograd.grad(tn.nash_md_pg_loss(pol, P[None], mix[None], log_mu[None], beta), pol.logits)
    pi = torch.exp(z)
    total = torch.zeros(K, dtype=torch.float64)
    for y1 in range(K):
        for y2 in range(K):
            for o1 in (0.0, 1.0):
                for o2 in (0.0, 1.0):
                    # P(o_i = 1 | y_i) = sum_y' mix(y') P[y_i, y'] (the opponent marginalised)
                    g1, g2 = float(P[y1] @ mix), float(P[y2] @ mix)
                    prob = pi[y1] * pi[y2] * (g1 if o1 else 1 - g1) * (g2 if o2 else 1 - g2)
                    logp = pol()[0][[y1, y2]]
                    loss = tn.sampled_nash_md_pg_loss(logp, log_mu[[y1, y2]], torch.tensor([o1, o2]), beta)
                    (g,) = torch.autograd.grad(loss, pol.logits)
                    total += prob * g[0]
    np.testing.assert_allclose(total.numpy(), exact[0].numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_sampled_transformer_gradient_matches_exact_gradient(seed):
    """z-scores of 8 projections, Bonferroni at family-wise 1e-3 over 3 seeds x 8 directions;
    the seeds 0..2 are the stated range."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    game = sq.sequence_preference_game(V, L, rng=seed)
    ref = sq.TinyCausalTransformer(V, L, 8, seed=10 + seed, init_scale=2.0, dtype=torch.float64, device="cpu")
    model = sq.TinyCausalTransformer(V, L, 8, seed=20 + seed, init_scale=2.0, dtype=torch.float64, device="cpu")
    seqs = sq.enumerate_sequences(V, L)
    with torch.no_grad():
        log_mu = torch.log_softmax(sq.sequence_log_probs(ref, seqs), -1)
    params = list(model.parameters())

    def flat(loss):
        return torch.cat([x.reshape(-1) for x in torch.autograd.grad(loss, params)]).numpy()

    judge = judges.TableJudge(game, vocab_size=V)
    beta, eta = 0.4, 1.5
    exact = flat(sampled.exact_loss(model, torch.tensor(game.Pref), log_mu, seqs, beta=beta, eta=eta))
    M = 400
    G = np.stack([flat(sampled.sampled_loss(model, judge, log_mu, seqs, beta=beta, eta=eta, n_duels=16,
                                            generator=g)) for _ in range(M)])
    D = np.random.default_rng(seed).standard_normal((8, exact.size))
    D[0] = exact
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    z = ((G @ D.T).mean(0) - D @ exact) / ((G @ D.T).std(0, ddof=1) / np.sqrt(M))
    assert np.abs(z).max() <= norm.isf(1e-3 / (2 * 3 * 8)), z


def test_sampled_loss_rejects_bad_inputs():
    t = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="n >= 2"):
        tn.sampled_nash_md_pg_loss(t[:1], t[:1], t[:1], 0.1)
    with pytest.raises(ValueError, match="one length"):
        tn.sampled_nash_md_pg_loss(t, t[:2], t, 0.1)
    with pytest.raises(ValueError, match="beta"):
        tn.sampled_nash_md_pg_loss(t, t, t, -1.0)
    with pytest.raises(ValueError, match="eta \\* beta"):
        sampled.sample_duels(t, t, torch.zeros((3, 1), dtype=torch.long), None, eta=5.0, beta=1.0, n_duels=2,
                             generator=torch.Generator())


def test_train_sequence_policy_sampled_mode():
    game = sq.sequence_preference_game(V, L, rng=0)
    runs = []
    for _ in range(2):
        ref = sq.TinyCausalTransformer(V, L, 8, seed=1, init_scale=2.0, device="cpu")
        model = sq.TinyCausalTransformer(V, L, 8, seed=1, init_scale=2.0, device="cpu")
        runs.append(sq.train_sequence_policy(model, game, ref, beta=0.2, eta=2.0, n_steps=3, n_fit=2, lr=0.01,
                                             mode="sampled", n_duels=8, seed=5, device="cpu"))
    a, b = runs
    np.testing.assert_array_equal(a.policies, b.policies)  # seeded, reproducible
    assert a.policies.shape == (4, V**L) and np.isnan(a.fit_kl).all()
    want = [game.exploitability(p, beta=0.2, ref=a.ref) for p in a.policies]
    np.testing.assert_allclose(a.exploitability, want, rtol=1e-12)
    assert a.settings["mode"] == "sampled"
    ref = sq.TinyCausalTransformer(V, L, 8, seed=1, device="cpu")
    with pytest.raises(ValueError, match="implements algorithm='nash_md' only"):
        sq.train_sequence_policy(model, game, ref, algorithm="inpo", beta=0.2, eta=2.0, n_steps=1, mode="sampled")
    with pytest.raises(ValueError, match="mode"):
        sq.train_sequence_policy(model, game, ref, beta=0.2, eta=2.0, n_steps=1, mode="bogus")
    with pytest.raises(ValueError, match="judge is used only"):
        sq.train_sequence_policy(model, game, ref, beta=0.2, eta=2.0, n_steps=1, judge=judges.TableJudge(game))
    with pytest.raises(ValueError, match="n_duels"):
        sq.train_sequence_policy(model, game, ref, beta=0.2, eta=2.0, n_steps=1, mode="sampled", n_duels=1)
    assert isinstance(mdps.PreferenceGame(game.Pref), mdps.PreferenceGame)
