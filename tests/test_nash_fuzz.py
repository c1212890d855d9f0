"""Fuzz of every public entry point of the preference games and the Nash-learning algorithms
(issue 6, "Done when"; the hostile review of 2026-11-29).

Each example calls one public function with valid arguments except one (or a few), drawn from
a pool of hostile and edge values: NaN, +-inf, 0, -0.0, subnormals, 1e308, wrong types (numeric
strings, bytes, complex, bools, None, lists, objects), malformed arrays (wrong shape, ragged,
negative, unnormalised, zero mass, complex, strings, masked, empty), bad callables and seeds.
The outcome must be one of

* a ``ValueError`` / ``TypeError`` whose message names an argument of the function (never a raw
  NumPy / SciPy message), or
* an answer that is finite everywhere (policies on the simplex);

never a crash, a hang (pytest-timeout), a silent NaN/inf or another exception type. The one
exception allowed is ``RuntimeError("... not certified ...")`` from ``regularized_nash`` when
``tol`` / ``max_iter`` are hostile: the solver says it could not certify what was asked.

Bounded: small games (K <= 5), short runs (n_iter <= 12); sizes that are absurd asks (a 10^9
response game) are not drawn. The whole module runs in a few seconds.
"""

from __future__ import annotations

import inspect
import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algorithms import nash
from mdps import preference_generators as pg
from mdps.preference import EquilibriumCertificate, PreferenceGame

pytestmark = pytest.mark.timeout(120)

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.filter_too_much])

#: Fragments of messages that NumPy, SciPy or Python raise on their own; a lab error never has them.
RAW = ("could not convert", "ufunc", "could not be broadcast", "SeedSequence", "setting an array element",
       "unsupported operand", "not supported between", "argument must be", "object is not", "invalid literal",
       "only integer scalar", "only length-1", "truth value of an array", "index out of bounds",
       "cannot convert float", "math domain", "division by zero", "has no attribute", "not subscriptable",
       "unhashable", "numpy.", "takes from", "positional argument")

NAN, INF = float("nan"), float("inf")
BAD_SCALARS = [0.0, -0.0, -1.0, 5e-324, 1e-310, 1e-300, 1e-12, 0.5, 1.0, 2.0, 1e6, 1e300, 1e308, NAN, INF, -INF,
               "0.5", b"1", 0.5 + 0j, 1j, True, False, None, [0.5], (), {}, object(), np.array([0.5]),
               np.array(0.5), np.float32(0.5), np.int64(3), np.bool_(True), Fraction(1, 3), 3, -3, 0]
BAD_INTS = [0, -1, 1, 2, 3, 2.5, 3.0, "3", True, None, np.int32(4), -(10**20), [3], 1j]


def _finite(x, where="result"):
    """Every float reachable from the answer is finite (policies sum to 1 and are >= 0)."""
    if isinstance(x, nash.NashResult):
        for name in ("policy", "policies", "average_policy", "queries", "duels"):
            _finite(getattr(x, name), f"{where}.{name}")
        for arr in (x.policies, x.average_policy):
            assert np.all(arr >= 0) and np.allclose(arr.sum(axis=-1), 1.0, atol=1e-9), where
        _finite(x.settings.step_sizes, f"{where}.settings.step_sizes")
    elif isinstance(x, PreferenceGame):
        for name in ("Pref", "ref", "weights"):
            _finite(getattr(x, name), f"{where}.{name}")
    elif isinstance(x, EquilibriumCertificate):
        for v in (x.residual, x.residual_tol, x.exploitability, x.exploitability_tol):
            _finite(v, where)
    elif isinstance(x, tuple):
        for i, v in enumerate(x):
            _finite(v, f"{where}[{i}]")
    elif isinstance(x, np.ndarray):
        if x.dtype.kind in "fc":
            assert np.all(np.isfinite(x)), f"{where} has non-finite entries"
    elif isinstance(x, (float, np.floating)):
        assert math.isfinite(x), f"{where} is {x}"


def check(fn, *args, allow_uncertified=False, **kwargs):
    """Call ``fn``; accept a finite answer or a clean, argument-naming ValueError / TypeError."""
    names = set(inspect.signature(fn).parameters) | {"game", "games", "i", "j", "context"}
    try:
        with np.errstate(invalid="raise"):  # creating a NaN anywhere raises (an overflow to inf that the
            # code then handles, e.g. expit(inf) = 1, is allowed: the answer is checked to be finite)
            out = fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert msg, f"{fn.__name__}: empty {type(exc).__name__}"
        assert not isinstance(exc, FloatingPointError), f"{fn.__name__}: silent float error: {msg}"
        named = [n for n in names if re.search(rf"\b{re.escape(n)}(\b|\[|\()", msg)]
        assert named, f"{fn.__name__}: error names no argument: {msg!r}"
        # a library's own words may follow a lab prefix that names the argument ("x must be a numeric
        # array, got list: <numpy's reason>"), never stand alone
        if any(r in msg for r in RAW):
            assert any(msg.startswith(n) for n in named), f"{fn.__name__}: raw library message: {msg!r}"
        return None
    except RuntimeError as exc:
        if allow_uncertified and "not certified" in str(exc):
            return None
        raise
    _finite(out, fn.__name__)
    return out


# --------------------------------------------------------------------------------------------- arrays
def _bad_policies(K, X=None):
    """Malformed and edge policies for a game with K responses (X contexts)."""
    u = np.full(K, 1.0 / K)
    out = [u, np.eye(K)[0], u + 0j, u.astype(str), np.ma.masked_array(u, mask=np.eye(K)[0]), u * 1.1,
           np.append(u, 0.0), u[:-1], np.zeros(K), -u, np.full(K, NAN), np.full(K, INF), u[None, None], [],
           [[0.5], [0.5, 0.5]], None, "uniform", list(u), u.astype(np.float32), (u * 1e-320), np.array([u, u]),
           np.full((3, K), 1.0 / K)]
    if X is not None:
        out += [np.full((X, K), 1.0 / K), np.full((X + 1, K), 1.0 / K)]
    return out


GAMES = [pg.rock_paper_scissors(0.8, ref=[0.5, 0.3, 0.2]), pg.uniform_tournament(4, rng=0),
         pg.contextual([pg.uniform_tournament(3, rng=1), pg.rock_paper_scissors()], weights=[0.3, 0.7]),
         PreferenceGame(np.full((2, 2), 0.5)), pg.bradley_terry([0.0, 40.0, -40.0])]


def game_and(data):
    g = data.draw(st.sampled_from(GAMES))
    return g, (g.n_contexts if g.contextual else None)


# --------------------------------------------------------------------------------------------- the game
@FUZZ
@given(data=st.data())
def test_fuzz_preference_game_constructor(data):
    K = data.draw(st.integers(0, 4))
    base = np.full((K, K), 0.5)
    Pref = data.draw(st.sampled_from([base, base + 0j, base.astype(str), np.ma.masked_array(base), base[None],
                                      np.full((2, 3), 0.5), [[0.5, 1.2], [-0.2, 0.5]], [[0.5, NAN], [0.5, 0.5]],
                                      [[0.5, 0.9], [0.9, 0.5]], "abc", None, [[0.5, 0.7], [0.3]],
                                      np.stack([base, base]) if K else base]))
    kw = {}
    for name, pool in (("ref", _bad_policies(max(K, 2)) + [None]), ("weights", [None, [1.0], [0.5, 0.5], [1.5, -0.5],
                                                                               [0.5 + 0j, 0.5], "w"]),
                       ("atol", BAD_SCALARS + [1e-9, 1e-4, 1e-3])):
        if data.draw(st.booleans()):
            kw[name] = data.draw(st.sampled_from(pool))
    check(PreferenceGame, Pref, **kw)


@FUZZ
@given(data=st.data())
def test_fuzz_preference_game_methods(data):
    game, X = game_and(data)
    pols = _bad_policies(game.n_responses, X)
    pi = data.draw(st.sampled_from(pols))
    beta = data.draw(st.sampled_from(BAD_SCALARS))
    ref = data.draw(st.sampled_from(pols + [None] * 4))
    which = data.draw(st.sampled_from(["win_rates", "preference", "exploitability", "duality_gap", "residual",
                                       "certificate", "regularized_nash", "nash", "duel", "empirical"]))
    if which == "win_rates":
        check(game.win_rates, pi)
    elif which == "preference":
        check(game.preference, pi, data.draw(st.sampled_from(pols)))
    elif which == "exploitability":
        check(game.exploitability, pi, beta, ref)
    elif which == "duality_gap":
        check(game.duality_gap, pi, beta, ref)
    elif which == "residual":
        check(game.fixed_point_residual, pi, beta, ref)
    elif which == "certificate":
        check(game.equilibrium_certificate, pi, beta, ref)
    elif which == "regularized_nash":
        kw = {}
        if data.draw(st.booleans()):
            kw["tol"] = data.draw(st.sampled_from(BAD_SCALARS))
        if data.draw(st.booleans()):
            kw["max_iter"] = data.draw(st.sampled_from(BAD_INTS + [10**9]))
        check(game.regularized_nash, beta, ref, allow_uncertified=bool(kw), **kw)
    elif which == "nash":
        check(game.nash)
    elif which == "duel":
        idx = st.sampled_from([0, 1, -1, 99, [0, 1], np.array([0, 1]), 0.5, "0", None, np.array([[0]]), True,
                               np.array([0.0]), np.array([], dtype=int)])
        kw = dict(rng=data.draw(st.sampled_from([0, 1, -1, "abc", 1.5, None, np.random.default_rng(0), [1, 2]])),
                  noise=data.draw(st.sampled_from(BAD_SCALARS + [0.0, 0.25, 0.5])))
        if data.draw(st.booleans()):
            kw["context"] = data.draw(idx)
        check(game.duel, data.draw(idx), data.draw(idx), **kw)
    else:
        check(game.empirical_win_rates, pi, data.draw(st.sampled_from(BAD_INTS + [5, 20])),
              rng=data.draw(st.sampled_from([0, "abc", -1, None])),
              noise=data.draw(st.sampled_from(BAD_SCALARS + [0.0, 0.2])))


@FUZZ
@given(data=st.data())
def test_fuzz_generators(data):
    ints = st.sampled_from(BAD_INTS + [2, 3, 5])
    probs = st.sampled_from(BAD_SCALARS + [0.0, 0.3, 0.5, 1.0])
    refs = st.sampled_from([None, None, [0.5, 0.5], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.5 + 0j, 0.5], "u"])
    rngs = st.sampled_from([0, 1, None, -1, "abc", 1.5, True, np.random.SeedSequence(3), [1, 2]])
    scores = st.sampled_from([[0.0, 1.0], [1.0, 2.0, 3.0], [1e308, -1e308], [NAN, 0.0], [1.0], [], [1 + 0j, 0.0],
                              ["1", "2"], np.zeros((2, 2)), None, [0.0, 745.0, -745.0]])
    which = data.draw(st.sampled_from(["uniform_tournament", "rock_paper_scissors", "cycle", "bradley_terry",
                                       "random_bradley_terry", "thurstone", "bt_mixture", "clones", "flip",
                                       "contextual"]))
    ref = data.draw(refs)
    if which == "uniform_tournament":
        check(pg.uniform_tournament, data.draw(ints), rng=data.draw(rngs), ref=ref)
    elif which == "rock_paper_scissors":
        check(pg.rock_paper_scissors, data.draw(probs), ref=ref)
    elif which == "cycle":
        check(pg.cycle, data.draw(ints), data.draw(probs), ref=ref)
    elif which == "bradley_terry":
        check(pg.bradley_terry, data.draw(scores), ref=ref)
    elif which == "random_bradley_terry":
        check(pg.random_bradley_terry, data.draw(ints), scale=data.draw(probs), rng=data.draw(rngs), ref=ref)
    elif which == "thurstone":
        check(pg.thurstone, data.draw(scores), ref=ref)
    elif which == "bt_mixture":
        R = data.draw(st.sampled_from([np.zeros((2, 3)), np.ones((1, 2)), np.zeros((0, 3)), [[1.0, NAN]], "R",
                                       np.zeros(3), [[1e308, -1e308], [0.0, 0.0]]]))
        w = data.draw(st.sampled_from([[0.5, 0.5], [1.0], [1.5, -0.5], [0.5 + 0j, 0.5], None, "w", [NAN, 1.0]]))
        check(pg.bt_mixture, R, w, ref=ref)
    elif which == "clones":
        g = data.draw(st.sampled_from(GAMES + [None, "game"]))
        idx = data.draw(st.sampled_from([0, [0, 1], [], -1, 99, 0.5, "0", [[0]], True, None, np.array([0, 0, 1])]))
        check(pg.clones, g, idx, ref=data.draw(st.sampled_from([None, [0.25] * 4, "r"])))
    elif which == "flip":
        check(pg.flip, data.draw(st.sampled_from(GAMES + [None])), data.draw(probs))
    else:
        games = data.draw(st.sampled_from([GAMES[:2], [GAMES[0], GAMES[0]], [], [GAMES[2]], [None], "games",
                                           [pg.rock_paper_scissors(), pg.cycle(3)]]))
        check(pg.contextual, games, weights=data.draw(st.sampled_from([None, [0.5, 0.5], [1.0], [NAN, 1.0]])))


# --------------------------------------------------------------------------------------------- algorithms
ALGOS = {
    "online_mirror_descent": (nash.online_mirror_descent, dict(beta=0.2, eta=0.5, n_iter=5),
                              dict(prox=["linearized", "exact", "newton", None, 3])),
    "nash_md": (nash.nash_md, dict(beta=0.5, eta=1.0, n_iter=5), {}),
    "nash_ema": (nash.nash_ema, dict(beta=0.3, eta=0.5, n_iter=5), {}),
    "nash_mirror_prox": (nash.nash_mirror_prox, dict(beta=0.2, eta=2.0, n_iter=5),
                         dict(inner_steps=BAD_INTS + [2, None], inner_lr=BAD_SCALARS + [0.3, None],
                              inner_method=["mirror", "softmax_pg", "adam", None])),
    "inpo": (nash.inpo, dict(beta=0.3, eta=1.0, n_iter=5),
             dict(fit=["closed_form", "pair_loss", "sgd", None], n_pairs=BAD_INTS + [10, None])),
    "spo": (nash.spo, dict(eta=0.5, n_iter=5), dict(n_rollouts=BAD_INTS + [4, None])),
    "dno": (nash.dno, dict(eta=0.5, n_iter=5),
            dict(fit=["closed_form", "soft_label", "hard", None], n_pairs=BAD_INTS + [10, None])),
}


def _schedules():
    return ["constant", "decaying", "cosine", None, 3, lambda t: 0.5, lambda t: 1.0 / (t + 1), lambda t: NAN,
            lambda t: -1.0, lambda t: "0.5", lambda t: 1e308, lambda t: 0.5 + 0j, lambda t: np.float64(1e-300)]


@FUZZ
@pytest.mark.parametrize("name", sorted(ALGOS))
@given(data=st.data())
def test_fuzz_nash_algorithms(name, data):
    fn, valid, specific = ALGOS[name]
    game, X = game_and(data)
    pols = _bad_policies(game.n_responses, X)
    pools = dict(
        beta=BAD_SCALARS, eta=BAD_SCALARS, n_iter=BAD_INTS + [12], ref=pols + [None], init=pols + [None],
        schedule=_schedules(), oracle=["exact", "sampled", "magic", None, 1],
        n_samples=BAD_INTS + [5, None], noise=BAD_SCALARS + [0.0, 0.2, 0.49, 0.5],
        rng=[0, 1, None, -1, "abc", 1.5, True, np.random.default_rng(2)], **specific)
    params = inspect.signature(fn).parameters
    kwargs = dict(valid)
    for arg in data.draw(st.lists(st.sampled_from(sorted(a for a in pools if a in params)), max_size=3, unique=True)):
        kwargs[arg] = data.draw(st.sampled_from(pools[arg]))
    if kwargs.get("oracle") == "sampled" and data.draw(st.booleans()):
        kwargs.setdefault("rng", 0)
        if "n_samples" in params:
            kwargs.setdefault("n_samples", 3)
        if "n_rollouts" in params:
            kwargs.setdefault("n_rollouts", 3)
        if "n_pairs" in params:
            kwargs.setdefault("n_pairs", 8)
    check(fn, game, **kwargs)


@FUZZ
@given(data=st.data())
def test_fuzz_primitives_bounds_and_losses(data):
    """The public primitives, losses and bound functions (one hostile argument at a time)."""
    s = st.sampled_from(BAD_SCALARS)
    arr = st.sampled_from([np.log([0.5, 0.5]), np.log([0.2, 0.3, 0.5]), [0.0, NAN], [1j, 0.0], "z", None,
                           np.zeros((2, 2)), [], [[0.0], [0.0, 1.0]], np.array([-np.inf, 0.0])])
    idx = st.sampled_from([[0, 1], [1, 0], [0, 5], [-1, 0], [0.0, 1.0], "0", None, [], [[0, 1]], [True, False]])
    which = data.draw(st.integers(0, 13))
    if which == 0:
        check(nash.prox_step, data.draw(arr), data.draw(arr), data.draw(arr), data.draw(s), data.draw(s))
    elif which == 1:
        check(nash.linearized_prox_step, data.draw(arr), data.draw(arr), data.draw(arr), data.draw(s), data.draw(s))
    elif which == 2:
        check(nash.step_sizes, data.draw(st.sampled_from(_schedules())), data.draw(s),
              data.draw(st.sampled_from(BAD_INTS + [4])), beta=data.draw(s))
    elif which == 3:
        check(nash.inpo_loss, data.draw(arr), data.draw(arr), data.draw(arr), data.draw(idx), data.draw(idx),
              beta=data.draw(s), eta=data.draw(s), weights=data.draw(st.sampled_from([None, [1.0, 1.0], [-1.0, 1.0],
                                                                                       [0.0, 0.0], "w"])))
    elif which == 4:
        check(nash.dno_loss, data.draw(arr), data.draw(arr), data.draw(idx), data.draw(idx),
              data.draw(st.sampled_from([[0.5, 0.5], [2.0, 0.0], [NAN, 0.5], "l", [0.5]])), eta=data.draw(s))
    elif which == 5:
        check(nash.nash_mp_kl_envelope, data.draw(s), data.draw(st.sampled_from(BAD_INTS + [[0, 2, 4]])),
              eta=data.draw(st.sampled_from(BAD_SCALARS + [2.0])))
    elif which == 6:
        check(nash.nash_md_recursion_bound, data.draw(s), data.draw(s), data.draw(s))
    elif which == 7:
        check(nash.nash_md_decaying_bound, data.draw(s), data.draw(s), data.draw(st.sampled_from(BAD_INTS)))
    elif which == 8:
        check(nash.hedge_step, data.draw(st.sampled_from(BAD_INTS)), data.draw(st.sampled_from(BAD_INTS)))
    elif which == 9:
        check(nash.hedge_exploitability_bound, data.draw(st.sampled_from(BAD_INTS)),
              data.draw(st.sampled_from(BAD_INTS + [[1, 10]])))
    elif which == 10:
        check(nash.hedge_average_bound, data.draw(st.sampled_from([[0.1, 0.2], [], [-0.1], [NAN], "e", None])),
              data.draw(st.sampled_from([[0.5, 0.5], [1.0, 0.0], [NAN, 1.0], None, "p"])))
    elif which == 11:
        check(nash.omd_kl_factor, data.draw(s), data.draw(s), data.draw(s))
    elif which == 12:
        g = data.draw(st.sampled_from(GAMES + [None]))
        check(nash.omd_stability, g, data.draw(st.sampled_from(BAD_SCALARS[:13] + [0.1, 0.3])),
              data.draw(st.sampled_from([None, [0.5, 0.5], [0.2, 0.3, 0.5], "r"])))
    else:
        check(nash.step_sizes, "decaying", data.draw(s), 5, beta=data.draw(s))
