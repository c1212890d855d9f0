"""The ``labkit`` command line: list, run and draw the registered checks; look after the store.

::

    labkit list [PATTERN...] [--family F] [--json]
    labkit check NAME|PATTERN... | --all [--family F] [--scale quick|full] [--seed N] [--json]
                 [--backend serial|process|dask] [--workers N] [--scheduler ADDRESS]
                 [--scheduler-timeout SECONDS] [--no-store] [--recompute]
    labkit figure NAME [--out DIR] [--scale quick|full] [--seed N] [--style neurips|icml|iclr|jmlr]
                  [--column single|double|half]
    labkit report [--out DIR] [--seed N]
    labkit store list | prune [--dry-run] | verify [--evict] | evict KEY...
    labkit --version

``check`` prints a table (expected figure, measured figure with its interval, verdict and
where the numbers came from) or, with ``--json``, a JSON list of records with keys ``name,
passed, measured, expected, ci, seconds`` (plus context). Results go to the result store under
the lab directory (``$LABKIT_DIR``, default ``./lab_results``), keyed by the code that computed
them: after any change to the code the runs are computed afresh; unchanged code reloads them,
and the table says so, with the time they were first computed. ``--recompute`` ignores stored
runs; ``--no-store`` neither reads nor writes the store. ``figure`` and ``report`` draw only
from results of the current code, running a check first when they are missing.

Exit status: 0 every selected check passed; 1 a check failed (its verdict, or the check
raised: the error is in its details); 2 bad usage or an environment problem (an unusable
store or lab directory, a missing optional package, an unwritable output folder), reported in
one line; 130 interrupted (finished runs are kept in the store).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import sys
import textwrap
from pathlib import Path

from labkit.check import SCALES, TAGS, CheckResult, checks, get_check, load_errors, select

STYLES = ("default", "iclr", "icml", "jmlr", "neurips")  # labkit.figures.STYLES (not imported: matplotlib is slow)
COLUMNS = ("single", "double", "half")

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_SEED = 2**63 - 1


class _UsageError(Exception):
    """Bad usage or an unusable environment: one line on stderr, exit status 2."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rl-theory-lab")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labkit", description="Theorems as executable checks.")
    p.add_argument("--version", action="version", version=f"labkit (rl-theory-lab) {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sp = sub.add_parser("list", help="list the registered checks (family, tag, cost, availability)")
    sp.add_argument("patterns", nargs="*", metavar="PATTERN", help="names or globs such as 'nash_md.*'")
    sp.add_argument("--family", action="append", default=[], help="only this family (repeatable)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    sc = sub.add_parser("check", help="run checks and print their verdicts")
    sc.add_argument("names", nargs="*", metavar="NAME", help="check names or globs (see `labkit list`)")
    sc.add_argument("--all", action="store_true", help="run every registered check")
    sc.add_argument("--family", action="append", default=[], help="run the checks of this family (repeatable)")
    sc.add_argument("--scale", choices=SCALES, default="quick", help="quick (seconds, default) or full (minutes)")
    sc.add_argument("--seed", type=_seed, default=0, help="root seed (integer in [0, 2**63 - 1], default 0)")
    sc.add_argument("--json", action="store_true", help="print a JSON list of results")
    sc.add_argument("--backend", choices=("serial", "process", "dask"), default="serial",
                    help="sweep backend (default serial)")
    sc.add_argument("--workers", type=_workers, default=None, help="workers for the process/dask backends")
    sc.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="with --backend dask: run on the existing Dask cluster at this address (tcp://HOST:PORT; "
                         "default $DASK_SCHEDULER_ADDRESS, else a private local cluster)")
    sc.add_argument("--scheduler-timeout", type=_timeout, default=30.0, metavar="SECONDS",
                    help="how long to wait for the scheduler and a worker (default 30)")
    sc.add_argument("--no-store", action="store_true", help="neither read nor write the result store")
    sc.add_argument("--recompute", action="store_true",
                    help="compute every run afresh and replace what the store holds for this code")

    sf = sub.add_parser("figure", help="draw a check's figure from stored results of the current code")
    sf.add_argument("name", metavar="NAME")
    sf.add_argument("--out", type=Path, default=None, help="output folder (default <lab dir>/figures)")
    sf.add_argument("--scale", choices=SCALES, default="quick")
    sf.add_argument("--seed", type=_seed, default=0)
    sf.add_argument("--style", choices=sorted(STYLES), default="default",
                    help="size figures and fonts for a venue (default: the lab's own)")
    sf.add_argument("--column", choices=COLUMNS, default=None,
                    help="single (one text column), double (full text width) or half; default: by panels")

    sr = sub.add_parser("report", help="every check at quick scale: an HTML site (and Markdown) with figures and data")
    sr.add_argument("--out", type=Path, default=None, help="output folder (default <lab dir>/report)")
    sr.add_argument("--seed", type=_seed, default=0)

    ss = sub.add_parser("store", help="inspect and prune the result store")
    ssub = ss.add_subparsers(dest="store_command", metavar="ACTION")
    ssub.add_parser("list", help="what is stored, by check and code version")
    pp = ssub.add_parser("prune", help="delete every result not computed by the current code")
    pp.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    pv = ssub.add_parser("verify", help="read every stored record back; list the unreadable ones")
    pv.add_argument("--evict", action="store_true", help="delete the unreadable records")
    pe = ssub.add_parser("evict", help="delete records by key (a run key, or check:<id>)")
    pe.add_argument("keys", nargs="+", metavar="KEY")
    return p


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer in [0, 2**63 - 1], got {text!r}") from None
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed must be an integer in [0, 2**63 - 1], got {text!r}")
    return v


def _workers(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"workers must be an integer >= 1, got {text!r}")
    return v


def _timeout(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"scheduler timeout must be a positive number of seconds, got {text!r}")
    return v


def _store(enabled: bool = True):
    """The lab's result store, or a one-line usage error when the lab directory is unusable."""
    if not enabled:
        return None
    from labkit.store import ResultStore, StoreError, lab_dir

    try:
        return ResultStore(lab_dir() / "store.sqlite")
    except (OSError, ValueError, StoreError) as exc:
        raise _UsageError(f"cannot use the result store: {_one_line(exc)} (set LABKIT_DIR to a writable folder, "
                          "or pass --no-store to `labkit check`)") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _fmt(v: float) -> str:
    return "nan" if v != v else f"{v:.4g}"


def _when(t: float | None) -> str:
    if t is None:
        return "?"
    return _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _source(r: CheckResult) -> str:
    """Where a verdict's numbers came from, in a few words."""
    if r.error:
        return "error"
    total = r.runs_loaded + r.runs_computed
    if total == 0:
        return "computed now"
    if r.runs_computed == 0:
        return f"stored {_when(r.created)}"
    if r.runs_loaded == 0:
        return "computed now"
    return f"{r.runs_loaded}/{total} runs stored"


def _table(results: list[CheckResult], skipped: list[tuple[str, str]]) -> str:
    rows = [("check", "expected", "measured [interval]", "verdict", "source")]
    for r in results:
        rows.append((
            r.name,
            f"{r.relation} {_fmt(r.expected)} (tol {_fmt(r.tol)})",
            f"{_fmt(r.measured)} [{_fmt(r.ci[0])}, {_fmt(r.ci[1])}]",
            "PASS" if r.passed else "FAIL",
            _source(r),
        ))
    for name, why in skipped:
        rows.append((name, "", "", "SKIP", why))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        lines.append(f"\n{r.name} [{r.tag}]: {r.claim}")
        lines.append(f"    interval: {r.interval_label}; {_provenance_line(r)}")
        if r.details:
            lines.append(textwrap.indent(textwrap.fill(r.details, 96), "    "))
    n_fail = sum(not r.passed for r in results)
    tail = f"\n{len(results) - n_fail} passed, {n_fail} failed"
    if skipped:
        tail += f", {len(skipped)} skipped (unavailable here)"
    lines.append(tail)
    return "\n".join(lines)


def _provenance_line(r: CheckResult) -> str:
    from labkit.provenance import short

    total = r.runs_loaded + r.runs_computed
    if total and r.runs_computed == 0:
        where = f"all {total} runs from the store, first computed {_when(r.created)}"
    elif total and r.runs_loaded:
        where = f"{r.runs_loaded} of {total} runs from the store, {r.runs_computed} computed now"
    else:
        where = f"computed {_when(r.created)}"
    compute = f"{r.compute_seconds:.1f} s of compute" if r.compute_seconds is not None else ""
    return f"{where}; {compute}; code {short(r.code_version)}; this call {r.seconds:.1f} s"


def _resolve(names: list[str], run_all: bool, families: list[str]) -> list:
    if run_all and names:
        raise _UsageError("give check names or --all, not both")
    if not (run_all or names or families):
        raise _UsageError("name at least one check (or a pattern such as 'nash_md.*'), or pass --all or "
                          "--family (see `labkit list`)")
    try:
        return select(names, families=families)
    except KeyError as exc:
        raise _UsageError(exc.args[0]) from None


def _warn_load_errors() -> None:
    for err in load_errors():
        print(f"labkit: warning: {err} (its checks are skipped)", file=sys.stderr)


def _save_result(store, result: CheckResult) -> None:
    if store is not None:
        store.put_check(result.name, result.scale, result.seed, result.to_json(), result.data,
                        code_version=result.code_version)


def _run(check, scale, seed, store, *, backend="serial", quiet=False, recompute=False, n_workers=None,
         client=None) -> CheckResult:
    if not quiet:
        print(f"running {check.name} ({scale}) ...", file=sys.stderr, flush=True)
    result = check.run(scale=scale, rng=seed, store=store, backend=backend, progress=sys.stderr.isatty(),
                       recompute=recompute, n_workers=n_workers, client=client)
    _save_result(store, result)
    return result


def _cmd_list(args) -> int:
    try:
        selected = select(args.patterns, families=args.family)
    except KeyError as exc:
        raise _UsageError(exc.args[0]) from None
    _warn_load_errors()
    if args.json:
        print(json.dumps([{"name": c.name, "family": c.family, "paper": c.paper, "claim": c.claim, "tag": c.tag,
                           "cost_seconds": {"quick": _num(c.cost[0]), "full": _num(c.cost[1])},
                           "available": c.available, "unavailable_reason": c.unavailable_reason() or None,
                           "url": c.url or None}
                          for c in selected], indent=2))
        return EXIT_OK
    width = max((len(c.name) for c in selected), default=0)
    fam = max((len(c.family) for c in selected), default=0)
    for c in selected:
        cost = f"~{_secs(c.cost[0])} / ~{_secs(c.cost[1])}"
        note = "" if c.available else f"  UNAVAILABLE: {c.unavailable_reason()}"
        print(f"{c.name.ljust(width)}  {c.family.ljust(fam)}  [{c.tag}]  {cost.ljust(17)} {c.claim}{note}")
    if selected:
        print("\ntags: " + "; ".join(f"{k} {v}" for k, v in TAGS.items()), file=sys.stderr)
        print("cost: rough wall time at quick / full scale", file=sys.stderr)
    return EXIT_OK


def _num(v):
    return None if v != v else float(v)


def _secs(v: float) -> str:
    if v != v:
        return "?"
    if v < 60:
        return f"{v:.0f} s"
    if v < 3600:
        return f"{v / 60:.0f} min"
    return f"{v / 3600:.1f} h"


def _check_backend(backend: str) -> None:
    if backend == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            raise _UsageError("--backend dask needs dask.distributed: pip install \"rl-theory-lab[distributed]\"")


def _scheduler_address(args) -> str | None:
    """The Dask scheduler to connect to: ``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS`` (dask only)."""
    if args.scheduler is not None:
        if args.backend != "dask":
            raise _UsageError(f"--scheduler {args.scheduler} needs --backend dask (got --backend {args.backend})")
        if not args.scheduler.strip():
            raise _UsageError("--scheduler needs an address such as tcp://HOST:PORT, got an empty string")
        address = args.scheduler
    elif args.backend == "dask":
        address = os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip() or None
    else:
        return None  # the variable is Dask's; it does not turn a serial run into a cluster run
    if address is not None and args.workers is not None:
        raise _UsageError(f"--workers sizes a private local cluster; the cluster at {address} runs the sweeps "
                          "on its own workers (drop --workers, or scale the cluster)")
    return address


@contextlib.contextmanager
def _dask_client(address: str | None, timeout: float):
    """A client of the cluster at ``address`` for the whole command (``None``: no address)."""
    if address is None:
        yield None
        return
    from labkit.sweep import connect_scheduler

    try:
        client = connect_scheduler(address, timeout=timeout)
    except ConnectionError as exc:
        raise _UsageError(_one_line(exc)) from None
    try:
        yield client
    finally:
        client.close()


def _cmd_check(args) -> int:
    selected = _resolve(args.names, args.all, args.family)
    _warn_load_errors()
    address = _scheduler_address(args)
    _check_backend(args.backend)
    store = _store(not args.no_store)
    results, skipped = [], []
    todo = []
    for c in selected:
        if not c.available:
            skipped.append((c.name, c.unavailable_reason()))
        else:
            todo.append(c)
    with _dask_client(address if todo else None, args.scheduler_timeout) as client:
        for c in todo:
            results.append(_run(c, args.scale, args.seed, store, backend=args.backend, quiet=args.json,
                                recompute=args.recompute, n_workers=args.workers, client=client))
    if args.json:
        records = [r.to_json() for r in results]
        records += [{"name": n, "passed": None, "skipped": why} for n, why in skipped]
        print(json.dumps(records, indent=2))
    else:
        print(_table(results, skipped))
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAILED


def _current(check, scale, seed, store) -> CheckResult:
    """The stored result of the current code, or a fresh run (saying so)."""
    from labkit.provenance import code_version

    found = store.get_check(check.name, scale, seed, code_version=code_version(check.measure))
    if found is None:
        print(f"no stored result of {check.name} ({scale}, seed {seed}) for the current code", file=sys.stderr)
        return _run(check, scale, seed, store)
    summary, frame = found
    return CheckResult.from_json(summary, frame)


def figure_stem(result: CheckResult) -> str:
    """``NAME.SCALE`` (``NAME.SCALE.seedN`` for a seed other than 0): quick and full figures, and
    different seeds, never overwrite each other."""
    return f"{result.name}.{result.scale}" + (f".seed{result.seed}" if result.seed else "")


def _draw(check, result, out: Path, *, style: str = "default", column: str | None = None) -> list[Path]:
    from labkit.figures import paper_style, save_figure
    from labkit.provenance import short

    if check.plot is None:
        return []
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"cannot write figures to {str(out)!r}: {_one_line(exc)}") from None
    metadata = {
        "Title": result.name,
        "Subject": result.claim,
        "Keywords": (f"check={result.name}; scale={result.scale}; seed={result.seed}; tag={result.tag}; "
                     f"code={short(result.code_version)}; computed={_when(result.created)}; "
                     f"verdict={'PASS' if result.passed else 'FAIL'}"),
        "Creator": f"labkit (rl-theory-lab {_version()})",
    }
    with paper_style(style, column):
        fig = check.plot(result)
        try:
            paths = save_figure(fig, out, figure_stem(result), metadata=metadata)
        except OSError as exc:
            raise _UsageError(f"cannot write figures to {str(out)!r}: {_one_line(exc)}") from None
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
    if not check.available:
        raise _UsageError(f"check {check.name!r} is unavailable: {check.unavailable_reason()}")
    from labkit.store import lab_dir

    store = _store()
    out = args.out if args.out is not None else lab_dir() / "figures"
    result = _current(check, args.scale, args.seed, store)
    for path in _draw(check, result, out, style=args.style, column=args.column):
        print(path)
    return EXIT_OK


def _cmd_report(args) -> int:
    from labkit.report import write_report
    from labkit.store import lab_dir

    store = _store()
    out = args.out if args.out is not None else lab_dir() / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"cannot write the report to {str(out)!r}: {_one_line(exc)}") from None
    _warn_load_errors()
    items = []
    for check in checks().values():
        if not check.available:
            items.append((check, None, check.unavailable_reason()))
        else:
            items.append((check, _current(check, "quick", args.seed, store), ""))
    try:
        paths = write_report(out, items, _draw, seed=args.seed)
    except OSError as exc:
        raise _UsageError(f"cannot write the report to {str(out)!r}: {_one_line(exc)}") from None
    print(paths["html"])
    print(paths["markdown"])
    return EXIT_OK if all(r.passed for _, r, _ in items if r is not None) else EXIT_FAILED


def _cmd_store(args) -> int:
    from labkit.provenance import code_version, short

    store = _store()
    action = args.store_command
    if action is None:
        raise _UsageError("name an action: list, prune, verify or evict (see `labkit store -h`)")
    current = code_version()
    if action == "list":
        inv = store.inventory()
        print(f"store {store.path}  (current code {short(current)})")
        if inv.empty:
            print("empty")
            return EXIT_OK
        # a check's version also covers its own module; mark the lab-wide current version
        for row in inv.itertuples(index=False):
            mark = "*" if row.code_version == current else " "
            print(f"{mark} {row.kind:5s}  {row.name:52s}  {short(row.code_version)}  {int(row.count):6d}  "
                  f"{_when(row.first)} .. {_when(row.last)}")
        print("(* computed by the current code)", file=sys.stderr)
        return EXIT_OK
    if action == "prune":
        keep = {current} | _current_check_versions()
        counts = store.prune(keep, dry_run=args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        print(f"{verb} {counts['runs']} runs and {counts['checks']} check results of other code versions")
        if not args.dry_run and (counts["runs"] or counts["checks"]):
            store.vacuum()
        return EXIT_OK
    if action == "verify":
        bad = store.verify()
        for key, name, err in bad:
            print(f"unreadable: {key}  ({name}): {err}")
        if args.evict:
            n = sum(store.evict(key) for key, _, _ in bad)
            print(f"evicted {n} unreadable records")
        else:
            print(f"{len(bad)} unreadable records" + (" (delete them with --evict)" if bad else ""))
        return EXIT_OK
    if action == "evict":
        n = sum(store.evict(key) for key in args.keys)
        print(f"evicted {n} of {len(args.keys)} records")
        return EXIT_OK if n == len(args.keys) else EXIT_USAGE
    raise _UsageError(f"unknown store action {action!r}")  # pragma: no cover - argparse refuses it


def _current_check_versions() -> set[str]:
    """Code versions of every registered check's module (a plugin's checks hash its package)."""
    from labkit.provenance import code_version

    return {code_version(c.measure) for c in checks().values()}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {"list": _cmd_list, "check": _cmd_check, "figure": _cmd_figure, "report": _cmd_report,
               "store": _cmd_store}
    from labkit.store import StoreError

    try:
        return handler[args.command](args)
    except _UsageError as exc:
        print(f"labkit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"labkit {args.command}: error: result store: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:
        print(f"labkit {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\nlabkit {args.command}: interrupted; finished runs are kept in the store", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`labkit list --json | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
