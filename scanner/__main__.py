"""`python -m scanner` runs the CLI."""

from scanner.cli import main

main()
