"""The labelled corpus: synthetic secrets (generated at test time from fixtures/tokens.py) placed in
realistic files, plus hard negatives; `quality.measure` scans it and scores recall and precision."""
