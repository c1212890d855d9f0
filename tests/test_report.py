"""``labkit report``: a static site whose every page loads in a real headless browser with no
console error and whose every link and image resolves."""

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from labkit import cli
from labkit.check import Check, get_check


@pytest.fixture(autouse=True)
def lab_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DIR", str(tmp_path / "lab"))


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.links.append(value)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    lab = tmp_path_factory.mktemp("lab")
    old = os.environ.get("LABKIT_DIR")
    os.environ["LABKIT_DIR"] = str(lab)
    unavailable = Check("zz_report.needs_torch", "nobody", "a check whose extra is missing", "R", lambda ctx: None,
                        requires=("no_such_module_xyz",), install='pip install "rl-theory-lab[torch]"')
    only = {name: get_check(name) for name in ("value_iteration.tight_rate", "nash_md.constant_step_plateau")}
    only[unavailable.name] = unavailable
    original = cli.checks
    cli.checks = lambda: only
    try:
        code = cli.main(["report", "--out", str(out)])
    finally:
        cli.checks = original
        if old is None:
            os.environ.pop("LABKIT_DIR", None)
        else:
            os.environ["LABKIT_DIR"] = old
    assert code == 0
    return out


def test_site_layout_and_content(site):
    index = (site / "index.html").read_text()
    assert "value_iteration.tight_rate" in index and "PASS" in index and "SKIP" in index
    assert "range over instances" in index or "confidence interval" in index  # the interval is named
    assert "code version" in index and "numpy" in index  # the environment stamp
    page = (site / "checks" / "nash_md.constant_step_plateau.html").read_text()
    assert "arxiv.org/abs/2312.00886" in page  # the paper link
    assert "labkit check nash_md.constant_step_plateau --scale quick --seed 0" in page
    assert "bootstrap CI" in page
    record = json.loads((site / "data" / "nash_md.constant_step_plateau.quick.json").read_text())
    assert record["passed"] is True
    assert (site / "data" / "nash_md.constant_step_plateau.quick.csv").stat().st_size > 0
    md = (site / "report.md").read_text()
    assert "| `value_iteration.tight_rate` |" in md


def test_every_link_and_image_resolves(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) == 4
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text())
        for link in parser.links:
            if link.startswith(("http://", "https://")):
                continue
            assert not link.startswith(("/", "file:")), f"{page.name}: absolute link {link}"
            assert (page.parent / link).resolve().exists(), f"{page.name}: broken link {link}"


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: Appended to a probe copy of each page (the site itself has no script): after the load event,
#: every image that did not decode is reported on the console, then the probe says it ran.
_PROBE = ('<script>window.addEventListener("load", () => { for (const img of document.images) { '
          'if (!img.complete || img.naturalWidth === 0) console.error("broken image " + img.src); } '
          'console.log("probe done"); });</script>')


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium here (CI installs Debian's chromium)")
def test_every_page_loads_in_headless_chromium_without_console_errors(site, tmp_path):
    for page in sorted(site.rglob("*.html")):
        if page.name.endswith(".probe.html"):
            continue
        probe = page.with_name(page.stem + ".probe.html")
        probe.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
        try:
            proc = subprocess.run(
                [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                 "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                capture_output=True, text=True, timeout=120)
        finally:
            probe.unlink()
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "</body>" in proc.stdout, f"{page.name} did not render"
        console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
        assert any("probe done" in line for line in console), f"{page.name}: the load event never fired"
        errors = [line for line in console if "probe done" not in line]
        errors += [line for line in proc.stderr.splitlines() if "Failed to load resource" in line]
        assert not errors, f"{page.name}: {errors}"
