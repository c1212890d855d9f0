r"""Sampled Nash-MD-PG on a tiny transformer: the sampled gradient is an unbiased estimate of the exact one.

Claim [R] (docs/theory/torch_bridge.md, section 'torch_bridge.sampled_gradient_unbiased'): for a
sequence policy ``pi_theta`` (a :class:`algorithms.torch.TinyCausalTransformer` over ``V^L = 27``
enumerated responses), a reference ``mu`` and a pairwise judge ``P``, the gradient of the sampled
surrogate :func:`algorithms.torch.sampled.sampled_loss` (``n`` duels ``y ~ pi_theta``, ``y' ~
pi_theta^{1 - eta beta} mu^{eta beta}``, outcomes Bernoulli draws of the judge, leave-one-out
baseline) has expectation equal to the gradient of Nash-MD's KL-regularised policy-gradient loss
``-(pi^T Pref pi^mu - beta KL(pi || mu))`` (opponent held fixed; R. Munos et al. 2023, *Nash
Learning from Human Feedback*, arXiv 2312.00886, Section 7), computed exactly by autograd over
the enumerated responses. The derivation is in
:func:`algorithms.torch.nash.sampled_nash_md_pg_loss`'s docstring (score function, ``E_pi[grad log
pi] = 0``, a baseline independent of its sample).

Measured: per instance (a random game or Bradley-Terry judge, random reference and policy
networks, float64), ``M`` independent sampled gradients; their projections on 16 directions fixed
before sampling (the exact gradient; the gradients of the objective's terms: the win rate against
``pi`` and against ``mu`` with the opponent held fixed, and ``KL(pi || mu)``; 12 random Gaussian
directions); the z-score of each projection's mean against the
exact projection, ``z = (mean - exact) / (sd / sqrt M)``. Expected: ``max |z| <= z_crit``, the
two-sided Bonferroni quantile at family-wise level ``ALPHA = 0.01`` over every projection of every
instance of the run (``Phi^{-1}(1 - ALPHA / (2 N))``): the check fails with probability at most
1% (asymptotically in ``M``, by the central limit theorem; the estimates are bounded) when the
claim holds. The relative bias ``||mean - exact|| / ||exact||`` is reported (it shrinks like
``1/sqrt M``; not the verdict). Judges: :class:`algorithms.torch.judges.TableJudge` of the game's
matrix, and :class:`algorithms.torch.judges.BradleyTerryJudge` of a reward over token sequences
whose exact matrix ``sigmoid(r_i - r_j)`` is built independently in NumPy for the exact gradient.
torch is imported only inside the measurement.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from labkit.check import Check, register, worst_case

__all__ = ["sampled_gradient_unbiased", "ALPHA"]

#: family-wise level of the Bonferroni bound on the z-scores (module docstring)
ALPHA = 0.01
VOCAB, LENGTH, D_MODEL, N_DUELS, N_DIRECTIONS = 3, 3, 8, 32, 16

PAPER = ("R. Munos et al. 2023, Nash Learning from Human Feedback (arXiv:2312.00886), Section 7 (Nash-MD-PG); "
         "derivation in docs/theory/torch_bridge.md")


def z_critical(n_tests: int, alpha: float = ALPHA) -> float:
    """Two-sided Bonferroni quantile ``Phi^{-1}(1 - alpha / (2 n_tests))``."""
    return float(norm.isf(alpha / (2.0 * n_tests)))


def _run(config, rng):
    import torch

    from algorithms.torch import judges, sampled
    from algorithms.torch import sequence as sq

    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: intra-op threads only add overhead on a shared machine
    try:
        s = rng.integers(0, 2**31 - 1, size=4)
        K = VOCAB**LENGTH
        seqs = sq.enumerate_sequences(VOCAB, LENGTH)
        if config["judge"] == "table":
            game = sq.sequence_preference_game(VOCAB, LENGTH, rng=int(s[0]))
            Pref = np.asarray(game.Pref, dtype=np.float64)
            judge = judges.TableJudge(game, vocab_size=VOCAB)
        else:  # Bradley-Terry on a reward of the token sequence, its matrix built here in NumPy
            w = np.random.default_rng(int(s[0])).standard_normal((LENGTH, VOCAB))
            tokens = seqs.numpy()
            r = w[np.arange(LENGTH)[None], tokens].sum(axis=1)  # r(y) = sum_t w[t, y_t]
            Pref = 1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))
            wt = torch.tensor(w)
            judge = judges.BradleyTerryJudge(lambda ctx, y: wt[torch.arange(LENGTH)[None], y].sum(dim=1))
        ref = sq.TinyCausalTransformer(VOCAB, LENGTH, D_MODEL, seed=int(s[1]), init_scale=3.0, dtype=torch.float64,
                                       device="cpu")
        model = sq.TinyCausalTransformer(VOCAB, LENGTH, D_MODEL, seed=int(s[2]), init_scale=3.0,
                                         dtype=torch.float64, device="cpu")
        with torch.no_grad():
            log_mu = torch.log_softmax(sq.sequence_log_probs(ref, seqs), dim=-1)
        params = list(model.parameters())

        def flat(loss, retain=False):
            return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=retain)])

        beta, eta = config["beta"], config["eta_beta"] / config["beta"]
        exact = flat(sampled.exact_loss(model, torch.tensor(Pref).reshape(1, K, K), log_mu, seqs, beta=beta,
                                        eta=eta)).numpy()
        gen = torch.Generator().manual_seed(int(s[3]))
        M = config["n_estimates"]
        G = np.stack([flat(sampled.sampled_loss(model, judge, log_mu, seqs, beta=beta, eta=eta, n_duels=N_DUELS,
                                                generator=gen)).numpy() for _ in range(M)])
        # the gradients of each term of the objective, written out here (directions fixed before sampling)
        z = sq.sequence_log_probs(model, seqs)
        pi, P = torch.exp(z), torch.tensor(Pref)
        terms = [(pi * (P @ pi.detach())).sum(), (pi * (P @ torch.exp(log_mu))).sum(), (pi * (z - log_mu)).sum()]
        term_dirs = np.stack([flat(t, retain=True).numpy() for t in terms])
    finally:
        torch.set_num_threads(old_threads)
    D = rng.standard_normal((N_DIRECTIONS, exact.size))
    D[0] = exact
    D[1:4] = term_dirs
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    proj, want = G @ D.T, D @ exact
    z = (proj.mean(axis=0) - want) / (proj.std(axis=0, ddof=1) / np.sqrt(M))
    rel_bias = float(np.linalg.norm(G.mean(axis=0) - exact) / np.linalg.norm(exact))
    names = ("exact gradient", "win rate against pi", "win rate against mu", "KL(pi || mu)")
    return [{"direction": names[k] if k < len(names) else "random", "k": k, "z": float(z[k]), "rel_bias": rel_bias,
             "grad_norm": float(np.linalg.norm(exact)), "n_params": int(exact.size)} for k in range(N_DIRECTIONS)]


def _measure(ctx):
    grid = [{"judge": j, "beta": b, "eta_beta": w, "n_estimates": ctx.pick(300, 3000)}
            for j in ("table", "bradley_terry") for b, w in ((0.1, 0.5), (0.5, 1.0))]
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(1, 10))
    zc = z_critical(len(frame))
    absz = frame["z"].abs().to_numpy()
    runs = frame[frame.k == 0]
    return worst_case(
        absz, "<=", zc, 0.0, frame,
        f"max |z| of the mean of M = {int(frame.n_estimates.iloc[0])} sampled Nash-MD-PG gradients ({N_DUELS} "
        f"duels each) of a {int(frame.n_params.iloc[0])}-parameter tiny transformer against the exact autograd "
        f"gradient, projected on {N_DIRECTIONS} directions, over {len(runs)} instances (judges: game table, "
        f"Bradley-Terry; (beta, eta beta) in (0.1, 0.5), (0.5, 1)); {len(frame)} z-scores, Bonferroni bound "
        f"{zc:.2f} at "
        f"family-wise level {ALPHA}. Along the exact gradient: max |z| "
        f"{runs.z.abs().max():.2f}. Relative bias ||mean - exact|| / ||exact|| in "
        f"[{runs.rel_bias.min():.3f}, {runs.rel_bias.max():.3f}] (sampling noise ~ 1/sqrt M).",
        z_critical=zc,
    )


def _plot(result):
    from labkit.figures import PALETTE, legend, subplots

    data = result.data
    zc = z_critical(len(data))
    fig, axes = subplots(panel_aspect=0.62)
    ax = axes[0, 0]
    lim = max(zc, float(data.z.abs().max())) * 1.15
    bins = np.linspace(-lim, lim, 25)
    ax.hist(data.z, bins=bins, density=True, color=PALETTE[0], alpha=0.45, label="z-scores (all projections)")
    grad = data[data.k == 0]
    ax.plot(grad.z, np.full(len(grad), 0.03), ls="none", marker="|", color=PALETTE[5], ms=12, mew=1.4,
            label="along the exact gradient (one per instance)")
    x = np.linspace(-lim, lim, 300)
    (line,) = ax.plot(x, norm.pdf(x), color="0.15", ls="--", lw=1.0, zorder=3, label=r"theory: $\mathcal{N}(0, 1)$")
    line.set_gid("theory")
    for sgn in (-1, 1):
        ref = ax.axvline(sgn * zc, color="0.5", ls=":", lw=0.9,
                         **({"label": f"Bonferroni bound ({ALPHA:g} family-wise)"} if sgn > 0 else {}))
        ref.set_gid("reference")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(0, 0.62)
    ax.set_xlabel(r"$z = (\bar g - \nabla L) \cdot d \,/\, \widehat{\mathrm{se}}$")
    ax.set_ylabel("density")
    legend(ax, outside=True)
    return fig


sampled_gradient_unbiased = register(Check(
    name="torch_bridge.sampled_gradient_unbiased",
    paper=PAPER,
    claim="The gradient of the sampled Nash-MD-PG loss of a tiny transformer (duels against the geometric mixture "
          "decided by a pairwise judge, leave-one-out baseline) is an unbiased estimate of the exact gradient of "
          "Nash-MD's KL-regularised policy-gradient loss (Munos et al. 2023, Section 7): every z-score within the "
          "Bonferroni bound.",
    tag="R", family="torch", requires=("torch",), install='pip install "rl-theory-lab[torch]"', cost=(7, 610),
    measure=_measure, plot=_plot,
))
