"""The report registry: format name → function from a `ScanResult` to text."""

from __future__ import annotations

from collections.abc import Callable

from scanner.model import ScanResult
from scanner.reports import json as json_report
from scanner.reports import markdown as markdown_report
from scanner.reports import sarif as sarif_report
from scanner.reports import table as table_report

Renderer = Callable[[ScanResult], str]

FORMATS: dict[str, Renderer] = {
    "json": json_report.render,
    "markdown": markdown_report.render,
    "sarif": sarif_report.render,
    "table": table_report.render,
}


def render(result: ScanResult, fmt: str) -> str:
    return FORMATS[fmt](result)
