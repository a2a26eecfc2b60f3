"""sprawlscan: find where AI and other non-human-identity credentials have sprawled."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sprawlscan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+local"
