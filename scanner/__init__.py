"""sprawlscan: find where AI and other non-human-identity credentials have sprawled."""

__version__ = "0.1.0"
"""The one place the version is written (pyproject.toml reads it): no package-metadata lookup at
start-up."""
