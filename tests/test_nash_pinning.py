"""Bit-for-bit pins of every Nash-learning algorithm, guarding refactors of :mod:`algorithms.nash`.

This is the one place where numbers are pinned rather than derived from a theorem: the other
Nash test modules test the theorems; this module only says "a refactor that does not touch the
numerics must not move a single bit". Each case runs one algorithm (exact and sampled oracles,
contextual and not, every variant flag) on a small seeded game and hashes the raw bytes of the
returned ``policies``, ``average_policy``, ``queries`` and ``duels`` (SHA-256, first 16 hex
digits).

How the pins were produced: ``python -m tests.test_nash_pinning`` prints the table below; it
was run on the code of commit c445955 (before the oracle / settings-record refactor of
issue 7), x86-64, numpy 2.4. Bitwise results depend on the platform's floating-point paths
(BLAS kernels, FMA), so the test runs only on the platform recorded in ``PLATFORM`` and is
skipped elsewhere (regenerate the table there with the command above, from a commit whose
numerics you trust).
"""

from __future__ import annotations

import hashlib
import platform

import numpy as np
import pytest

from algorithms.nash import dno, inpo, nash_ema, nash_md, nash_mirror_prox, online_mirror_descent, spo
from mdps.preference_generators import contextual, uniform_tournament

PLATFORM = ("x86_64", "2.4")


def _game(seed, K):
    rng = np.random.default_rng(seed)
    return uniform_tournament(K, rng=rng, ref=rng.dirichlet(np.full(K, 2.0)))


def _ctx():
    return contextual([_game(7, 4), _game(8, 4), _game(9, 4)], weights=[0.2, 0.3, 0.5])


G = _game(1, 5)
C = _ctx()
P0 = np.array([0.3, 0.25, 0.2, 0.15, 0.1])

CASES = {
    "mp_exact": lambda: nash_mirror_prox(G, 0.2, 2.0, 12),
    "mp_init_eta": lambda: nash_mirror_prox(G, 0.05, 0.7, 9, init=P0),
    "mp_sampled": lambda: nash_mirror_prox(G, 0.2, 2.0, 6, oracle="sampled", n_samples=9, rng=3),
    "mp_sampled_noise": lambda: nash_mirror_prox(G, 0.2, 1.0, 5, oracle="sampled", n_samples=4, noise=0.1, rng=4),
    "mp_inner_mirror": lambda: nash_mirror_prox(G, 0.3, 2.0, 6, inner_steps=3, inner_lr=0.4),
    "mp_inner_pg": lambda: nash_mirror_prox(G, 0.3, 2.0, 6, inner_steps=2, inner_lr=0.5, inner_method="softmax_pg"),
    "mp_decaying": lambda: nash_mirror_prox(G, 0.3, 2.0, 7, schedule="decaying"),
    "mp_ctx": lambda: nash_mirror_prox(C, 0.2, 2.0, 8),
    "mp_ctx_sampled": lambda: nash_mirror_prox(C, 0.2, 2.0, 4, oracle="sampled", n_samples=5, rng=5),
    "md_const": lambda: nash_md(G, 0.5, 1.0, 15),
    "md_decaying": lambda: nash_md(G, 0.5, 2.0, 15, schedule="decaying"),
    "md_callable": lambda: nash_md(G, 0.5, 1.0, 6, schedule=lambda t: 1.0 / (t + 1)),
    "md_sampled": lambda: nash_md(G, 0.5, 1.0, 6, oracle="sampled", n_samples=7, rng=6),
    "md_ctx_sampled": lambda: nash_md(C, 0.5, 1.0, 4, oracle="sampled", n_samples=3, noise=0.2, rng=7),
    "ema_const": lambda: nash_ema(G, 0.3, 0.4, 10),
    "ema_decaying": lambda: nash_ema(G, 0.3, 1.0, 10, schedule="decaying"),
    "ema_sampled": lambda: nash_ema(G, 0.3, 0.5, 5, oracle="sampled", n_samples=6, rng=8),
    "ema_ctx": lambda: nash_ema(C, 0.3, 0.5, 5),
    "omd_lin": lambda: online_mirror_descent(G, 0.3, 1.0, 12),
    "omd_exact": lambda: online_mirror_descent(G, 0.3, 1.7, 12, prox="exact"),
    "omd_hedge": lambda: online_mirror_descent(G, 0.0, 0.6, 12, init=P0),
    "omd_hedge_decaying": lambda: online_mirror_descent(G, 0.0, 0.6, 12, schedule="decaying"),
    "omd_sampled": lambda: online_mirror_descent(G, 0.3, 1.0, 6, oracle="sampled", n_samples=8, rng=9),
    "omd_ctx_sampled": lambda: online_mirror_descent(C, 0.0, 1.0, 4, oracle="sampled", n_samples=4, noise=0.1,
                                                     rng=10),
    "inpo_closed": lambda: inpo(G, 0.4, 1.0, 10),
    "inpo_pair_exact": lambda: inpo(G, 0.4, 1.0, 6, fit="pair_loss"),
    "inpo_pair_sampled": lambda: inpo(G, 0.4, 1.0, 5, fit="pair_loss", oracle="sampled", n_pairs=40, rng=11),
    "inpo_pair_sampled_ns": lambda: inpo(G, 0.4, 1.0, 3, fit="pair_loss", oracle="sampled", n_pairs=20,
                                         n_samples=3, rng=12),
    "inpo_closed_sampled": lambda: inpo(G, 0.4, 1.0, 5, oracle="sampled", n_samples=6, rng=13),
    "inpo_ctx_pair_sampled": lambda: inpo(C, 0.4, 1.0, 3, fit="pair_loss", oracle="sampled", n_pairs=15,
                                          noise=0.1, rng=14),
    "spo_exact": lambda: spo(G, 0.7, 10),
    "spo_sampled": lambda: spo(G, 0.7, 6, oracle="sampled", n_rollouts=6, rng=15),
    "spo_ctx_sampled": lambda: spo(C, 0.7, 4, oracle="sampled", n_rollouts=4, noise=0.1, rng=16),
    "dno_closed": lambda: dno(G, 0.8, 10),
    "dno_soft": lambda: dno(G, 0.8, 5, fit="soft_label"),
    "dno_sampled": lambda: dno(G, 0.8, 5, oracle="sampled", n_samples=6, rng=17),
    "dno_soft_sampled": lambda: dno(G, 0.8, 4, fit="soft_label", oracle="sampled", n_samples=5, n_pairs=30, rng=18),
    "dno_ctx_soft": lambda: dno(C, 0.8, 4, fit="soft_label"),
}


def digest(res) -> str:
    h = hashlib.sha256()
    for arr in (res.policies, res.average_policy):
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    for arr in (res.queries, res.duels):
        h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
    h.update(res.method.encode())
    return h.hexdigest()[:16]


# produced by `python -m tests.test_nash_pinning` at commit c445955 (module docstring)
PINS = {
    'dno_closed': 'a70cd2522b54c5c3',
    'dno_ctx_soft': 'f4e4d1a1d4d731a0',
    'dno_sampled': '1abde113ad705cab',
    'dno_soft': 'd64f6aea561cb196',
    'dno_soft_sampled': 'c7ed82ae18b944ec',
    'ema_const': '96e5ea6c54fb7176',
    'ema_ctx': 'e5fc09eba7bd96b5',
    'ema_decaying': 'dc85c0e9adfb10e4',
    'ema_sampled': 'c978ec1f0bee2a6d',
    'inpo_closed': 'd40732ccef04f616',
    'inpo_closed_sampled': '6048fda1f5c3142b',
    'inpo_ctx_pair_sampled': '72e174fc36e5023e',
    'inpo_pair_exact': '484634be18d51df0',
    'inpo_pair_sampled': 'fdec5a3e8c1a4b17',
    'inpo_pair_sampled_ns': '6467e37449189f28',
    'md_callable': '132ad6081338eeef',
    'md_const': '8c23ab0d08991749',
    'md_ctx_sampled': '8bd4de6e93825826',
    'md_decaying': 'f4cc79476ec8858d',
    'md_sampled': '792711d61b3d3697',
    'mp_ctx': 'f3dd32753eec3c47',
    'mp_ctx_sampled': 'aecd13d2727c1876',
    'mp_decaying': '8d9d8756fe1a79cb',
    'mp_exact': 'bfd3857ae6d0a60a',
    'mp_init_eta': '9fcaa54a9380d32b',
    'mp_inner_mirror': '0e7cd503515ef8b4',
    'mp_inner_pg': '69050d9e739ce252',
    'mp_sampled': '11be38f424e90806',
    'mp_sampled_noise': '8c0f75210dd3310f',
    'omd_ctx_sampled': '4ce1abec3d22ce53',
    'omd_exact': 'fa2b832b1af22da6',
    'omd_hedge': '1ac1fd94fb9a4537',
    'omd_hedge_decaying': 'ac5c41531fe6b615',
    'omd_lin': '0928bba728649254',
    'omd_sampled': '712024aac0071366',
    'spo_ctx_sampled': 'a725c88efa72b6a8',
    'spo_exact': 'd851bb63e19eb58a',
    'spo_sampled': '72430ee110295587',
}


@pytest.mark.skipif((platform.machine(), ".".join(np.__version__.split(".")[:2])) != PLATFORM,
                    reason=f"bitwise pins were recorded on {PLATFORM} (module docstring)")
@pytest.mark.parametrize("name", sorted(CASES))
def test_results_are_bitwise_unchanged(name):
    assert digest(CASES[name]()) == PINS[name]


if __name__ == "__main__":
    for name in sorted(CASES):
        print(f"    {name!r}: {digest(CASES[name]())!r},")
