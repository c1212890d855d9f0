"""Paper-style figures drawn from arrays (matplotlib only).

The functions here compute nothing about algorithms: data come in as arrays (one row per
seed or instance) and, for rate plots, an already fitted :class:`labkit.rates.RateFit` (the
fit the verdict used, never a refit). Each returns the ``matplotlib.figure.Figure`` it drew on,
so a figure is rebuilt from stored results with only visual parameters.

Styles
------
:func:`paper_style` sets small serif fonts, thin lines, no top/right spines, constrained
layout, 300 dpi, embedded TrueType fonts and the colour-blind-safe Okabe-Ito palette. With
``style=`` it sizes figures and fonts for a venue (:data:`STYLES`: NeurIPS, ICML, ICLR, JMLR;
widths from the venues' LaTeX templates) and ``column=`` picks the width: ``"single"`` one
text column, ``"double"`` the full text width (the same as single for one-column venues),
``"half"`` half the text width. :func:`subplots` makes a grid of that width, each row as tall
as the golden ratio of one panel's width. ``labkit figure NAME --style icml --column single``.

Conventions every figure keeps
------------------------------
* A shaded band says what it is in the legend, and a kind of band means one thing
  everywhere: :data:`BAND_CI` (bootstrap confidence interval of the mean over seeds) around a
  mean, :data:`BAND_IQR` (interquartile range over seeds or instances) around a median.
* Theory lines are black or grey and dashed, drawn above the data (``zorder`` 3), labelled
  ``"theory: ..."``, and carry the artist id ``"theory"`` (tests look for it); data that equal
  the theory are drawn as markers so the line stays visible.
* Curves stop above a floating-point floor (``floor=``) instead of showing round-off noise,
  and log axes are limited to the data's decades.
* The plotting functions draw inside the active :func:`paper_style`, or inside the default
  one when none is active.

* :func:`rate_plot` — log-log mean over seeds with a bootstrap band, the fitted slope over the
  tail and the theorem's slope (dashed, anchored at the tail's first point).
* :func:`convergence_plot` — error curves (median and interquartile band over seeds) with
  theory curves dashed, log y axis by default.
* :func:`band_plot` — mean with a bootstrap confidence band, linear axes.
* :func:`save_figure` — writes ``name.pdf`` and ``name.png`` with provenance metadata.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Mapping

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from labkit.stats import bootstrap_ci

__all__ = ["PAPER_RC", "STYLES", "COLUMNS", "PALETTE", "MARKERS", "BAND_CI", "BAND_IQR", "paper_style", "subplots",
           "rate_plot", "convergence_plot", "band_plot", "theory_line", "reference_line", "legend", "save_figure",
           "figure_width", "truncate_at_floor", "figure_legend"]

#: Marker shapes that tell series apart without colour (print, colour-vision deficiencies).
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")

#: Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
#: deficiencies and in greyscale by lightness.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

BAND_CI = "90% bootstrap CI of the mean"
BAND_IQR = "interquartile range"

#: Venue -> (text width in inches, column width in inches, body font size in points), from
#: the venues' LaTeX templates: NeurIPS and ICLR 5.5 in (one column, 10 pt), ICML 6.75 in text
#: and 3.25 in columns (10 pt body, 9 pt captions), JMLR 6.0 in (one column, 11 pt).
STYLES = {
    "default": (6.8, 3.4, 9.0),
    "neurips": (5.5, 5.5, 10.0),
    "iclr": (5.5, 5.5, 10.0),
    "icml": (6.75, 3.25, 9.0),
    "jmlr": (6.0, 6.0, 10.95),
}
COLUMNS = ("single", "double", "half")
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0

PAPER_RC = {
    "font.family": "serif",
    "font.serif": ["DejaVu Serif", "Times New Roman", "Times", "serif"],
    "mathtext.fontset": "dejavuserif",
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 6,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.0,
    "axes.linewidth": 0.6,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "figure.figsize": (3.4, 3.4 * _GOLDEN),
    "figure.constrained_layout.use": True,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}


def figure_width(style: str = "default", column: str = "single") -> float:
    """The width in inches of a figure for ``style`` (a key of :data:`STYLES`) and ``column``."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {sorted(STYLES)}, got {style!r}")
    if column not in COLUMNS:
        raise ValueError(f"column must be one of {COLUMNS}, got {column!r}")
    text, col, _ = STYLES[style]
    return {"single": col, "double": text, "half": 0.49 * text}[column]


@contextlib.contextmanager
def paper_style(style: str = "default", column: str | None = None, **overrides):
    """Apply :data:`PAPER_RC` sized for ``style`` and ``column`` (plus ``overrides``).

    ``column=None`` (the default) lets :func:`subplots` choose: one text column for a single
    panel, the full text width for a grid of several columns. Font sizes follow the venue's
    body size: labels one point below it, ticks and legends three points below (captions in
    these venues are set one to two points below the body).
    """
    global _WIDTHS
    width = figure_width(style, column or "single")
    base = STYLES[style][2]
    rc = dict(PAPER_RC)
    if style != "default":
        rc.update({"font.size": base - 1, "axes.labelsize": base - 1, "axes.titlesize": base - 1,
                   "legend.fontsize": base - 3, "xtick.labelsize": base - 3, "ytick.labelsize": base - 3})
    rc["figure.figsize"] = (width, width * _GOLDEN)
    rc.update(overrides)
    global _DEPTH
    saved = _WIDTHS
    _WIDTHS = (width, width) if column else (figure_width(style, "single"), figure_width(style, "double"))
    with mpl.rc_context(rc):
        _DEPTH += 1
        try:
            yield
        finally:
            _DEPTH -= 1
            _WIDTHS = saved


_DEPTH = 0
#: (width of a one-column figure, width of a multi-column grid) under the active style
_WIDTHS = (figure_width("default", "single"), figure_width("default", "double"))


def _styled():
    """The default paper style, unless a :func:`paper_style` is already in force."""
    return contextlib.nullcontext() if _DEPTH else paper_style()


def subplots(nrows: int = 1, ncols: int = 1, *, panel_aspect: float = _GOLDEN, **kwargs):
    """``plt.subplots`` at the active style's width (one text column for one panel, the full
    text width for several columns, unless the style fixed a column); each row is
    ``panel_aspect`` times a panel's width tall (the figure capped at 9 in, a page)."""
    width = _WIDTHS[0] if ncols == 1 else _WIDTHS[1]
    height = min(9.0, nrows * panel_aspect * width / ncols)
    kwargs.setdefault("squeeze", False)
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


def figure_legend(fig, axes, **kw):
    """One legend for a grid of panels, below it: every label once, covering no data."""
    seen = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    if not seen:
        return None
    kw.setdefault("loc", "outside lower center")
    kw.setdefault("ncols", min(3, len(seen)))
    return _fitting_legend(fig, lambda n: fig.legend(list(seen.values()), list(seen.keys()), **{**kw, "ncols": n}),
                           kw["ncols"])


def _fitting_legend(fig, make, ncols: int):
    """The legend ``make(n)`` with the most columns ``n <= ncols`` whose width fits the figure.

    A legend below the axes that is wider than the figure makes the constrained layout shrink
    the axes to a sliver (a single-column figure with three long entries per row); fewer columns
    make it taller instead, which the layout absorbs."""
    renderer = fig.canvas.get_renderer()
    room = 0.98 * fig.bbox.width
    for n in range(max(1, int(ncols)), 0, -1):
        leg = make(n)
        if n == 1 or leg.get_window_extent(renderer).width <= room:
            return leg
        leg.remove()
    return None  # unreachable: n == 1 always returns


def _axes(ax):
    if ax is None:
        fig, axes = subplots()
        return fig, axes[0, 0]
    return ax.figure, ax


def _legend(ax, **kw):
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        unique = dict(zip(labels, handles))  # one entry per series
        ax.legend(unique.values(), unique.keys(), **kw)


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


def reference_line(ax, y: float, *, label: str, color: str = "0.15", **kw):
    """A horizontal line of the theorem's figure (a bound, a tolerance around an identity's 0):
    dashed, dark, labelled, with artist id ``"theory"``."""
    kw.setdefault("linestyle", "--")
    kw.setdefault("linewidth", 0.9)
    kw.setdefault("zorder", 3)
    line = ax.axhline(y, color=color, label=label, **kw)
    line.set_gid("theory")
    return line


def legend(ax, *, outside: bool = False, **kw):
    """One legend entry per label; ``outside`` puts it below the axes so it covers no data."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    unique = dict(zip(labels, handles))
    if outside:
        kw.setdefault("ncols", min(3, len(unique)))
        fig = ax.figure
        if len(fig.axes) == 1 and "bbox_to_anchor" not in kw and "loc" not in kw:
            # one panel: a figure legend below it, which the constrained layout makes room for
            # (an axes legend anchored below the axes can overlap the x label); it replaces any
            # legend the axes already has, as ax.legend would
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            return _fitting_legend(fig, lambda n: fig.legend(unique.values(), unique.keys(),
                                                             **{**kw, "loc": "outside lower center", "ncols": n}),
                                   kw["ncols"])
        kw.setdefault("loc", "upper center")
        kw.setdefault("bbox_to_anchor", (0.5, -0.22))
        return _fitting_legend(fig, lambda n: ax.legend(unique.values(), unique.keys(), **{**kw, "ncols": n}),
                               kw["ncols"])
    return ax.legend(unique.values(), unique.keys(), **kw)


def truncate_at_floor(y, floor: float):
    """``y`` up to (not including) its first value at or below ``floor``: curves stop above the
    floating-point floor instead of drawing round-off noise (no NaN is plotted)."""
    y = np.asarray(y, dtype=float)
    below = np.flatnonzero(~(y > floor))
    return y if below.size == 0 else y[:below[0]]


def theory_line(ax, x, y, *, label: str, color: str = "0.15", **kw):
    """A theory curve: dashed, dark, above the data, with artist id ``"theory"``."""
    kw.setdefault("linestyle", "--")
    kw.setdefault("linewidth", 1.0)
    kw.setdefault("zorder", 3)
    (line,) = ax.plot(x, y, color=color, label=label, **kw)
    line.set_gid("theory")
    return line


def rate_plot(x, Y, *, fit=None, theory_slope: float | None = None, xlabel: str, ylabel: str,
              title: str | None = None, label: str | None = None, ax=None, confidence: float = 0.9,
              tail_decades: float = 1.0, color=None):
    """Log-log plot of a sublinear rate: data, fitted slope and the theorem's slope.

    Parameters
    ----------
    x : array_like, shape (n_x,)
    Y : array_like, shape (n_seeds, n_x) or (n_x,)
        Positive metric; plotted as the mean over seeds with a ``confidence`` bootstrap band
        (legend: :data:`BAND_CI`).
    fit : RateFit, optional
        The power-law fit the check's verdict used; drawn as ``exp(intercept) x^estimate``
        over ``fit.x_range`` with legend ``"fit: slope {est:.3f} [{lo:.3f}, {hi:.3f}]"``.
    theory_slope : float, optional
        Drawn dashed over the tail, anchored at the mean at the tail's first point, legend
        ``"theory: slope {s}"``. The tail is ``fit.x_range`` if a fit is given, else
        ``x >= x.max() / 10**tail_decades``.
    label : str, optional
        The series' name; with several series on one axes, their fits and theory lines are
        prefixed by it so that every legend entry is distinct.
    """
    with _styled():
        x, Y = _xy(x, Y)
        fig, ax = _axes(ax)
        mean, band = _mean_band(Y, confidence)
        kw = {} if color is None else {"color": color}
        (line,) = ax.plot(x, mean, marker="o", markersize=2.5, label=label or "mean over seeds", **kw)
        prefix = f"{label}: " if label else ""
        if band is not None:
            ax.fill_between(x, band[0], band[1], color=line.get_color(), alpha=0.25, linewidth=0,
                            label=BAND_CI if confidence == 0.9 else f"{confidence:.0%} bootstrap CI of the mean")
        if fit is not None:
            if getattr(fit, "kind", None) != "power_law":
                raise ValueError(f"fit must be a power-law RateFit, got kind {getattr(fit, 'kind', None)!r}")
            lo, hi = fit.x_range
            xt = x[(x >= lo) & (x <= hi)]
            if xt.size < 2:
                xt = np.array([lo, hi])
            ax.plot(xt, np.exp(fit.intercept) * xt ** fit.estimate, color=line.get_color(), linewidth=1.6,
                    alpha=0.6, label=f"{prefix}fit: slope {fit.estimate:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]")
        if theory_slope is not None:
            tail = (x >= fit.x_range[0]) & (x <= fit.x_range[1]) if fit is not None else \
                x >= x[-1] / 10.0 ** tail_decades
            if not tail.any():
                tail = np.ones_like(x, dtype=bool)
            xt, y0 = x[tail], mean[tail][0]
            theory_line(ax, xt, y0 * (xt / xt[0]) ** theory_slope, label=f"{prefix}theory: slope {theory_slope:g}")
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
                     ax=None, floor: float | None = None, markers: bool = False, theory_label: str = "theory"):
    """Error curves against the iteration: median over seeds and an interquartile band.

    Parameters
    ----------
    curves : dict label -> array (n_seeds, n_iter+1) or (n_iter+1,) or list of 1-D arrays
        Ragged rows are padded with NaN and summarized with NaN-aware quantiles.
    theory : dict label -> array (n,), optional
        Reference curves (e.g. ``C gamma**k``), drawn dashed and dark above the data; a label
        shared with ``curves`` is shown as ``"{theory_label}: {label}"``.
    floor : float, optional
        Each curve stops before its first value at or below ``floor`` (the floating-point
        floor of the metric).
    markers : bool
        Draw the data as sparse markers (use when data and theory coincide).
    """
    with _styled():
        fig, ax = _axes(ax)
        for i, (name, curve) in enumerate(curves.items()):
            A = _pad_rows(curve)
            k = np.arange(A.shape[1])
            style = dict(marker="o", linestyle="none", markersize=2.5, markevery=max(1, A.shape[1] // 25)) if markers else {}
            if A.shape[0] == 1:
                y = A[0] if floor is None else truncate_at_floor(A[0], floor)
                ax.plot(k[:y.size], y, label=str(name), color=PALETTE[i % len(PALETTE)], **style)
            else:
                q25, med, q75 = np.nanpercentile(A, [25, 50, 75], axis=0)
                n = med.size if floor is None else truncate_at_floor(med, floor).size
                (line,) = ax.plot(k[:n], med[:n], label=f"{name} (median)", color=PALETTE[i % len(PALETTE)], **style)
                ax.fill_between(k[:n], q25[:n], q75[:n], color=line.get_color(), alpha=0.2, linewidth=0,
                                label=BAND_IQR)
        for name, ref in (theory or {}).items():
            ref = np.asarray(ref, dtype=float).ravel()
            if floor is not None:
                ref = truncate_at_floor(ref, floor)
            theory_line(ax, np.arange(ref.size), ref, label=f"{theory_label}: {name}")
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
    with _styled():
        x, Y = _xy(x, Y)
        fig, ax = _axes(ax)
        mean, band = _mean_band(Y, confidence)
        (line,) = ax.plot(x, mean, label=label)
        if band is not None:
            ax.fill_between(x, band[0], band[1], color=line.get_color(), alpha=0.25, linewidth=0, label=BAND_CI)
        _legend(ax)
        return fig


def save_figure(fig, out_dir, name: str, *, metadata: Mapping[str, str] | None = None) -> list[Path]:
    """Write ``out_dir/name.pdf`` and ``out_dir/name.png`` (300 dpi); creates ``out_dir``.

    ``metadata`` (e.g. ``{"Title": check, "Subject": claim, "Keywords": "scale=quick; seed=0;
    code=...; date=..."}``) goes into the PDF's document information and the PNG's text
    chunks. The figure is left open. Returns the two paths, PDF first.
    """
    name = str(name)
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"name must be a plain file stem without directories, got {name!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.pdf", out / f"{name}.png"]
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    pdf_keys = {"Title", "Author", "Subject", "Keywords", "Creator", "Producer"}
    fig.savefig(paths[0], dpi=300, bbox_inches="tight", metadata={k: v for k, v in meta.items() if k in pdf_keys})
    fig.savefig(paths[1], dpi=300, bbox_inches="tight", metadata=meta)
    return paths
