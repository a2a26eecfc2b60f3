"""Reports: a `ScanResult` rendered for people (table) or tools (JSON...). `FORMATS` is the registry."""

from scanner.reports.base import FORMATS, render

__all__ = ["FORMATS", "render"]
