"""The browsable report: a static HTML site (and the same table in Markdown) of check results.

``labkit report`` writes, under its output folder:

* ``index.html`` and ``report.md``: the results table (claim, expected figure, measured figure
  with a correctly named interval, verdict, provenance tag, paper link, when the numbers were
  first computed and their compute time, not the reload time) and an environment stamp
  (package versions, code version, machine, date);
* ``checks/<name>.html``: one page per check with its claim, paper, tag and what it means,
  details, figure, the command that reproduces it, and links to its data;
* ``data/<name>.csv`` (the check's raw data) and ``data/<name>.json`` (its JSON record);
* ``figures/<name>.<scale>.png`` and ``.pdf``.

The site is plain HTML with one inline style sheet: no script, no external resource, every
link relative, so it opens from the file system, from any static host and in a headless
browser (the tests load every page in headless Chromium and require no console error).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from pathlib import Path
from typing import Callable, Iterable

from labkit.check import TAGS, Check, CheckResult

__all__ = ["write_report"]

_CSS = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
code, pre { font-family: Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; }
.pass { color: #0a6e2f; font-weight: bold; }
.fail { color: #b00020; font-weight: bold; }
.skip { color: #777; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.meta { color: #555; font-size: 0.85rem; }
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _fmt(v) -> str:
    return "nan" if v is None or v != v else f"{v:.4g}"


def _when(t) -> str:
    return "?" if t is None else _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _verdict(r: CheckResult) -> str:
    return '<span class="pass">PASS</span>' if r.passed else '<span class="fail">FAIL</span>'


def _measured(r: CheckResult) -> str:
    return f"{_fmt(r.measured)} [{_fmt(r.ci[0])}, {_fmt(r.ci[1])}]"


def _paper(check: Check) -> str:
    text = html.escape(check.paper)
    return f'<a href="{html.escape(check.url)}">{text}</a>' if check.url else text


def _stamp_rows(env: dict) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items() if v)
    rows = [("date", env["date"]), ("code version", env["code_version"]), ("python", env["python"]),
            ("machine", f"{env['platform']} ({env['machine']}, {env['cpus']} CPUs)"), ("libraries", libs)]
    return "\n".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(str(v))}</code></td></tr>" for k, v in rows)


def write_report(out: Path, items: Iterable[tuple[Check, CheckResult | None, str]],
                 draw: Callable[[Check, CheckResult, Path], list[Path]], *, seed: int = 0) -> dict[str, Path]:
    """Write the site and ``report.md`` under ``out``; return ``{"html": ..., "markdown": ...}``.

    ``items`` are ``(check, result, why_skipped)``: a ``None`` result is a check that could not
    run here (``why_skipped`` says why). ``draw(check, result, folder)`` writes its figure and
    returns the paths (the CLI's drawing, with metadata).
    """
    from labkit.provenance import environment, short

    out = Path(out)
    for sub in ("checks", "data", "figures"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    env = dict(environment(), date=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    rows, md_rows = [], []
    n_pass = n_fail = n_skip = 0
    for check, result, why in items:
        page = f"checks/{check.name}.html"
        if result is None:
            n_skip += 1
            rows.append(f"<tr><td><a href=\"{page}\">{html.escape(check.name)}</a></td><td>{check.tag}</td>"
                        f"<td colspan=\"3\"></td><td class=\"skip\">SKIP</td><td colspan=\"2\">"
                        f"{html.escape(why)}</td></tr>")
            md_rows.append(f"| `{check.name}` | {check.tag} | | | SKIP ({why}) | | |")
            (out / page).write_text(_page(check.name, f"<p><a href=\"../index.html\">all checks</a></p>"
                                                      f"<h1><code>{html.escape(check.name)}</code></h1>"
                                                      f"<p>{html.escape(check.claim)}</p><p class=\"skip\">Not run "
                                                      f"here: {html.escape(why)}</p>"))
            continue
        n_pass += result.passed
        n_fail += not result.passed
        stem = f"{check.name}.{result.scale}" + (f".seed{result.seed}" if result.seed else "")
        result.data.to_csv(out / "data" / f"{stem}.csv", index=False)
        (out / "data" / f"{stem}.json").write_text(json.dumps(result.to_json(), indent=2))
        figures = draw(check, result, out / "figures") if check.plot is not None else []
        png = next((p for p in figures if p.suffix == ".png"), None)
        pdf = next((p for p in figures if p.suffix == ".pdf"), None)
        expected = f"{result.relation} {_fmt(result.expected)} (tol {_fmt(result.tol)})"
        rows.append(
            f"<tr><td><a href=\"{page}\">{html.escape(check.name)}</a></td><td>{check.tag}</td>"
            f"<td>{html.escape(check.claim)}</td><td>{html.escape(expected)}</td>"
            f"<td>{_measured(result)}<br><span class=\"meta\">{html.escape(result.interval_label)}</span></td>"
            f"<td>{_verdict(result)}</td><td>{_when(result.created)}</td>"
            f"<td>{_fmt(result.compute_seconds)} s</td></tr>")
        md_rows.append(f"| `{check.name}` | {check.tag} | {expected} | {_measured(result)} ({result.interval_label}) | "
                       f"{'PASS' if result.passed else 'FAIL'} | {_when(result.created)} | "
                       f"{_fmt(result.compute_seconds)} |")
        reproduce = (f"labkit check {check.name} --scale {result.scale} --seed {result.seed}\n"
                     f"labkit figure {check.name} --scale {result.scale} --seed {result.seed}")
        figure_html = ""
        if png is not None:
            figure_html = (f"<h2>Figure</h2><p><img src=\"../figures/{png.name}\" alt=\"figure of {html.escape(check.name)}\">"
                           f"</p><p><a href=\"../figures/{pdf.name}\">PDF</a></p>")
        error_html = f"<h2>Error</h2><pre>{html.escape(result.error)}</pre>" if result.error else ""
        body = (
            f"<p><a href=\"../index.html\">all checks</a></p>"
            f"<h1><code>{html.escape(check.name)}</code> {_verdict(result)}</h1>"
            f"<p>{html.escape(check.claim)}</p>"
            f"<table><tr><th>paper</th><td>{_paper(check)}</td></tr>"
            f"<tr><th>family</th><td>{html.escape(check.family)}</td></tr>"
            f"<tr><th>tag</th><td>{check.tag}: {html.escape(TAGS[check.tag])}</td></tr>"
            f"<tr><th>expected</th><td>{html.escape(expected)}</td></tr>"
            f"<tr><th>measured</th><td>{_measured(result)} ({html.escape(result.interval_label)})</td></tr>"
            f"<tr><th>computed</th><td>{_when(result.created)}, {_fmt(result.compute_seconds)} s of compute, "
            f"{result.runs_loaded} runs from the store and {result.runs_computed} computed for this report, "
            f"code <code>{short(result.code_version)}</code>, scale {result.scale}, seed {result.seed}</td></tr>"
            f"</table><h2>Details</h2><p>{html.escape(result.details)}</p>{error_html}{figure_html}"
            f"<h2>Data</h2><p><a href=\"../data/{stem}.csv\">raw data (CSV)</a> · "
            f"<a href=\"../data/{stem}.json\">result record (JSON)</a></p>"
            f"<h2>Reproduce</h2><pre>{html.escape(reproduce)}</pre>")
        (out / page).write_text(_page(check.name, body))
    summary = f"{n_pass} passed, {n_fail} failed" + (f", {n_skip} skipped (unavailable here)" if n_skip else "")
    index = (
        f"<h1>labkit report</h1><p>Every registered check at quick scale, seed {seed}: {summary}.</p>"
        "<table><tr><th>check</th><th>tag</th><th>claim</th><th>expected</th><th>measured [interval]</th>"
        "<th>verdict</th><th>first computed</th><th>compute</th></tr>\n" + "\n".join(rows) + "</table>"
        "<h2>Provenance tags</h2><ul>" + "".join(f"<li><b>{k}</b>: {html.escape(v)}</li>" for k, v in TAGS.items())
        + "</ul><h2>Environment</h2><table>" + _stamp_rows(env) + "</table>"
    )
    (out / "index.html").write_text(_page("labkit report", index))
    md = ["# labkit report", "", f"Every registered check at quick scale, seed {seed}: {summary}.", "",
          "| check | tag | expected | measured [interval] | verdict | first computed | compute s |",
          "|---|---|---|---|---|---|---|", *md_rows, "",
          "Environment: " + f"code {env['code_version'][:10]}, python {env['python']}, {env['platform']}, {env['date']}.",
          "", "Per-check pages, figures and data: `index.html`.", ""]
    (out / "report.md").write_text("\n".join(md))
    return {"html": out / "index.html", "markdown": out / "report.md"}
