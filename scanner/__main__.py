"""`python -m scanner` runs the CLI (through `scanner.early`, as the `sprawlscan` script does)."""

from scanner.early import main

main()
