r"""A tiny causal transformer trained end to end with Nash-MD / Nash-MP / INPO (exact-oracle regime).

Responses are token sequences ``y = (y_1, ..., y_L)`` over a vocabulary of ``V`` tokens, short
enough that the whole response space (``V^L`` sequences, e.g. ``3^3 = 27``) can be enumerated.
A policy is a :class:`TinyCausalTransformer`, an autoregressive model written in plain torch
(token and position embeddings, causal multi-head self-attention, an MLP, LayerNorm, output
logits; randomly initialised from a seed, nothing downloaded):

.. math::

    \pi_\theta(y) = \prod_{t=1}^{L} \operatorname{softmax}(f_\theta(\mathrm{BOS}, y_{<t}))_{y_t} .

Because every factor is a normalised softmax over the ``V`` tokens, the enumerated probabilities
sum to 1 exactly (by induction over ``t``: summing the last factor over ``y_L`` gives 1, and so
on), which the tests check numerically. The induced policy over the ``V^L`` responses is a point of
the simplex on which a :class:`mdps.PreferenceGame` is played, so its exact regularised
exploitability ``game.exploitability(pi, beta=beta, ref=mu)`` (``mu`` the reference model's induced
policy) and the exact equilibrium ``game.regularized_nash(beta, ref=mu)`` come from the tabular lab.

Training: distillation of the exact mirror step [U; a lab construction]
-----------------------------------------------------------------------
:func:`train_sequence_policy` runs, at each outer step ``t``,

1. ``z_t = log pi_{theta_t}`` on the enumerated responses (float64);
2. the *exact* tabular update of the chosen algorithm applied to ``z_t`` (the functions of
   :mod:`algorithms.torch.nash`, with exact win rates ``Pref pi``):

   * Nash-MD (R. Munos et al. 2023, *Nash Learning from Human Feedback*, arXiv 2312.00886):
     ``z_{t+1} = prox^lin(z_t, Pref pi_t^mu)``, ``pi_t^mu`` the geometric mixture
     ``pi_t^{1 - eta beta} mu^{eta beta}``;
   * Nash-MP (D. Tiapkin et al. 2025, *Accelerating Nash Learning from Human Feedback via Mirror
     Prox*, arXiv 2505.19731): ``z_{t+1/2} = prox(z_t, Pref pi_t)``,
     ``z_{t+1} = prox(z_t, Pref pi_{t+1/2})``;
   * INPO (Y. Zhang et al. 2024, *Iterative Nash Policy Optimization*, arXiv 2407.00617), closed
     form ``z_{t+1} = prox^lin(z_t, Pref pi_t)``;

   with ``prox^lin(z, v) = log softmax((1 - eta beta) z + eta beta log mu + eta v)`` and
   ``prox(z, v) = log softmax(s z + (1 - s) log mu + eta s v)``, ``s = 1/(1 + eta beta)``;
3. ``n_fit`` Adam steps on ``KL(pi_target || pi_theta) = sum_y pi_target(y) (log pi_target(y) -
   log pi_theta(y))`` over the enumerated responses, starting from ``theta_t``.

This is **the exact-oracle regime**, not sampled RLHF: the win rates are exact, the target is the
exact mirror step, and the network only has to represent it. If the fit were exact, the iterates
would be the tabular algorithm's, whose regularised exploitability decreases to 0 (linearly for
Nash-MP, docs/theory/nash.md); with a finite network and a finite number of fitting steps each
step is only approximated, so the guarantee does not transfer: the lab measures the outcome
(check ``torch_bridge.transformer_exploitability``, tag U).

Sampled mode (``mode="sampled"``, Nash-MD only): instead of distilling the exact step, each outer
step takes ``n_fit`` Adam steps on the score-function Nash-MD-PG loss of ``n_duels`` duels drawn
from the model and its geometric mixture with the reference and decided by a pairwise judge
(:mod:`algorithms.torch.sampled`, :mod:`algorithms.torch.judges`; R. Munos et al. 2023, Section 7).
Its gradient is unbiased for the exact PG-loss gradient (check
``torch_bridge.sampled_gradient_unbiased``); its iterates are a different, stochastic dynamic.

Any sequence policy: besides :class:`TinyCausalTransformer`, every function here accepts an
``nn.Module`` with ``vocab_size``, ``max_len`` and ``log_prob(sequences)`` (:func:`is_sequence_policy`),
e.g. :class:`algorithms.torch.adapters.LogitsModelPolicy` around a Hugging Face causal LM.

Device: ``device=None`` selects CUDA when available, else the CPU. ``dtype`` is the model's
parameter dtype (``torch.float32`` or ``torch.bfloat16``; ``torch.float64`` also works); the
targets and exploitabilities are computed in float64 from the model's log-probabilities.
Seeded: the model's initial weights come from ``seed`` through a private ``torch.Generator``;
the training loop is deterministic (no sampling), so on the CPU a run is reproducible bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from mdps.preference import PreferenceGame, check_beta
from mdps.validation import check_choice, check_int, check_real, check_rng

from algorithms.torch import nash as tnash
from algorithms.torch.policies import TabularSoftmaxPolicy

__all__ = [
    "TinyCausalTransformer",
    "enumerate_sequences",
    "sequence_log_probs",
    "response_log_policy",
    "sequence_preference_game",
    "SequenceTrainingResult",
    "train_sequence_policy",
    "select_device",
    "is_sequence_policy",
]

ALGORITHMS = ("nash_md", "nash_mp", "inpo")
MODES = ("exact", "sampled")


def select_device(device=None) -> torch.device:
    """``device`` as a ``torch.device``; ``None``: CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch device or its name, got {device!r}") from None


def _check_dtype(dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype (float32, bfloat16, float64), got {dtype!r}")
    return dtype


class _Block(nn.Module):
    """Pre-LayerNorm transformer block: causal multi-head self-attention, then an MLP, each residual."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        h = self.n_heads
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)
        q, k, v = (u.view(B, T, h, D // h).transpose(1, 2) for u in (q, k, v))  # (B, h, T, D/h)
        att = (q @ k.transpose(-2, -1)) / float(np.sqrt(D // h))
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # position t sees s <= t only
        att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class TinyCausalTransformer(nn.Module):
    """An autoregressive policy over sequences of ``max_len`` tokens from ``vocab_size`` tokens.

    Input ``(B, T)`` token ids, ``T <= max_len``; output ``(B, T, vocab_size)`` next-token logits:
    position ``t`` reads ``BOS, y_1, ..., y_t`` and predicts ``y_{t+1}`` (the ``BOS`` token, id
    ``vocab_size``, is prepended internally). Weights drawn from a private generator seeded with
    ``seed`` (global random state untouched): embeddings standard normal, linear weights uniform
    on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``, biases 0, LayerNorm the identity; then
    ``init_scale`` multiplies the output layer (a larger scale: a less uniform initial policy).

    Examples
    --------
    >>> m = TinyCausalTransformer(3, 2, seed=0)
    >>> round(float(response_log_policy(m, 2).detach().exp().sum()), 6)
    1.0
    """

    def __init__(self, vocab_size: int, max_len: int, d_model: int = 32, n_heads: int = 2, n_layers: int = 1, *,
                 seed: int, init_scale: float = 1.0, dtype: torch.dtype = torch.float32, device=None):
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", low=2)
        self.max_len = check_int(max_len, "max_len", low=1)
        d_model = check_int(d_model, "d_model", low=1)
        n_heads = check_int(n_heads, "n_heads", low=1)
        n_layers = check_int(n_layers, "n_layers", low=0)
        if d_model % n_heads:
            raise ValueError(f"d_model must be a multiple of n_heads, got d_model={d_model}, n_heads={n_heads}")
        seed = check_int(seed, "seed", low=0)
        init_scale = check_real(init_scale, "init_scale", low=0.0)
        dtype = _check_dtype(dtype)
        self.tok = nn.Embedding(self.vocab_size + 1, d_model)  # + BOS
        self.pos = nn.Embedding(self.max_len, d_model)
        self.blocks = nn.ModuleList(_Block(d_model, n_heads) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, self.vocab_size)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith(("tok.", "pos.")):  # embeddings: standard normal
                    p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
                elif "ln" in name:  # LayerNorm: weight 1, bias 0 (as constructed)
                    continue
                elif p.ndim == 2:  # linear weights: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
                    bound = 1.0 / np.sqrt(p.shape[1])
                    p.copy_((2.0 * torch.rand(p.shape, generator=gen, dtype=torch.float64) - 1.0) * bound)
                else:  # linear biases
                    p.zero_()
            self.head.weight.mul_(init_scale)
        self.to(device=select_device(device), dtype=dtype)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        B, T = tokens.shape
        bos = torch.full((B, 1), self.vocab_size, dtype=torch.long, device=tokens.device)
        inp = torch.cat([bos, tokens[:, : T - 1]], dim=1) if T > 0 else bos[:, :0]
        x = self.tok(inp) + self.pos(torch.arange(T, device=tokens.device))[None]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def enumerate_sequences(vocab_size: int, length: int, *, device=None) -> torch.Tensor:
    """All ``vocab_size ** length`` sequences, an int64 tensor ``(V^L, L)`` in lexicographic order
    (row ``i`` is ``i`` written in base ``V``, most significant token first)."""
    V = check_int(vocab_size, "vocab_size", low=2)
    L = check_int(length, "length", low=1)
    if V**L > 1_000_000:
        raise ValueError(f"vocab_size ** length must be <= 1e6 to enumerate, got {V}**{L} = {V**L}")
    idx = torch.arange(V**L, device=select_device(device) if device is not None else None)
    powers = V ** torch.arange(L - 1, -1, -1, device=idx.device)
    return (idx[:, None] // powers[None]) % V


def is_sequence_policy(model) -> bool:
    """Whether ``model`` offers the sequence-policy interface: a :class:`TinyCausalTransformer`, or
    an ``nn.Module`` with integer ``vocab_size`` and ``max_len`` and a method ``log_prob(sequences)``
    returning per-sequence log-probabilities (e.g. :class:`algorithms.torch.adapters.LogitsModelPolicy`)."""
    if isinstance(model, TinyCausalTransformer):
        return True
    return (isinstance(model, nn.Module) and callable(getattr(model, "log_prob", None))
            and isinstance(getattr(model, "vocab_size", None), int)
            and isinstance(getattr(model, "max_len", None), int))


def _check_model(model, name: str = "model") -> None:
    if not is_sequence_policy(model):
        raise TypeError(f"{name} must be a TinyCausalTransformer or a sequence policy (an nn.Module with vocab_size, "
                        f"max_len and log_prob, e.g. LogitsModelPolicy), got {type(model).__name__}")


def _check_sequences(model, sequences) -> torch.Tensor:
    _check_model(model)
    if not isinstance(sequences, torch.Tensor) or sequences.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"sequences must be an integer torch.Tensor (B, L), got {sequences!r:.80}")
    if sequences.ndim != 2 or not 1 <= sequences.shape[1] <= model.max_len:
        raise ValueError(f"sequences must have shape (B, L) with 1 <= L <= max_len = {model.max_len}, "
                         f"got {tuple(sequences.shape)}")
    if sequences.numel() and (int(sequences.min()) < 0 or int(sequences.max()) >= model.vocab_size):
        raise ValueError(f"sequences must hold token ids in [0, vocab_size = {model.vocab_size}), got values in "
                         f"[{int(sequences.min())}, {int(sequences.max())}]")
    return sequences.to(device=next(model.parameters()).device, dtype=torch.long)


def sequence_log_probs(model, sequences: torch.Tensor) -> torch.Tensor:
    """``log pi(y) = sum_t log softmax(logits_t)_{y_t}`` per sequence: ``(B,)``, float64, differentiable.
    ``model``: a :class:`TinyCausalTransformer` or any sequence policy (:func:`is_sequence_policy`)."""
    seq = _check_sequences(model, sequences)
    if not isinstance(model, TinyCausalTransformer):
        return model.log_prob(seq).to(torch.float64)
    logp = torch.log_softmax(model(seq).to(torch.float64), dim=-1)
    return logp.gather(-1, seq[..., None]).squeeze(-1).sum(dim=-1)


def response_log_policy(model, length: int) -> torch.Tensor:
    """The model's log-policy over all ``V^L`` responses of ``length`` tokens, in the order of
    :func:`enumerate_sequences`: ``(V^L,)`` float64 (normalised by construction)."""
    L = check_int(length, "length", low=1)
    _check_model(model)
    if L > model.max_len:
        raise ValueError(f"length must be <= the model's max_len = {model.max_len}, got {L}")
    return sequence_log_probs(model, enumerate_sequences(model.vocab_size, L))


def sequence_preference_game(vocab_size: int, length: int, *, intransitive: float = 1.0, rng) -> PreferenceGame:
    r"""A preference game over the ``V^L`` responses: ``Pref_ij = sigmoid(r_i - r_j + c A_ij)``.

    ``r`` is a standard normal score per response (Bradley-Terry) and ``A = (G - G^T)/sqrt 2``
    with ``G`` standard normal (an antisymmetric, intransitive part) scaled by
    ``c = intransitive``. Since ``sigmoid(-x) = 1 - sigmoid(x)`` and ``A`` is antisymmetric,
    ``Pref + Pref^T = 1`` and ``Pref_ii = 1/2`` exactly in exact arithmetic.
    """
    V = check_int(vocab_size, "vocab_size", low=2)
    L = check_int(length, "length", low=1)
    c = check_real(intransitive, "intransitive", low=0.0)
    gen = check_rng(rng)
    K = V**L
    r = gen.standard_normal(K)
    G = gen.standard_normal((K, K))
    A = (G - G.T) / np.sqrt(2.0)
    X = r[:, None] - r[None, :] + c * A
    upper = 1.0 / (1.0 + np.exp(-X))
    Pref = np.triu(upper, 1)
    Pref = Pref + (1.0 - Pref.T) * np.tri(K, K, -1) + 0.5 * np.eye(K)
    return PreferenceGame(Pref)


@dataclass(frozen=True)
class SequenceTrainingResult:
    """Outcome of :func:`train_sequence_policy`.

    ``policies (n_steps + 1, V^L)``: the model's enumerated policy before training and after each
    outer step (float64); ``exploitability (n_steps + 1,)``: ``game.exploitability(pi_t, beta, ref)``
    of each, computed by the tabular lab from these policies; ``fit_kl (n_steps,)``: ``KL(target ||
    model)`` left after each step's fit (NaN by definition in sampled mode, which has no target);
    ``ref`` the reference policy; ``settings`` the arguments.
    """

    policies: np.ndarray
    exploitability: np.ndarray
    fit_kl: np.ndarray
    ref: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def policy(self) -> np.ndarray:
        return self.policies[-1]


def _target(algorithm: str, z: torch.Tensor, log_mu: torch.Tensor, P: torch.Tensor, eta: float,
            beta: float) -> torch.Tensor:
    """The exact tabular update of ``z (1, K)`` (module docstring, step 2), via :mod:`algorithms.torch.nash`."""
    pol = TabularSoftmaxPolicy(z)
    if algorithm == "nash_md":
        return tnash.nash_md_step(pol, P, log_mu, eta, beta)
    if algorithm == "nash_mp":
        return tnash.nash_mp_step(pol, P, log_mu, eta, beta)[1]
    return tnash.omd_step(pol, P, log_mu, eta, beta, prox="linearized")


def train_sequence_policy(model, game: PreferenceGame, ref_model, *,
                          algorithm: str = "nash_md", beta: float, eta: float, n_steps: int, lr: float = 0.005,
                          n_fit: int = 20, length: int | None = None, device=None,
                          dtype: torch.dtype = torch.float32, seed: int = 0, mode: str = "exact", judge=None,
                          n_duels: int = 64) -> SequenceTrainingResult:
    """Train ``model`` in place by distillation of the exact mirror step (module docstring), or, with
    ``mode="sampled"``, by Nash-MD-PG on sampled duels (:mod:`algorithms.torch.sampled`).

    Parameters
    ----------
    model, ref_model : TinyCausalTransformer
        The policy (trained in place, moved to ``device``/``dtype``) and the reference (frozen).
        Same vocabulary; responses of ``length`` tokens (default ``model.max_len``) with
        ``vocab_size ** length == game.n_responses``.
    game : PreferenceGame
        A non-contextual game over the ``V^L`` responses, in :func:`enumerate_sequences` order.
    algorithm : {"nash_md", "nash_mp", "inpo"}
    beta, eta : float
        Regularisation ``beta > 0`` and step ``eta > 0`` (``eta beta <= 1`` for Nash-MD and INPO).
    n_steps, n_fit, lr : outer steps, Adam steps per outer step, Adam's learning rate (0.005: at 0.02 the
        check torch_bridge.transformer_exploitability failed on one game of ten, docs/theory/torch_bridge.md).
    seed : int
        Recorded in ``settings``. The exact loop draws no random numbers (exact win rates, full-batch
        fits over the enumerated responses), so it never touches a generator: the model's
        randomness is its initialisation, seeded by the model's own ``seed``. In sampled mode the
        duels are drawn from a private ``torch.Generator`` seeded with ``seed``.
    mode : {"exact", "sampled"}
        ``"sampled"`` (Nash-MD only): each outer step is ``n_fit`` Adam steps, each on the
        score-function loss :func:`algorithms.torch.nash.sampled_nash_md_pg_loss` of ``n_duels``
        fresh duels ``y ~ pi_theta`` against ``y' ~ pi_theta^{1 - eta beta} mu^{eta beta}``, each
        decided by a Bernoulli draw of ``judge(None, y, y')`` (default: ``TableJudge(game)``). The
        game is used only to record the exact exploitability.
    judge : PairwiseJudge, optional
        The preference oracle of sampled mode, called on token sequences ``(n_duels, L)``.
    n_duels : int
        Duels per gradient step in sampled mode (``>= 2``).
    """
    algorithm = check_choice(algorithm, "algorithm", ALGORITHMS)
    mode = check_choice(mode, "mode", MODES)
    for name, m in (("model", model), ("ref_model", ref_model)):
        _check_model(m, name)
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be an mdps.PreferenceGame, got {type(game).__name__}")
    if game.contextual:
        raise ValueError(f"game must be non-contextual, got {game.n_contexts} contexts")
    if ref_model.vocab_size != model.vocab_size:
        raise ValueError(f"ref_model.vocab_size must equal model.vocab_size = {model.vocab_size}, "
                         f"got {ref_model.vocab_size}")
    L = model.max_len if length is None else check_int(length, "length", low=1, high=model.max_len)
    if L > ref_model.max_len:
        raise ValueError(f"length must be <= ref_model.max_len = {ref_model.max_len}, got {L}")
    K = model.vocab_size**L
    if game.n_responses != K:
        raise ValueError(f"game.n_responses must equal vocab_size ** length = {model.vocab_size}**{L} = {K}, "
                         f"got {game.n_responses}")
    b = check_beta(beta)
    e = check_real(eta, "eta", low=0.0, low_open=True)
    if algorithm != "nash_mp" and e * b > 1.0 + 1e-12:
        raise ValueError(f"eta * beta must be <= 1 for {algorithm}'s linearised step, got eta={eta!r}, beta={beta!r}")
    n = check_int(n_steps, "n_steps", low=1)
    n_fit = check_int(n_fit, "n_fit", low=1)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    seed = check_int(seed, "seed", low=0)
    dev = select_device(device)
    dtype = _check_dtype(dtype)

    model.to(device=dev, dtype=dtype)
    ref_model.to(device=dev, dtype=dtype)
    seqs = enumerate_sequences(model.vocab_size, L, device=dev)
    P = tnash.pref_tensor(game)  # (1, K, K) float64 on the CPU: the exact step runs there
    with torch.no_grad():
        log_mu = sequence_log_probs(ref_model, seqs).cpu()[None]
    mu = torch.exp(log_mu)[0].numpy()
    mu = mu / mu.sum()  # float rounding of a normalised product (exactly 1 in exact arithmetic)

    def current() -> torch.Tensor:
        with torch.no_grad():
            return torch.log_softmax(sequence_log_probs(model, seqs).cpu(), dim=-1)[None]  # renormalised

    def record(z: torch.Tensor) -> tuple[np.ndarray, float]:
        pi = torch.exp(z[0]).numpy()
        pi = pi / pi.sum()
        return pi, game.exploitability(pi, beta=b, ref=mu)

    if mode == "sampled":
        from algorithms.torch import sampled

        if algorithm != "nash_md":
            raise ValueError(f"mode='sampled' implements algorithm='nash_md' only, got algorithm={algorithm!r}")
        n_duels = check_int(n_duels, "n_duels", low=2)
        if judge is None:
            from algorithms.torch.judges import TableJudge

            judge = TableJudge(game, vocab_size=model.vocab_size)
        elif not callable(judge):
            raise TypeError(f"judge must be a pairwise judge (callable), got {type(judge).__name__}")
        step = sampled.make_sampled_step(model, judge, log_mu[0].to(dev), seqs, beta=b, eta=e, n_duels=n_duels,
                                         generator=torch.Generator(device=dev).manual_seed(seed))
    elif judge is not None:
        raise ValueError("judge is used only with mode='sampled' (the exact mode reads the game's matrix)")

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    z = current()
    pis, expl, fit = [], [], []
    pi, ex = record(z)
    pis.append(pi)
    expl.append(ex)
    for _ in range(n):
        if mode == "sampled":
            for _ in range(n_fit):
                opt.zero_grad()
                step().backward()
                opt.step()
            z = current()
            fit.append(float("nan"))  # no distillation target in sampled mode
        else:
            target = _target(algorithm, z, log_mu, P, e, b)[0].to(dev)
            p_target = torch.exp(target)
            for _ in range(n_fit):
                opt.zero_grad()
                loss = (p_target * (target - sequence_log_probs(model, seqs))).sum()  # KL(target || model)
                loss.backward()
                opt.step()
            z = current()
            fit.append(float((p_target.cpu() * (target.cpu() - z[0])).sum()))
        if not torch.isfinite(z).all():
            raise FloatingPointError("the model's log-policy became non-finite during training (lower lr)")
        pi, ex = record(z)
        pis.append(pi)
        expl.append(ex)
    settings = {"algorithm": algorithm, "beta": b, "eta": e, "n_steps": n, "n_fit": n_fit, "lr": lr, "length": L,
                "device": str(dev), "dtype": str(dtype), "seed": seed, "mode": mode,
                "n_duels": n_duels if mode == "sampled" else None}
    return SequenceTrainingResult(policies=np.array(pis), exploitability=np.array(expl), fit_kl=np.array(fit),
                                  ref=mu, settings=settings)
