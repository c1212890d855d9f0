"""Cross-check of the preference game's Nash value and exploitability against OpenSpiel.

OpenSpiel is an optional peer (anchors.md 2.6; section 6 rows 7 and 8): this module is skipped
when ``pyspiel`` is absent (as in CI). Its LP (``lp_solver.solve_zero_sum_matrix_game``, 2.0.2)
also needs ``cvxpy`` and ``ecos``, which its wheel does not declare::

    pip install open_spiel cvxpy ecos

What is checked, on RPS, the 3x3 intransitive game and uniform tournaments K = 5, 20, 50
(zero-sum game ``A = Pref - 1/2``, loaded as ``pyspiel.create_matrix_game(A, -A)``):

1. **Exploitability identities** (exact arithmetic on both sides). Because ``A^T = -A``, for
   a profile ``(x, y)`` OpenSpiel's NashConv is
   ``[max_i (A y)_i - x^T A y] + [max_j (A x)_j + x^T A y] = E_0(x) + E_0(y)``, hence
   ``NashConv(pi, pi) = 2 E_0(pi) = game.duality_gap(pi)`` and OpenSpiel's
   ``exploitability`` (``NashConv / 2`` for two players) ``= E_0(pi) =
   game.exploitability(pi)``. The same holds on the constant-sum game ``(Pref, 1 - Pref)``
   (OpenSpiel subtracts ``utility_sum``). Both sides sum at most ``K = 50`` products of
   numbers in ``[-1/2, 1/2]``, so the round-off is ``<= 50 * 2^-53 ~ 6e-15``: tolerance 1e-12.
2. **Value** of the zero-sum game: exactly 0 (symmetric game). Ours is the value our LP
   equilibrium guarantees, ``min_j (pi*^T A)_j = -E_0(pi*)``, certified ``<= 1e-9``
   (``mdps.preference.LP_ATOL``); OpenSpiel's comes from ECOS stopped at ``abstol = reltol =
   feastol = 1e-7`` (``lp_solver.DEFAULT_ECOS_SOLVER_KWARGS``), so its value is within
   duality gap + feasibility residual (``|A| <= 1/2``) ``~ 2e-7`` of the truth. Tolerance
   ``1e-6`` (these bounds with a 5x margin), for both players' values and for ``E_0`` of
   OpenSpiel's LP strategy (whose constraint residual is the same ``feastol``).
3. **Strategies** where the equilibrium is known in closed form and sharp (unique, fully
   mixed: ``E_0(p) >= c ||p - p*||`` with ``c`` of order 1 for these 3x3 games): RPS
   (uniform) and the intransitive game (``(1, 2, 4) / 7``), to ``1e-6`` as in 2.
"""

import numpy as np
import pytest

pyspiel = pytest.importorskip("pyspiel")
pytest.importorskip("cvxpy")
pytest.importorskip("ecos")

from open_spiel.python import policy as policy_lib  # noqa: E402
from open_spiel.python.algorithms import exploitability as os_expl  # noqa: E402
from open_spiel.python.algorithms import lp_solver  # noqa: E402

import mdps  # noqa: E402

EXACT_TOL = 1e-12  # identities of item 1 (round-off only)
LP_TOL = 1e-6  # ECOS tolerance 1e-7 with margin (item 2)

INTRANSITIVE = [[0.5, 0.9, 0.3], [0.1, 0.5, 0.6], [0.7, 0.4, 0.5]]


def _games():
    out = [("rps", mdps.rock_paper_scissors(1.0), np.full(3, 1.0 / 3)),
           ("intransitive", mdps.PreferenceGame(INTRANSITIVE), np.array([1.0, 2.0, 4.0]) / 7.0)]
    for K, seed in ((5, 0), (20, 1), (50, 2)):
        out.append((f"tournament{K}", mdps.uniform_tournament(K, rng=seed), None))
    return out


GAMES = _games()
IDS = [g[0] for g in GAMES]


def _zero_sum(game):
    A = np.asarray(game.Pref) - 0.5
    return pyspiel.create_matrix_game(A.tolist(), (-A).tolist())


class _Profile:
    """A turn-based OpenSpiel game with a TabularPolicy whose two players' strategies we set."""

    def __init__(self, matrix_game):
        self.game = pyspiel.convert_to_turn_based(matrix_game)
        self.policy = policy_lib.TabularPolicy(self.game)
        self.keys = [self.policy.states_per_player[p][0] for p in (0, 1)]

    def set(self, x, y):
        self.policy.policy_for_key(self.keys[0])[:] = x
        self.policy.policy_for_key(self.keys[1])[:] = y
        return self

    def nash_conv(self):
        return float(os_expl.nash_conv(self.game, self.policy))

    def exploitability(self):
        return float(os_expl.exploitability(self.game, self.policy))


def _policies(game, seed):
    K = game.n_responses
    rng = np.random.default_rng(seed)
    return {"uniform": np.full(K, 1.0 / K), "random": rng.dirichlet(np.ones(K)),
            "peaked": rng.dirichlet(np.full(K, 0.2)), "nash": game.nash()}


@pytest.mark.parametrize("name, game, _", GAMES, ids=IDS)
@pytest.mark.parametrize("constant_sum", [False, True], ids=["zero-sum", "constant-sum"])
def test_exploitability_matches_openspiel_nash_conv(name, game, _, constant_sum):
    P = np.asarray(game.Pref)
    mg = (pyspiel.create_matrix_game(P.tolist(), (1.0 - P).tolist()) if constant_sum else _zero_sum(game))
    prof = _Profile(mg)
    pols = _policies(game, seed=len(name))
    for x in pols.values():
        e = game.exploitability(x)
        prof.set(x, x)
        assert prof.nash_conv() == pytest.approx(2.0 * e, abs=EXACT_TOL)
        assert prof.nash_conv() == pytest.approx(game.duality_gap(x), abs=EXACT_TOL)
        assert prof.exploitability() == pytest.approx(e, abs=EXACT_TOL)
        for y in pols.values():  # asymmetric profiles: NashConv(x, y) = E_0(x) + E_0(y)
            assert prof.set(x, y).nash_conv() == pytest.approx(e + game.exploitability(y), abs=EXACT_TOL)


@pytest.mark.parametrize("name, game, known", GAMES, ids=IDS)
def test_value_and_equilibrium_match_openspiel_lp(name, game, known):
    sol = lp_solver.solve_zero_sum_matrix_game(_zero_sum(game))
    assert sol is not None and sol[0] is not None, "OpenSpiel LP failed (ecos missing?)"
    p0, p1, v0, v1 = (np.asarray(s, dtype=np.float64) for s in sol)
    nash = game.nash()
    our_value = -game.exploitability(nash)  # min_j (pi*^T A)_j
    assert abs(our_value) <= 1e-9  # our LP certificate; the constant-sum value is 1/2 + this
    assert float(v0) == pytest.approx(our_value, abs=LP_TOL)
    assert float(v1) == pytest.approx(our_value, abs=LP_TOL)
    for p in (p0, p1):  # symmetric game: both players' LP strategies are (near-)equilibria
        p = np.clip(p, 0.0, None)
        p /= p.sum()
        assert game.exploitability(p) <= LP_TOL
    if known is not None:
        np.testing.assert_allclose(nash, known, atol=1e-9)  # our vertex solution
        np.testing.assert_allclose(p0, known, atol=LP_TOL)
        np.testing.assert_allclose(p1, known, atol=LP_TOL)
