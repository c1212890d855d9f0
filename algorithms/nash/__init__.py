"""algorithms.nash: Nash learning from human feedback on tabular (contextual) preference games.

One module per algorithm, one result record for all (:class:`NashResult`), one prox-step
primitive shared by every update (:mod:`algorithms.nash._prox`, preference.md 0.3):

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

Common keywords: ``oracle="exact" | "sampled"`` (``n_samples`` duels per response per
query, flip ``noise``, keyword-only ``rng``), ``schedule="constant" | "decaying" | callable``.
Query accounting (``NashResult.queries`` / ``.duels``): see :mod:`algorithms.nash._common`.
"""

from algorithms.nash._common import NashResult
from algorithms.nash._prox import linearized_prox_step, prox_step, step_sizes
from algorithms.nash.dno import dno, dno_loss
from algorithms.nash.inpo import inpo, inpo_loss
from algorithms.nash.mirror_prox import nash_mirror_prox
from algorithms.nash.nash_md import nash_ema, nash_md
from algorithms.nash.omd import online_mirror_descent
from algorithms.nash.spo import spo

__all__ = [
    "NashResult",
    "online_mirror_descent",
    "nash_md",
    "nash_ema",
    "nash_mirror_prox",
    "inpo",
    "inpo_loss",
    "spo",
    "dno",
    "dno_loss",
    "prox_step",
    "linearized_prox_step",
    "step_sizes",
]
