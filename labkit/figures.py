"""Paper-style figures drawn from arrays (matplotlib only).

The functions here compute nothing about algorithms: data come in as arrays (one row per
seed) and, for rate plots, an already fitted :class:`labkit.rates.RateFit`. Each returns the
``matplotlib.figure.Figure`` it drew on (the figure of ``ax`` when one is given), so a figure is
rebuilt from stored results with only visual parameters.

* :func:`paper_style` — a context manager setting small serif fonts, thin lines, no top/right
  spines, constrained (tight) layout and 300 dpi output. Every plotting function here draws
  inside it.
* :func:`rate_plot` — log-log mean over seeds with a bootstrap band, the fitted slope over the
  tail and the theorem's slope (dashed, anchored at the tail's first point).
* :func:`convergence_plot` — error curves (median and interquartile band over seeds) with
  theory curves dashed, log y axis by default.
* :func:`band_plot` — mean with a bootstrap confidence band, linear axes.
* :func:`save_figure` — writes ``name.pdf`` and ``name.png``.

Bands use :func:`labkit.stats.bootstrap_ci` of the mean at each x (90% by default); with a
single seed there is no band.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Mapping

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from labkit.stats import bootstrap_ci

__all__ = ["PAPER_RC", "paper_style", "rate_plot", "convergence_plot", "band_plot", "save_figure"]

PAPER_RC = {
    "font.family": "serif",
    "font.serif": ["DejaVu Serif", "Times New Roman", "Times", "serif"],
    "mathtext.fontset": "dejavuserif",
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 9,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.0,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "figure.figsize": (3.4, 2.4),
    "figure.constrained_layout.use": True,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}


@contextlib.contextmanager
def paper_style(**overrides):
    """Context manager applying :data:`PAPER_RC` (plus ``overrides``) to figures made inside it."""
    with mpl.rc_context({**PAPER_RC, **overrides}):
        yield


def _axes(ax):
    if ax is None:
        fig, ax = plt.subplots()
        return fig, ax
    return ax.figure, ax


def _legend(ax):
    if ax.get_legend_handles_labels()[0]:
        ax.legend()


def _xy(x, Y, name_y="Y"):
    x = np.asarray(x, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[None, :]
    if x.ndim != 1 or Y.ndim != 2 or Y.shape[1] != x.size:
        raise ValueError(f"{name_y} must have shape (n_seeds, {x.size}) or ({x.size},) to match x, got {np.shape(Y)}")
    return x, Y


def _mean_band(Y: np.ndarray, confidence: float, rng=0):
    """Mean over rows and a per-column bootstrap interval of the mean (None with one row)."""
    mean = Y.mean(axis=0)
    if Y.shape[0] < 2:
        return mean, None
    lo, hi = np.array([bootstrap_ci(col, np.mean, confidence=confidence, n_resamples=1000, rng=rng)
                       for col in Y.T]).T
    return mean, (lo, hi)


def rate_plot(x, Y, *, fit=None, theory_slope: float | None = None, xlabel: str, ylabel: str,
              title: str | None = None, label: str | None = None, ax=None, confidence: float = 0.9,
              tail_decades: float = 1.0):
    """Log-log plot of a sublinear rate: data, fitted slope and the theorem's slope.

    Parameters
    ----------
    x : array_like, shape (n_x,)
    Y : array_like, shape (n_seeds, n_x) or (n_x,)
        Positive metric; plotted as the mean over seeds with a ``confidence`` bootstrap band.
    fit : RateFit, optional
        A power-law fit (e.g. from :func:`labkit.rates.fit_power_law` on the same data); drawn
        as ``exp(intercept) x^estimate`` over ``fit.x_range`` with legend
        ``"fit: slope {est:.3f} [{lo:.3f}, {hi:.3f}]"``.
    theory_slope : float, optional
        Drawn dashed over the tail, anchored at the mean at the tail's first point, legend
        ``"theory: slope {s}"``. The tail is ``fit.x_range`` if a fit is given, else
        ``x >= x.max() / 10**tail_decades``.
    """
    x, Y = _xy(x, Y)
    with paper_style():
        fig, ax = _axes(ax)
        mean, band = _mean_band(Y, confidence)
        (line,) = ax.plot(x, mean, marker="o", markersize=2.5, label=label or "mean over seeds")
        if band is not None:
            ax.fill_between(x, band[0], band[1], color=line.get_color(), alpha=0.25, linewidth=0)
        if fit is not None:
            if getattr(fit, "kind", None) != "power_law":
                raise ValueError(f"fit must be a power-law RateFit, got kind {getattr(fit, 'kind', None)!r}")
            lo, hi = fit.x_range
            xt = x[(x >= lo) & (x <= hi)]
            if xt.size < 2:
                xt = np.array([lo, hi])
            ax.plot(xt, np.exp(fit.intercept) * xt ** fit.estimate, color="black", linewidth=0.9,
                    label=f"fit: slope {fit.estimate:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]")
        if theory_slope is not None:
            tail = (x >= fit.x_range[0]) & (x <= fit.x_range[1]) if fit is not None else \
                x >= x[-1] / 10.0 ** tail_decades
            if not tail.any():
                tail = np.ones_like(x, dtype=bool)
            xt, y0 = x[tail], mean[tail][0]
            ax.plot(xt, y0 * (xt / xt[0]) ** theory_slope, linestyle="--", color="0.4",
                    linewidth=0.9, label=f"theory: slope {theory_slope:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        _legend(ax)
    return fig


def _pad_rows(curve) -> np.ndarray:
    """A curve as a 2-D float array (n_seeds, n); ragged lists are padded with NaN."""
    if isinstance(curve, np.ndarray) or (len(curve) > 0 and np.ndim(curve[0]) == 0):
        a = np.asarray(curve, dtype=float)
        return a[None, :] if a.ndim == 1 else a
    rows = [np.asarray(r, dtype=float).ravel() for r in curve]
    out = np.full((len(rows), max(r.size for r in rows)), np.nan)
    for i, r in enumerate(rows):
        out[i, :r.size] = r
    return out


def convergence_plot(curves: Mapping[str, object], *, theory: Mapping[str, object] | None = None,
                     logy: bool = True, xlabel: str = "iteration", ylabel: str, title: str | None = None,
                     ax=None):
    """Error curves against the iteration: median over seeds and an interquartile band.

    Parameters
    ----------
    curves : dict label -> array (n_seeds, n_iter+1) or (n_iter+1,) or list of 1-D arrays
        Ragged rows are padded with NaN and summarized with NaN-aware quantiles.
    theory : dict label -> array (n,), optional
        Reference curves (e.g. ``C gamma**k``), drawn dashed; a label shared with ``curves``
        reuses that curve's colour and is shown as ``"theory: {label}"``.
    """
    with paper_style():
        fig, ax = _axes(ax)
        colors = {}
        for name, curve in curves.items():
            A = _pad_rows(curve)
            k = np.arange(A.shape[1])
            if A.shape[0] == 1:
                (line,) = ax.plot(k, A[0], label=str(name))
            else:
                q25, med, q75 = np.nanpercentile(A, [25, 50, 75], axis=0)
                (line,) = ax.plot(k, med, label=str(name))
                ax.fill_between(k, q25, q75, color=line.get_color(), alpha=0.25, linewidth=0)
            colors[name] = line.get_color()
        for name, ref in (theory or {}).items():
            ref = np.asarray(ref, dtype=float).ravel()
            kw = {"color": colors[name]} if name in colors else {}
            ax.plot(np.arange(ref.size), ref, linestyle="--", linewidth=0.9, label=f"theory: {name}", **kw)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        _legend(ax)
    return fig


def band_plot(x, Y, *, label: str, ax=None, confidence: float = 0.9):
    """Mean over seeds with a ``confidence`` bootstrap band (linear axes)."""
    x, Y = _xy(x, Y)
    with paper_style():
        fig, ax = _axes(ax)
        mean, band = _mean_band(Y, confidence)
        (line,) = ax.plot(x, mean, label=label)
        if band is not None:
            ax.fill_between(x, band[0], band[1], color=line.get_color(), alpha=0.25, linewidth=0)
        _legend(ax)
    return fig


def save_figure(fig, out_dir, name: str) -> list[Path]:
    """Write ``out_dir/name.pdf`` and ``out_dir/name.png`` (300 dpi); creates ``out_dir``.

    The figure is left open. Returns the two paths, PDF first.
    """
    name = str(name)
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"name must be a plain file stem without directories, got {name!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.pdf", out / f"{name}.png"]
    with paper_style():
        for p in paths:
            fig.savefig(p, dpi=300, bbox_inches="tight")
    return paths
