r"""Preference-game generators (docs/theory/nash.md, section 'Preference game').

Every generator returns a validated :class:`~mdps.preference.PreferenceGame`; ``ref=None``
means the uniform reference policy unless stated otherwise. Randomised generators take a
keyword-only ``rng`` (a :class:`numpy.random.Generator`, an int or a
:class:`numpy.random.SeedSequence`, normalised with :func:`numpy.random.default_rng`).
Matrices are built exactly complementary: the upper triangle is computed and the lower one set
to ``1 - upper``.

========================  ===================================================================
``uniform_tournament``    upper triangle iid U(0, 1): generic intransitive games
``rock_paper_scissors``   ``cycle(3, p)``
``cycle``                 ``y`` beats ``y + 1 mod K`` w.p. ``p``, other pairs 1/2 (NE uniform)
``bradley_terry``         ``sigma(r_i - r_j)``: transitive, Condorcet winner ``argmax r``
``random_bradley_terry``  ``bradley_terry`` with ``r ~ N(0, scale^2)``
``thurstone``             ``Phi((r_i - r_j) / sqrt 2)``: link misspecification
``bt_mixture``            ``sum_u w_u sigma(R[u, i] - R[u, j])``: Condorcet paradox
``clones``                duplicated responses: clone invariance
``flip``                  ``(1 - 2 eps) Pref + eps``: symmetric label noise
``contextual``            stack same-``K`` games into one contextual game
========================  ===================================================================
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import expit, ndtr

from mdps.preference import PreferenceGame
from mdps.validation import check_rng
from mdps.validation import as_float_array, check_int

__all__ = [
    "uniform_tournament",
    "rock_paper_scissors",
    "cycle",
    "bradley_terry",
    "random_bradley_terry",
    "thurstone",
    "bt_mixture",
    "clones",
    "flip",
    "contextual",
]


def _from_upper(upper_fn, K: int) -> np.ndarray:
    """``Pref`` with ``Pref[i, j] = upper_fn(i, j)`` for ``i < j``, lower ``1 - upper``, diag 1/2.

    Score differences beyond the float64 range (scores near ``+-1e308``) overflow to ``+-inf``,
    where the links saturate exactly (``sigma(+-inf) = 1, 0``): that overflow is the intended
    limit, so its warning is silenced here."""
    iu, ju = np.triu_indices(K, 1)
    P = np.full((K, K), 0.5)
    with np.errstate(over="ignore"):
        up = upper_fn(iu, ju)
    P[iu, ju] = up
    P[ju, iu] = 1.0 - up
    return P


#: Largest ``scale`` of :func:`random_bradley_terry` (normal draws stay far below overflow).
SCALE_MAX = 1e300


def _check_prob(p, name: str, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a real number in [{low:g}, {high:g}], got {p!r}")
    v = float(p)
    if not (low <= v <= high):
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {p!r}")
    return v


def _scores(scores) -> np.ndarray:
    r = as_float_array(scores, "scores", ndim=1)
    if r.shape[0] < 2:
        raise ValueError(f"scores must have at least 2 entries (K >= 2), got shape {r.shape}")
    return r


def uniform_tournament(K, *, rng=None, ref=None) -> PreferenceGame:
    """``Pref[i, j] ~ U(0, 1)`` iid for ``i < j``, ``Pref[j, i] = 1 - Pref[i, j]``, diagonal 1/2."""
    K = check_int(K, "K", low=2)
    gen = check_rng(rng)
    u = gen.random(K * (K - 1) // 2)
    return PreferenceGame(_from_upper(lambda i, j: u, K), ref=ref)


def cycle(K, p: float = 1.0, *, ref=None) -> PreferenceGame:
    """``y`` beats ``y + 1 (mod K)`` with probability ``p``; every other pair is 1/2.

    Needs ``K >= 3`` (with ``K = 2`` the pairs ``(0, 1)`` and ``(1, 0)`` coincide). The Nash
    equilibrium is uniform (every column of ``Pref - 1/2`` sums to 0).
    """
    K = check_int(K, "K", low=3)
    p = _check_prob(p, "p")
    P = np.full((K, K), 0.5)
    y = np.arange(K)
    P[y, (y + 1) % K] = p
    P[(y + 1) % K, y] = 1.0 - p
    return PreferenceGame(P, ref=ref)


def rock_paper_scissors(p: float = 1.0, *, ref=None) -> PreferenceGame:
    """``cycle(3, p)``: ``Pref[0, 1] = Pref[1, 2] = Pref[2, 0] = p`` (theory 1.3's ``rps(p)``)."""
    return cycle(3, p, ref=ref)


def bradley_terry(scores, *, ref=None) -> PreferenceGame:
    """Bradley-Terry: ``Pref[i, j] = sigma(r_i - r_j)``, ``sigma`` the logistic function."""
    r = _scores(scores)
    return PreferenceGame(_from_upper(lambda i, j: expit(r[i] - r[j]), r.shape[0]), ref=ref)


def random_bradley_terry(K, *, scale: float = 1.0, rng=None, ref=None) -> PreferenceGame:
    """:func:`bradley_terry` with scores ``r ~ N(0, scale^2)`` iid (theory 1.4's ``bt(r)``)."""
    K = check_int(K, "K", low=2)
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a real number in [0, {SCALE_MAX:g}], got {scale!r}")
    if not (0 <= float(scale) <= SCALE_MAX):
        raise ValueError(f"scale must be finite, >= 0 and <= {SCALE_MAX:g} (scores stay finite), got {scale!r}")
    gen = check_rng(rng)
    return bradley_terry(float(scale) * gen.standard_normal(K), ref=ref)


def thurstone(scores, *, ref=None) -> PreferenceGame:
    """Thurstone (probit): ``Pref[i, j] = Phi((r_i - r_j) / sqrt(2))``."""
    r = _scores(scores)
    return PreferenceGame(_from_upper(lambda i, j: ndtr((r[i] - r[j]) / np.sqrt(2.0)), r.shape[0]), ref=ref)


def bt_mixture(score_matrix, weights, *, ref=None) -> PreferenceGame:
    """A population of Bradley-Terry raters: ``Pref[i, j] = sum_u w_u sigma(R[u, i] - R[u, j])``.

    ``score_matrix`` is ``(U, K)``, ``weights`` ``(U,)`` on the simplex. Mixing transitive
    raters can produce a cyclic majority (Condorcet paradox).
    """
    R = as_float_array(score_matrix, "score_matrix", ndim=2)
    U, K = R.shape
    if U < 1 or K < 2:
        raise ValueError(f"score_matrix must have shape (U, K) with U >= 1, K >= 2, got {R.shape}")
    w = as_float_array(weights, "weights", ndim=1)
    if w.shape != (U,):
        raise ValueError(f"weights must have shape ({U},), got {w.shape}")
    neg = np.flatnonzero(w < 0)
    if neg.size:
        raise ValueError(f"weights[{neg[0]}] is {w[neg[0]]:.6g}, expected >= 0")
    if abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"weights sums to {w.sum():.12g}, expected 1 within 1e-09")
    w = w / w.sum()
    return PreferenceGame(_from_upper(lambda i, j: w @ expit(R[:, i] - R[:, j]), K), ref=ref)


def clones(game: PreferenceGame, idx, *, ref=None) -> PreferenceGame:
    """Append copies of the responses ``idx`` (an int or a sequence, repeats allowed).

    The new game has ``K + len(idx)`` responses: the original ``K`` in order, then a copy of
    response ``idx[m]`` at position ``K + m`` (identical row and column, ``1/2`` against its
    original). Contextual games are cloned in every context.

    ``ref=None`` extends the game's ref by giving each copy the same mass as its original and
    renormalising: ``mu' = [mu, mu[idx]] / (1 + sum(mu[idx]))`` (so ``mu'(copy) = mu'(orig)``).
    Pass ``ref`` to choose another split.
    """
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    K = game.n_responses
    try:
        ix = np.atleast_1d(np.asarray(idx))
    except (TypeError, ValueError):
        raise TypeError(f"idx must be an int or a non-empty 1-d sequence of ints, got {idx!r}") from None
    if ix.dtype == np.bool_ or not np.issubdtype(ix.dtype, np.integer):
        raise TypeError(f"idx must be an int or a non-empty 1-d sequence of ints, got {idx!r}")
    if ix.ndim != 1 or ix.size == 0:
        raise ValueError(f"idx must be an int or a non-empty 1-d sequence of ints, got {idx!r}")
    bad = np.flatnonzero((ix < 0) | (ix >= K))
    if bad.size:
        raise ValueError(f"idx[{bad[0]}] is {int(ix[bad[0]])}, expected in [0, {K})")
    order = np.concatenate([np.arange(K), ix])
    P3 = np.asarray(game.Pref).reshape(game.n_contexts, K, K)
    P_new = P3[:, order][:, :, order]
    P_new = P_new if game.contextual else P_new[0]
    if ref is None:
        mu = np.asarray(game.ref)
        ext = mu[..., order]
        ref = ext / ext.sum(axis=-1, keepdims=True)
    weights = game.weights if game.contextual else None
    return PreferenceGame(P_new, weights=weights, ref=ref)


def flip(game: PreferenceGame, eps: float) -> PreferenceGame:
    """Symmetric label noise: ``(1 - eps) Pref + eps (1 - Pref) = (1 - 2 eps) Pref + eps``.

    ``eps`` in ``[0, 0.5]``; the game's ``weights`` and ``ref`` are kept. ``flip(game, eps)``
    is the preference matrix seen through :meth:`PreferenceGame.duel` with ``noise=eps``.
    """
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    e = _check_prob(eps, "eps", 0.0, 0.5)
    P = (1.0 - 2.0 * e) * np.asarray(game.Pref) + e
    weights = game.weights if game.contextual else None
    return PreferenceGame(P, weights=weights, ref=game.ref)


def contextual(games, weights=None) -> PreferenceGame:
    """Stack non-contextual games with the same ``K`` into one contextual game.

    Context ``x`` is ``games[x]`` (its ``Pref`` and ``ref``); ``weights`` ``(X,)`` is the
    context distribution (default uniform).
    """
    games = list(games)
    if not games:
        raise ValueError("games must be a non-empty sequence of PreferenceGame")
    for n, g in enumerate(games):
        if not isinstance(g, PreferenceGame):
            raise TypeError(f"games[{n}] must be a PreferenceGame, got {type(g).__name__}")
        if g.contextual:
            raise ValueError(f"games[{n}] is already contextual; stack non-contextual games")
        if g.n_responses != games[0].n_responses:
            raise ValueError(
                f"games[{n}] has {g.n_responses} responses, expected {games[0].n_responses} (same K)"
            )
    P = np.stack([g.Pref for g in games])
    ref = np.stack([g.ref for g in games])
    return PreferenceGame(P, weights=weights, ref=ref)
