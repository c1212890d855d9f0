"""algorithms.nash: Nash learning from human feedback on tabular (contextual) preference games.

One module per algorithm, one result record for all (:class:`NashResult`, with a typed, frozen
:class:`NashSettings` record), one prox-step primitive shared by every update
(:mod:`algorithms.nash._prox`, docs/theory/nash.md, section 'Closed-form prox steps'), one preference oracle that owns its query
accounting (:class:`WinRateOracle`):

=============================  ==============================================================
:func:`online_mirror_descent`  OMD / Hedge self-play (baseline; regularised with ``beta > 0``)
:func:`nash_md`                Nash-MD (Munos et al. 2023, arXiv 2312.00886)
:func:`nash_ema`               Nash-EMA, tabular smoothed-fictitious-play analog (same paper)
:func:`nash_mirror_prox`       Nash-MP, exact or with ``inner_steps`` policy-gradient prox
                               solves (Tiapkin et al. 2025, arXiv 2505.19731)
:func:`inpo`                   INPO, closed form or fitted by its pair loss (arXiv 2407.00617)
:func:`spo`                    SPO self-play, Hedge / EXP3 (arXiv 2401.04056)
:func:`dno`                    DNO soft-label step (arXiv 2404.03715)
=============================  ==============================================================

Each theorem's bound is a function beside its algorithm, to be called (never retyped) by
checks, tests and notebooks. Tags: [A] abstract-level, [R] recalled textbook result or exact
derivation, [U] recalled constant (docs/README.md, section 'Provenance tags'; derivations in ``docs/theory/nash.md``):

==================================  ==========================================================
:func:`nash_mp_kl_envelope`         Nash-MP: ``KL_N / KL_0 <= (1 + eta beta)^{-N/2}`` [A]
:func:`nash_md_recursion_bound`     Nash-MD: ``KL_{t+1} <= (1 - eta tau) KL_t + 2 eta^2`` [U]
:func:`nash_md_decaying_bound`      Nash-MD, ``eta_t = 2/(tau(t+2))``: ``max(2KL_0, 8/tau^2)/(t+2)``
:func:`hedge_step`                  Hedge's tuned step ``sqrt(8 log K / T)``
:func:`hedge_exploitability_bound`  Hedge self-play average: ``E_0 <= sqrt(log K / (2T))``
:func:`hedge_average_bound`         the same for any steps and start [R]
:func:`omd_stability`               OMD / INPO linearisation: ``pi*, omega, eta limit`` [R]
:func:`omd_kl_factor`               OMD / INPO per-iteration KL factor ``(1-eta beta)^2 + eta^2 omega^2``
==================================  ==========================================================

Common keywords: ``oracle="exact" | "sampled"`` (``n_samples`` duels per response per
query, flip ``noise``, keyword-only ``rng``), ``schedule="constant" | "decaying" | callable``.
Query accounting (``NashResult.queries`` / ``.duels``): see :class:`WinRateOracle`.
"""

from algorithms.nash._common import NashResult, NashSettings
from algorithms.nash._oracle import WinRateOracle
from algorithms.nash._prox import linearized_prox_step, prox_step, step_sizes
from algorithms.nash.dno import DNOSettings, dno, dno_loss
from algorithms.nash.inpo import INPOSettings, inpo, inpo_loss
from algorithms.nash.mirror_prox import MirrorProxSettings, nash_mirror_prox, nash_mp_kl_envelope
from algorithms.nash.nash_md import nash_ema, nash_md, nash_md_decaying_bound, nash_md_recursion_bound
from algorithms.nash.omd import (
    OMDSettings,
    hedge_average_bound,
    hedge_exploitability_bound,
    hedge_step,
    omd_kl_factor,
    omd_stability,
    online_mirror_descent,
)
from algorithms.nash.spo import SPOSettings, spo

__all__ = [
    # algorithms
    "online_mirror_descent",
    "nash_md",
    "nash_ema",
    "nash_mirror_prox",
    "inpo",
    "inpo_loss",
    "spo",
    "dno",
    "dno_loss",
    # records and the oracle
    "NashResult",
    "NashSettings",
    "MirrorProxSettings",
    "OMDSettings",
    "INPOSettings",
    "SPOSettings",
    "DNOSettings",
    "WinRateOracle",
    # primitives
    "prox_step",
    "linearized_prox_step",
    "step_sizes",
    # bounds
    "nash_mp_kl_envelope",
    "nash_md_recursion_bound",
    "nash_md_decaying_bound",
    "hedge_step",
    "hedge_exploitability_bound",
    "hedge_average_bound",
    "omd_stability",
    "omd_kl_factor",
]
