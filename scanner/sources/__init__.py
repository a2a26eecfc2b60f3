"""Sources: one module per kind of place crawled; each yields `Chunk`s (see base.py)."""
