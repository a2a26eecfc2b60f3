"""The report registry: format name → function from a `ScanResult` to text."""

from __future__ import annotations

from collections.abc import Callable

from scanner.model import ScanResult
from scanner.reports import json as json_report
from scanner.reports import markdown as markdown_report
from scanner.reports import sarif as sarif_report
from scanner.reports import table as table_report

Renderer = Callable[[ScanResult], str]


def _html(result: ScanResult) -> str:
    from scanner.reports.html import scan_page

    return scan_page(json_report.as_dict(result))


FORMATS: dict[str, Renderer] = {
    "html": _html,
    "json": json_report.render,
    "jsonl": json_report.render_lines,
    "markdown": markdown_report.render,
    "sarif": sarif_report.render,
    "table": table_report.render,
}


def render(result: ScanResult, fmt: str) -> str:
    return FORMATS[fmt](result)
