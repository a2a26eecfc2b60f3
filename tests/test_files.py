"""Directory scanning: default excludes, symlinks never followed, skips always counted."""

from __future__ import annotations

import os

from scanner.pipeline import ScanOptions, run_scan
from tokens import github
from hypothesis import given, settings
from hypothesis import strategies as st


def test_excludes_symlinks_binary_and_size_are_counted(tmp_path, rng):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(github(rng))
    root = tmp_path / "tree"
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "node_modules" / "lib" / "k.js").write_text(github(rng))
    (root / "src").mkdir()
    keep = github(rng)
    (root / "src" / "app.py").write_text(f"T = '{keep}'\n")
    (root / "src" / "logo.png").write_bytes(b"\x89PNG" + github(rng).encode())
    (root / "src" / "data.bin").write_bytes(b"\0" * 10 + github(rng).encode())
    (root / "src" / "huge.txt").write_text(github(rng) + "a" * 4000)
    os.symlink(outside / "secret.txt", root / "src" / "link.txt")
    os.symlink(outside, root / "linkdir")
    os.mkfifo(root / "src" / "pipe")
    result = run_scan([str(root)], ScanOptions(max_file_size=2000))
    assert [c.locations[0].path for c in result.credentials] == ["src/app.py"]
    assert result.stats.skipped == {"excluded": 2, "binary": 1, "too-large": 1, "symlink": 2,
                                    "not-regular-file": 1}


def test_exclude_option_replaces_defaults(tmp_path, rng):
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "x.txt").write_text(github(rng))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "y.txt").write_text(github(rng))
    result = run_scan([str(tmp_path)], ScanOptions(exclude=("docs",)))
    assert [c.locations[0].path for c in result.credentials] == ["vendor/x.txt"]


def test_non_utf8_file_is_still_scanned(tmp_path, rng):
    key = github(rng)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") + key.encode() + b"\n")
    result = run_scan([str(tmp_path)])
    assert len(result.credentials) == 1 and result.credentials[0].locations[0].line == 1


def test_single_file_target(tmp_path, rng):
    f = tmp_path / "one.env"
    f.write_text(f"X={github(rng)}\n")
    [cred] = run_scan([str(f)]).credentials
    assert cred.locations[0].path == "one.env"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b.py", "node_modules", ".git", "x.min.js", "vendor", "p.png",
                                 ".venv", "dist", "c.lock", "__pycache__", "", "*", "[x]"]),
                min_size=1, max_size=4))
def test_excluded_keeps_fnmatch_semantics(parts) -> None:
    """`excluded` (one compiled regex) answers as matching each pattern with `fnmatch` against the
    whole path and each component did."""
    import fnmatch

    from scanner.sources.base import DEFAULT_EXCLUDES
    from scanner.sources.files import excluded

    rel = "/".join(parts)
    for patterns in (DEFAULT_EXCLUDES, ("*.py", "a/*"), ()):
        want = any(fnmatch.fnmatch(rel, p) or any(fnmatch.fnmatch(x, p) for x in rel.split("/"))
                   for p in patterns)
        assert excluded(rel, patterns) == want
