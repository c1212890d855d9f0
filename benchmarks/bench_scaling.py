"""Planning cost as the work grows: solve time to a true error of 1e-8 against S, log-log.

Issue 12 asks for "time against S (10^2 to 10^5, dense and sparse) on log-log axes with the
fitted slope, for the lab and each peer". This script times the same tools as
:mod:`benchmarks.bench_planning` on Garnets of growing size (A = 10, gamma = 0.95 unless
``--gamma``):

* **dense**, full support (every row of ``P`` has S nonzeros): S = 100, 200, 500, 1000, 2000.
  It stops at 2000, where ``P`` is already a 320 MB ``(S, A, S)`` array; a dense ``P`` at
  S = 10^5 would be 8e11 bytes (800 GB).
* **sparse**, 5 successors per pair (CSR): S = 100, 300, 1000, ..., 10^5.

Every solve is timed to a *true* sup-norm error of 1e-8 exactly as ``bench_planning`` does
(:func:`benchmarks.bench_planning.matched_solve_times`): V* is exact (policy iteration with
linear solves for dense ``P``, inexact policy iteration with a certified MacQueen bound below
1e-9 for sparse ``P``), each tool's own epsilon is tightened by factors of 10 until what it
returns is within 1e-8 of V*, and the solves at the matched epsilons are then timed
round-robin (median of ``--repeats``). A tool whose single solve exceeds :data:`BUDGET_S`
leaves the sweep at that size and every larger one of the same layout (the table says so).

Plotted series (a subset of ``bench_planning``'s rows, to keep the figure readable):

* lab ``mdps.solve(mdp)`` as a user calls it (default route, certified to 1e-10, no
  epsilon search), lab ``mdps.solve(mdp, tol=eps)`` (auto route, matched epsilon), lab
  modified policy iteration (m = 10, span rule);
* QuantEcon ``DiscreteDP`` MPI (k = 10), and its PI (dense only);
* pymdptoolbox MPI (dense; sparse only up to S = 5000, where ``bench_planning`` runs it: it
  builds a dense S x S ``P_policy``);
* mdpsolver MPI (PyPI ``mdpsolver``, C++), run with ``parallel=False``: its solve time from
  its own timer (``model.getRuntime()``). Its default threaded mode is not plotted: on this
  shared 2-core machine (load average 1.7-2) six identical solves at S = 100 (sparse) took
  0.0006-1.7 s with ``parallel=True`` and 0.0005 s each with ``parallel=False`` (at S = 3000:
  0.23-1.4 s against 0.032 s), the same answer every time and one core busy: threads waiting
  on one another under load, which would make a scaling slope meaningless. Its model set-up
  (Python lists and ``model.mdp``) is printed as its own row of the table and not plotted: it
  is a cost of the Python interface, not of the solver;
* "one sweep (bandwidth bound)": one product streaming ``P`` once
  (:func:`benchmarks.bench_planning.bandwidth_bound`: BLAS ``gemv`` over the dense
  ``(S*A, S)`` array, SciPy's CSR product for the sparse one), the physical reference. A
  dense sweep streams S^2 A numbers (slope 2 in S), a sparse one S A k (slope 1).

The slope of each series is the OLS slope of log time on log S over all its points, with a
90% Student-t interval (n - 2 degrees of freedom) from the residual scatter about the line:
the points are one instance per size, not seeds, so :func:`labkit.rates.fit_power_law`'s
bootstrap over seeds does not apply (with one row it returns a zero-width interval). The
interval measures how far the points are from a power law, not run-to-run timing noise.

Threads: run it with ``OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1`` (and mdpsolver serial), so
that every tool uses one core. On a machine whose other core is busy with another job, a
parallel region waits for its slowest thread: the lab's sparse MPI (m = 10) at S = 3e4 took
0.50 s with two Numba threads and 0.065 s with one, while another process held a core. The
header line prints the thread settings in force.

Usage::

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks.bench_scaling          # full (~3 min)
    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks.bench_scaling --quick  # ~1.5 min
    python -m benchmarks.bench_scaling --tiny --repeats 1 --out /some/dir # seconds (the smoke test)
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
from pathlib import Path

import numpy as np
from scipy import stats

import mdps
from benchmarks import bench_planning as bp
from benchmarks._timing import interleaved_medians

N_ACTIONS = 10
SPARSE_BRANCHING = 5
#: A tool whose single solve takes longer than this (seconds) is dropped at this size and above.
BUDGET_S = 30.0
CONFIDENCE = 0.9
SIZES = {
    "full": {"dense": (100, 200, 500, 1000, 2000),
             "sparse": (100, 300, 1000, 3000, 10_000, 30_000, 100_000)},
    "quick": {"dense": (100, 200, 500, 1000), "sparse": (100, 300, 1000, 3000, 10_000)},
    "tiny": {"dense": (20, 40, 80), "sparse": (100, 200, 400)},
}
MS_SERIES = "mdpsolver MPI (serial, own timer)"
#: Plotted series: label -> the prefix of its ``bench_planning`` tool name.
SERIES = {
    "lab solve() default": "lab solve() default",
    "lab solve(tol=eps), auto route": "lab solve(tol=eps)",
    "lab MPI(m=10, span rule)": "lab MPI(m=10, span rule)",
    "QuantEcon MPI(k=10)": "QuantEcon MPI(k=10)",
    "QuantEcon PI": "QuantEcon PI",
    "pymdptoolbox MPI": "pymdptoolbox MPI",
    MS_SERIES: "mdpsolver MPI",
}
BOUND = "one sweep (bandwidth bound)"
MS_SETUP = "mdpsolver set-up (not plotted)"
#: Reference slope of one sweep: dense streams S^2 A numbers, sparse S A k.
REFERENCE_SLOPE = {"dense": 2.0, "sparse": 1.0}


def garnet(layout: str, n_states: int, gamma: float):
    """The instance of one point: the seeds of ``bench_planning`` (0 dense, 1 sparse)."""
    if layout == "dense":
        return mdps.garnet(n_states, N_ACTIONS, n_states, gamma=gamma, rng=0)
    return mdps.garnet(n_states, N_ACTIONS, SPARSE_BRANCHING, gamma=gamma, sparse=True, rng=1)


def fit_slope(S, t, confidence: float = CONFIDENCE):
    """OLS slope of ``log t`` on ``log S`` and its Student-t interval: ``(slope, lo, hi)``.

    The interval is ``slope +- t_{(1+c)/2, n-2} * se`` with ``se^2 = s^2 / sum (x - xbar)^2``
    and ``s^2`` the residual variance over ``n - 2`` degrees of freedom; NaN with fewer than
    three points (no degrees of freedom), the slope NaN with fewer than two."""
    x, y = np.log(np.asarray(S, dtype=float)), np.log(np.asarray(t, dtype=float))
    if x.size < 2:
        return math.nan, math.nan, math.nan
    xc = x - x.mean()
    slope = float((xc * y).sum() / (xc * xc).sum())
    if x.size < 3:
        return slope, math.nan, math.nan
    resid = y - y.mean() - slope * xc
    se = math.sqrt((resid * resid).sum() / (x.size - 2) / (xc * xc).sum())
    half = float(stats.t.ppf(0.5 + confidence / 2.0, x.size - 2)) * se
    return slope, slope - half, slope + half


def _tools(mdp, dropped):
    """The plotted tools for one instance (not those in ``dropped``), and mdpsolver's
    ``(set-up seconds, own timer record)`` or None."""
    available = bp.lab_tools(mdp)
    available.update(bp.quantecon_tools(mdp))
    available.update(bp.mdptoolbox_tools(mdp))
    ms_tools, ms = {}, None
    if MS_SERIES not in dropped:
        ms_tools, ms = bp.mdpsolver_tools(mdp, parallel=False)
    available.update(ms_tools)
    tools = {}
    for label, prefix in SERIES.items():
        names = [n for n in available if n.startswith(prefix)]
        if names and label not in dropped:
            tools[label] = available[names[0]]
    return tools, ms


def run_point(layout, n_states, gamma, repeats, dropped, budget):
    """Time every plotted tool on one instance: ``{series: (seconds, true error, eps, note)}``."""
    mdp = garnet(layout, n_states, gamma)
    bound_fn, nbytes, _ = bp.bandwidth_bound(mdp)
    v_star = bp.exact_value(mdp)
    tools, ms = _tools(mdp, dropped)
    t_bound = interleaved_medians({"bound": bound_fn}, max(5, 5 * repeats))["bound"]
    timers = None
    if ms is not None:  # mdpsolver's own timer, keyed by the series label
        timers = {MS_SERIES: ms[1].setdefault("mdpsolver MPI", [])}
    solved = bp.matched_solve_times(tools, v_star, repeats, timers, budget)
    out = {BOUND: (t_bound, 0.0, None, f"{nbytes / t_bound / 1e9:.1f} GB/s")}
    out.update(solved)
    if ms is not None:
        out[MS_SETUP] = (ms[0], math.nan, None, "")
    return out


def _series_points(results, layout, name):
    """``(S, seconds)`` of one series' timed points in one layout."""
    pts = [(S, r[name][0]) for S, r in results[layout].items()
           if name in r and r[name][0] == r[name][0] and (r[name][2] is not None or name in (BOUND, MS_SETUP))]
    return np.array([p[0] for p in pts], dtype=float), np.array([p[1] for p in pts], dtype=float)


def _fmt_slope(fit):
    slope, lo, hi = fit
    if slope != slope:
        return "n/a"
    return f"{slope:.2f}" if lo != lo else f"{slope:.2f} [{lo:.2f}, {hi:.2f}]"


def print_table(results, fits, layout, sizes, notes):
    names = [BOUND, *SERIES, MS_SETUP]
    print(f"\n### {layout} Garnets: seconds to a true error of 1e-8 (bound: one sweep; "
          f"slope with {CONFIDENCE:.0%} t-interval; reference slope {REFERENCE_SLOPE[layout]:.0f})\n")
    print("| tool | layout | " + " | ".join(f"S = {S:,}" for S in sizes) + " | max true error | slope [CI] |")
    print("|---|---|" + "---|" * len(sizes) + "---|---|")
    skipped = {}
    for name in names:
        cells, errs = [], []
        for S in sizes:
            r = results[layout].get(S, {})
            if name not in r:
                why = notes.get((layout, name, S), "")
                cells.append("skipped" if why else "")
                if why:
                    skipped.setdefault(name, []).append((S, why))
                continue
            sec, err, eps, note = r[name]
            if eps is None and name not in (BOUND, MS_SETUP):
                cells.append("skipped")
                skipped.setdefault(name, []).append((S, note))
            else:
                cells.append(f"{sec:.3g}")
                if name not in (BOUND, MS_SETUP):
                    errs.append(err)
        if not any(cells):
            continue
        err_txt = f"{max(errs):.1e}" if errs else ""
        print(f"| {name} | {layout} | " + " | ".join(cells) + f" | {err_txt} | {_fmt_slope(fits[layout][name])} |")
    for name, where in skipped.items():
        reasons = dict.fromkeys(why for _, why in where)
        print(f"\nskipped: {name} at S = {', '.join(f'{S:,}' for S, _ in where)} ({'; '.join(reasons)})")


def figure(results, fits, gamma, out_dir, metadata):
    """Two log-log panels (dense | sparse), time against S, one colour and marker per series."""
    import matplotlib as mpl

    from labkit import figures as lf

    colours = [c for c in lf.PALETTE if c != "#F0E442"]  # yellow is unreadable on white
    style = {name: (colours[i % len(colours)], lf.MARKERS[i % len(lf.MARKERS)]) for i, name in enumerate(SERIES)}
    with lf.paper_style():
        fig, axes = lf.subplots(1, 2, panel_aspect=1.05)
        for ax, layout in zip(axes[0], ("dense", "sparse")):
            S, t = _series_points(results, layout, BOUND)
            if S.size:
                streams = "S^2 A" if layout == "dense" else f"{SPARSE_BRANCHING} S A"
                ax.plot(S, t, color="0.55", linewidth=0.7, zorder=1,
                        label=f"one sweep, bandwidth bound ($\\propto {streams}$), "
                              f"slope {_fmt_slope(fits[layout][BOUND])}")
            for name in SERIES:
                S, t = _series_points(results, layout, name)
                if not S.size:
                    continue
                colour, marker = style[name]
                ax.plot(S, t, color=colour, marker=marker, linewidth=0.8, zorder=2,
                        label=f"{name}, slope {_fmt_slope(fits[layout][name])}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if layout == "dense":  # one decade: label the sizes themselves
                grid = sorted(results[layout])
                ax.set_xticks(grid, [f"{S:,}" for S in grid])
                ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
            ax.set_xlabel("number of states $S$")
            what = ("dense, full support" if layout == "dense"
                    else f"sparse, {SPARSE_BRANCHING} successors")
            ax.set_title(f"Garnet, {what} ($A={N_ACTIONS}$, $\\gamma={gamma}$)")
            lf.legend(ax, outside=True, ncols=1, title=f"fitted slope in $S$ [{CONFIDENCE:.0%} t-interval]",
                      title_fontsize=mpl.rcParams["legend.fontsize"])
        axes[0, 0].set_ylabel("seconds to true error $10^{-8}$")
        paths = lf.save_figure(fig, out_dir, "planning_scaling", metadata=metadata)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def _loadavg():
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return ["n/a"] * 3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--tiny", action="store_true", help="a few small sizes, seconds (the smoke test)")
    mode.add_argument("--quick", action="store_true", help="dense up to S = 1000, sparse up to 1e4")
    parser.add_argument("--repeats", type=int, default=3, help="timed solves per point (median)")
    parser.add_argument("--gamma", type=float, default=0.95)
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds a single solve may take")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "figures"),
                        help="folder of planning_scaling.png/.pdf")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if not 0.0 < args.gamma < 1.0:
        parser.error(f"--gamma must be in (0, 1), got {args.gamma}")
    scale = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = SIZES[scale]
    load0 = _loadavg()
    import numba

    print(f"# Planning scaling ({scale}): A = {N_ACTIONS}, gamma = {args.gamma}, repeats = {args.repeats}, "
          f"budget {args.budget:.0f} s per solve; load average at start {' '.join(load0)}; "
          f"Numba threads {numba.config.NUMBA_NUM_THREADS}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")

    results = {layout: {} for layout in sizes}
    notes = {}
    for layout, grid in sizes.items():
        dropped = {}
        for S in grid:
            if layout == "sparse" and S > 5000:  # bench_planning runs its sparse MPI only up to 5000
                dropped.setdefault("pymdptoolbox MPI", "not run above S = 5000: it builds a dense S x S P_policy")
            for name, why in dropped.items():
                notes[(layout, name, S)] = why
            r = run_point(layout, S, args.gamma, args.repeats, set(dropped), args.budget)
            results[layout][S] = r
            for name, (sec, err, eps, note) in r.items():
                if eps is None and name not in (BOUND, MS_SETUP) and note.startswith("one solve"):
                    dropped[name] = f"{note} at S = {S:,}"  # larger sizes only get slower
            print(f"{layout} S = {S:,}: " + ", ".join(
                f"{n} {v[0]:.3g} s" for n, v in r.items() if v[0] == v[0]), flush=True)

    fits = {layout: {name: fit_slope(*_series_points(results, layout, name)) for name in (BOUND, *SERIES, MS_SETUP)}
            for layout in sizes}
    for layout in sizes:
        print_table(results, fits, layout, sizes[layout], notes)
    load1 = _loadavg()
    print(f"\nload average at end {' '.join(load1)}")
    meta = {"Title": "planning_scaling", "Subject": "seconds to a true error of 1e-8 against S",
            "Keywords": f"scale={scale}; gamma={args.gamma}; repeats={args.repeats}; "
                        f"date={datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%MZ}; "
                        f"load={' '.join(load0)} -> {' '.join(load1)}"}
    paths = figure(results, fits, args.gamma, args.out, meta)
    print(f"figure: {', '.join(str(p) for p in paths)}")
    return {"results": results, "fits": fits, "figure": paths, "load": (load0, load1)}


if __name__ == "__main__":
    main()
