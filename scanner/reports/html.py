"""HTML reports: one self-contained page (inline CSS, JS and data; a Content-Security-Policy that
forbids every network fetch) that draws a report's own JSON with the vendored Cytoscape.js. The page
carries exactly what the JSON report carries (fingerprints and redacted previews, never a value);
the script puts every string on the page as text, never as markup."""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

import networkx as nx

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def _asset(*parts: str) -> str:
    return resources.files("scanner.reports").joinpath(*parts).read_text(encoding="utf-8")


def _json_for_script(data: object) -> str:
    """JSON that cannot end its <script> element early or open a comment there."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(title: str, data: dict[str, Any]) -> str:
    """The whole page for `data` (a dict with `kind`: survivors, audit, scan or graph)."""
    return "\n".join([
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{html.escape(title)}</title>", "<style>", _asset("html_assets", "page.css"), "</style>",
        "</head><body>", '<header id="summary"></header>',
        '<div class="controls"><input id="search" type="search" placeholder="search nodes" size="30">'
        '<label>verdict <select id="verdict"><option value="all">all</option>'
        '<option value="survives">survives</option><option value="dies">dies</option>'
        '<option value="shared">shared</option><option value="human">human</option>'
        '<option value="orphaned">orphaned</option><option value="platform">platform</option>'
        '<option value="expiring">expiring</option></select></label><span id="legend" class="legend"></span>'
        "</div>",
        '<div class="main"><div id="cy"></div><aside id="details"><p>Click a node to see its facts.</p></aside></div>',
        '<section class="tables" id="tables"></section>',
        f'<script type="application/json" id="sprawlscan-data">{_json_for_script(data)}</script>',
        "<script>", _asset("vendor", "cytoscape.min.js"), "</script>",
        "<script>", _asset("html_assets", "page.js"), "</script>", "</body></html>", ""])


def graph_data(g: nx.MultiDiGraph) -> dict[str, list[dict[str, object]]]:
    """Node-link data with plain attribute values only (what the graph's JSON export carries)."""
    plain = (str, int, float, bool)
    nodes = [{"id": n, **{k: v for k, v in d.items() if isinstance(v, plain)}} for n, d in g.nodes(data=True)]
    links = [{"source": a, "target": b, **{k: v for k, v in d.items() if isinstance(v, plain)}}
             for a, b, d in g.edges(data=True)]
    return {"nodes": nodes, "links": links}


def survivors_page(report_json: dict[str, Any]) -> str:
    return page(f"sprawlscan: what outlives {report_json['agent']}", {"kind": "survivors", "report": report_json})


def audit_page(findings: list[dict[str, Any]], g: nx.MultiDiGraph) -> str:
    return page("sprawlscan audit", {"kind": "audit", "findings": findings, "graph": graph_data(g)})


def scan_page(report_json: dict[str, Any]) -> str:
    return page("sprawlscan scan", {"kind": "scan", "report": report_json})


def graph_page(g: nx.MultiDiGraph) -> str:
    return page("sprawlscan identity graph", {"kind": "graph", "graph": graph_data(g)})
