"""HTML reports: one self-contained page per report, drawn from the report's own JSON. The page is
rendered in headless Chromium (Debian's `chromium`, driven by Playwright) to check what a person
sees: verdict colours, the click that shows a credential's facts and highlights its evidence path,
the table, and that nothing but the file itself is ever requested."""

from __future__ import annotations

import hashlib
import html.parser
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.reports.html import _json_for_script, page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
COLORS = {"dies": "rgb(46,125,50)", "shared": "rgb(198,40,40)", "human": "rgb(239,108,0)",
          "orphaned": "rgb(106,27,154)", "platform": "rgb(21,101,192)", "expiring": "rgb(249,168,37)"}


def demo_sources(demo_org: Path) -> list[str]:
    from build_demo import exports_dir

    ex = exports_dir(demo_org)
    return [str(demo_org), f"vault-export:{ex / 'vault/export.json'}",
            f"jira-export:{ex / 'tickets/jira.json'}", f"confluence-export:{ex / 'wiki/confluence.json'}"]


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


@pytest.fixture(scope="module")
def survivors_pages(demo_org, tmp_path_factory) -> tuple[Path, dict]:
    """The demo's `survivors support-triage` as HTML and as JSON, at the same fixed time."""
    out = tmp_path_factory.mktemp("html")
    common = ["survivors", "support-triage", "--inventory", str(demo_org / "agents.yaml"),
              "--at", "2026-01-15", *demo_sources(demo_org)]
    code, _ = run(*common, "--format", "html", "--output", str(out / "survivors.html"))
    assert code == 1
    code, _ = run(*common, "--format", "json", "--output", str(out / "survivors.json"))
    assert code == 1
    return out / "survivors.html", json.loads((out / "survivors.json").read_text())


class _Refs(html.parser.HTMLParser):
    """Collects every attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.fetching: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action") and tag != "a":
                self.fetching.append((tag, name, value or ""))
        if tag == "link":
            self.fetching.append((tag, "link", str(attrs)))
        self._in_data = tag == "script" and ("id", "sprawlscan-data") in attrs

    def handle_data(self, data):
        if self._in_data:
            self.scripts.append(data)
            self._in_data = False


def test_page_is_self_contained_and_carries_only_the_json_report(survivors_pages, demo_secrets):
    """No element of the page fetches anything, a CSP forbids every fetch, the embedded data is
    exactly the JSON report, and no secret value appears anywhere in the file."""
    html_path, report = survivors_pages
    text = html_path.read_text()
    refs = _Refs()
    refs.feed(text)
    assert refs.fetching == []
    assert "default-src 'none'" in text and "connect-src" not in text
    [data] = refs.scripts
    assert json.loads(data) == {"kind": "survivors", "report": report}
    for value in demo_secrets.values():
        assert value not in text
    vendor = Path(__file__).resolve().parent.parent / "scanner" / "reports" / "vendor"
    pin = json.loads((vendor / "VENDOR.json").read_text())["cytoscape"]
    assert hashlib.sha256((vendor / "cytoscape.min.js").read_bytes()).hexdigest() == pin["sha256"]
    assert "Permission is hereby granted" in (vendor / "cytoscape.LICENSE").read_text()


def test_embedded_json_cannot_close_its_script_element():
    """A hostile string in the data (a file name, a Jira key) cannot end the <script> element."""
    data = {"kind": "scan", "x": "</script><script>alert(1)</script><!--"}
    text = _json_for_script(data)
    assert "<" not in text and ">" not in text and json.loads(text) == data
    assert page("t", data).count("</script>") == 3   # data, library, page script


# ---------------------------------------------------------------- in a real browser

@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    if os.environ.get("CI"):
        import playwright.sync_api as sync_api     # CI installs .[test]: a missing Playwright fails
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


class Opened:
    """A page opened from file://, with every console message, page error and request recorded."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("error", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=15000)

    def js(self, expr: str):
        return self.page.evaluate(expr)

    def click_node(self, node_id: str) -> None:
        x, y = self.js(f"""(() => {{ const n = cy.getElementById({json.dumps(node_id)});
            const r = n.renderedPosition(), b = document.getElementById('cy').getBoundingClientRect();
            return [r.x + b.left, r.y + b.top]; }})()""")
        self.page.mouse.click(x, y)

    def assert_clean(self) -> None:
        assert [m for m in self.console if m[0] == "error"] == []
        assert self.requests == [self.url]


def test_survivors_report_in_chromium(browser, survivors_pages, tmp_path):
    """The demo's survivors report: verdict header, three credentials in their verdict colours,
    a click on the OpenAI key shows `shared` and highlights its evidence path, the table lists the
    JSON report's rows, no console error, no request but the file; a screenshot is written."""
    html_path, report = survivors_pages
    o = Opened(browser, html_path)
    assert "BLOCKED" in o.js("document.querySelector('.verdict').textContent")
    drawn = o.js("cy.nodes('[kind = \"credential\"]').map(n => [n.data('fp'), n.data('verdict'),"
                 " n.style('background-color').replace(/ /g, '')])")
    expected = {c["secret_sha256"]: (c["reason"] if c["survives"] else "dies") for c in report["credentials"]}
    assert len(expected) == 3 and set(expected.values()) == {"shared", "human", "dies"}
    assert {fp: verdict for fp, verdict, _ in drawn} == expected
    assert all(colour == COLORS[verdict] for _, verdict, colour in drawn)

    [openai] = [c for c in report["credentials"] if c["provider"] == "openai"]
    node = f"credential:{openai['secret_sha256']}"
    o.click_node(node)
    assert o.js("window.sprawlscanSelected") == node
    panel = o.js("document.getElementById('details').innerText")
    assert "survives: shared" in panel and openai["secret_sha256"] in panel and openai["action"] in panel
    lit = set(o.js("cy.$('.hl').map(e => e.id())"))
    for path in openai["reached_via"] + openai["other_holders_via"]:
        assert set(path) <= lit
        assert {f"{a}->{b}" for a, b in zip(path, path[1:])} <= lit
    others = {f"credential:{c['secret_sha256']}" for c in report["credentials"]} - {node}
    assert not others & lit
    assert o.js("document.querySelector('tr.selected').dataset.fp") == openai["secret_sha256"]

    rows = o.js("[...document.querySelectorAll('#tables tbody tr')].map(r => [r.dataset.fp,"
                " ...[...r.cells].map(c => c.innerText)])")
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        (c["secret_sha256"], c["rule_id"], "yes" if c["survives"] else "no", c["reason"] or "-")
        for c in report["credentials"]]
    shot = tmp_path / "survivors.png"
    o.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    o.assert_clean()


def test_filters_dim_what_does_not_match(browser, survivors_pages):
    """Filtering by verdict and searching by name dim the other nodes, for large graphs."""
    o = Opened(browser, survivors_pages[0])
    o.page.select_option("#verdict", "dies")
    dimmed = set(o.js("cy.nodes('.dim').map(n => n.data('verdict') || '')"))
    assert "shared" in dimmed and "human" in dimmed and "dies" not in dimmed
    o.page.select_option("#verdict", "all")
    o.page.fill("#search", "release-bot")
    visible = o.js("cy.nodes().not('.dim').map(n => n.id())")
    assert visible and all("release-bot" in n for n in visible)
    o.assert_clean()


def test_hostile_strings_render_as_text(browser, tmp_path):
    """Markup in a location or name shows as text, and a javascript: URL never becomes a link."""
    evil = '<img src="http://127.0.0.1:9/x" onerror="window.pwned=1">'
    report = {"tool": "sprawlscan", "version": "0", "incomplete": False, "incomplete_reasons": [], "summary": {},
              "findings": [{"secret_sha256": "ab" * 32, "rule_id": "x.y", "provider": evil, "redacted": evil,
                            "locations": [{"source": "file", "container": evil, "path": "a", "line": 1,
                                           "url": "javascript:window.pwned=2"}]}]}
    f = tmp_path / "evil.html"
    f.write_text(page("evil", {"kind": "scan", "report": report}))
    o = Opened(browser, f)
    o.click_node("credential:" + "ab" * 32)
    assert o.js("window.pwned") is None
    assert o.js("document.querySelectorAll('#tables img, #details img, a[href^=\"javascript\"]').length") == 0
    assert evil in o.js("document.getElementById('tables').innerText")
    o.assert_clean()


def test_audit_scan_and_graph_pages_in_chromium(browser, demo_org, tmp_path):
    """`audit`, `scan` and `graph` write HTML too: findings grouped by agent with links to their
    subgraph, credentials by provider, and the whole graph with locations collapsed into counts."""
    inv = ["--inventory", str(demo_org / "agents.yaml")]
    src = demo_sources(demo_org)
    code, _ = run("audit", *inv, *src, "--format", "html", "--output", str(tmp_path / "audit.html"))
    assert code in (0, 1)
    code, _ = run("audit", *inv, *src, "--format", "json", "--output", str(tmp_path / "audit.json"))
    findings = json.loads((tmp_path / "audit.json").read_text())["findings"]
    o = Opened(browser, tmp_path / "audit.html")
    rows = o.js("[...document.querySelectorAll('#tables tbody tr')].map(r => r.dataset.subject)")
    assert sorted(set(rows)) == sorted({f["subject"] for f in findings})
    subject = o.js("(() => { const a = [...document.querySelectorAll('#tables tbody a')]"
                   ".find(a => cy.getElementById(a.textContent).length); a.click(); return a.textContent; })()")
    assert o.js("window.sprawlscanSelected") == subject and subject in o.js("cy.$('.hl').map(e => e.id())")
    o.assert_clean()

    code, _ = run("scan", *src, "--format", "html", "--output", str(tmp_path / "scan.html"))
    assert code == 1
    code, out = run("scan", *src, "--format", "json")
    scan = json.loads(out)
    o = Opened(browser, tmp_path / "scan.html")
    fps = o.js("[...document.querySelectorAll('#tables tbody tr')].map(r => r.dataset.fp)")
    assert sorted(fps) == sorted(f["secret_sha256"] for f in scan["findings"])
    headings = o.js("[...document.querySelectorAll('#tables h2')].map(h => h.textContent.split(' ')[0])")
    assert headings == sorted({f["provider"] for f in scan["findings"]})
    o.assert_clean()

    code, _ = run("graph", *inv, *src, "--format", "html", "--output", str(tmp_path / "graph.html"))
    assert code == 0
    o = Opened(browser, tmp_path / "graph.html")
    assert o.js("cy.nodes('[kind = \"location\"]').length") == 0
    assert o.js("cy.nodes('[kind = \"locations\"]').length") == len(scan["findings"])
    assert o.js("cy.nodes('[kind = \"agent\"]').length") >= 2
    o.assert_clean()
