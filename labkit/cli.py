"""The ``labkit`` command line: list, run and draw the registered checks.

::

    labkit list [--json]
    labkit check NAME... | --all [--scale quick|full] [--seed N] [--json] [--backend B] [--no-store]
    labkit figure NAME [--out DIR] [--scale quick|full] [--seed N]
    labkit report [--out DIR] [--seed N]

``check`` prints a table (claim, expected, measured with its confidence interval, verdict)
or, with ``--json``, a JSON list of records with keys ``name, passed, measured, expected, ci,
seconds`` (plus context). It exits with status 1 when any check fails and 2 on bad usage.
Results go to the result store under the lab directory (``$LABKIT_DIR``, default
``./lab_results``); ``figure`` and ``report`` draw from the store, running a check first when
its results are missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from labkit.check import SCALES, CheckResult, checks, get_check

__all__ = ["main"]


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labkit", description="Theorems as executable checks.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sp = sub.add_parser("list", help="list the registered checks")
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    sc = sub.add_parser("check", help="run checks and print their verdicts")
    sc.add_argument("names", nargs="*", metavar="NAME", help="check names (see `labkit list`)")
    sc.add_argument("--all", action="store_true", help="run every registered check")
    sc.add_argument("--scale", choices=SCALES, default="quick", help="quick (seconds, default) or full (minutes)")
    sc.add_argument("--seed", type=_seed, default=0, help="root seed (non-negative integer, default 0)")
    sc.add_argument("--json", action="store_true", help="print a JSON list of results")
    sc.add_argument("--backend", choices=("serial", "process", "dask"), default="serial",
                    help="sweep backend (default serial)")
    sc.add_argument("--no-store", action="store_true", help="do not write results to the store")

    sf = sub.add_parser("figure", help="draw a check's figure from stored results")
    sf.add_argument("name", metavar="NAME")
    sf.add_argument("--out", type=Path, default=None, help="output folder (default <lab dir>/figures)")
    sf.add_argument("--scale", choices=SCALES, default="quick")
    sf.add_argument("--seed", type=_seed, default=0)

    sr = sub.add_parser("report", help="run every check at quick scale and write a Markdown report")
    sr.add_argument("--out", type=Path, default=None, help="output folder (default <lab dir>/report)")
    sr.add_argument("--seed", type=_seed, default=0)
    return p


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"seed must be a non-negative integer, got {text!r}")
    return v


def _store(enabled: bool = True):
    if not enabled:
        return None
    from labkit.store import ResultStore

    return ResultStore()


def _fmt(v: float) -> str:
    return "nan" if v != v else f"{v:.4g}"


def _table(results: list[CheckResult]) -> str:
    rows = [("check", "expected", "measured [CI]", "verdict", "s")]
    for r in results:
        rows.append((
            r.name,
            f"{r.relation} {_fmt(r.expected)} (tol {_fmt(r.tol)})",
            f"{_fmt(r.measured)} [{_fmt(r.ci[0])}, {_fmt(r.ci[1])}]",
            "PASS" if r.passed else "FAIL",
            f"{r.seconds:.1f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        lines.append(f"\n{r.name} [{r.tag}]: {r.claim}")
        if r.details:
            lines.append(textwrap.indent(textwrap.fill(r.details, 96), "    "))
    n_fail = sum(not r.passed for r in results)
    lines.append(f"\n{len(results) - n_fail} passed, {n_fail} failed")
    return "\n".join(lines)


def _resolve(names: list[str], run_all: bool) -> list:
    if run_all and names:
        raise _UsageError("give check names or --all, not both")
    if run_all:
        return list(checks().values())
    if not names:
        raise _UsageError("name at least one check, or pass --all (see `labkit list`)")
    try:
        return [get_check(n) for n in names]
    except KeyError as exc:
        raise _UsageError(exc.args[0]) from None


def _run(check, scale, seed, store, backend="serial", quiet=False) -> CheckResult:
    if not quiet:
        print(f"running {check.name} ({scale}) ...", file=sys.stderr, flush=True)
    result = check.run(scale=scale, rng=seed, store=store, backend=backend, progress=sys.stderr.isatty())
    if store is not None:
        store.put_check(result.name, result.scale, result.seed, result.to_json(), result.data)
    return result


def _cmd_list(args) -> int:
    registry = checks()
    if args.json:
        print(json.dumps([{"name": c.name, "paper": c.paper, "claim": c.claim, "tag": c.tag}
                          for c in registry.values()], indent=2))
    else:
        width = max((len(n) for n in registry), default=0)
        for c in registry.values():
            print(f"{c.name.ljust(width)}  [{c.tag}] {c.claim}")
    return 0


def _cmd_check(args) -> int:
    selected = _resolve(args.names, args.all)
    store = _store(not args.no_store)
    results = [_run(c, args.scale, args.seed, store, args.backend, quiet=args.json) for c in selected]
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        print(_table(results))
    return 0 if all(r.passed for r in results) else 1


def _stored_or_run(check, scale, seed, store) -> CheckResult:
    found = store.get_check(check.name, scale, seed)
    if found is None:
        return _run(check, scale, seed, store)
    summary, frame = found
    return CheckResult.from_json(summary, frame)


def _draw(check, result, out: Path) -> list[Path]:
    from labkit.figures import paper_style, save_figure

    if check.plot is None:
        return []
    with paper_style():
        fig = check.plot(result)
        paths = save_figure(fig, out, check.name.replace(".", "__"))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def _cmd_figure(args) -> int:
    try:
        check = get_check(args.name)
    except KeyError as exc:
        raise _UsageError(exc.args[0]) from None
    if check.plot is None:
        raise _UsageError(f"check {check.name!r} has no figure")
    from labkit.store import lab_dir

    store = _store()
    out = args.out if args.out is not None else lab_dir() / "figures"
    result = _stored_or_run(check, args.scale, args.seed, store)
    for path in _draw(check, result, out):
        print(path)
    return 0


def _cmd_report(args) -> int:
    from labkit.store import lab_dir

    store = _store()
    out = args.out if args.out is not None else lab_dir() / "report"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    lines = ["# labkit report", "", "All registered checks at quick scale, seed "
             f"{args.seed}.", "", "| check | tag | expected | measured [CI] | verdict | seconds |",
             "|---|---|---|---|---|---|"]
    sections = []
    for check in checks().values():
        result = _run(check, "quick", args.seed, store)
        results.append(result)
        lines.append(
            f"| `{result.name}` | {result.tag} | {result.relation} {_fmt(result.expected)} "
            f"(tol {_fmt(result.tol)}) | {_fmt(result.measured)} [{_fmt(result.ci[0])}, "
            f"{_fmt(result.ci[1])}] | {'PASS' if result.passed else 'FAIL'} | {result.seconds:.1f} |"
        )
        figs = _draw(check, result, out / "figures")
        sec = [f"## {result.name}", "", f"*{check.paper}* [{check.tag}]", "", check.claim, ""]
        if result.details:
            sec += [result.details, ""]
        sec += [f"![{result.name}](figures/{p.name})" for p in figs if p.suffix == ".png"]
        sections.append("\n".join(sec))
    n_fail = sum(not r.passed for r in results)
    lines += ["", f"{len(results) - n_fail} passed, {n_fail} failed", ""] + sections
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    print(path)
    return 0 if n_fail == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler = {"list": _cmd_list, "check": _cmd_check, "figure": _cmd_figure, "report": _cmd_report}
    try:
        return handler[args.command](args)
    except _UsageError as exc:
        print(f"labkit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
