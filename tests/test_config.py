"""Configuration layers: defaults < sprawlscan.toml < SPRAWLSCAN_* env < flags; the fingerprint
allowlist of sprawlscan.toml suppresses findings; bad config is one clear line, exit 2."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokens import github

from scanner.config import Flags, scan_options
from scanner.errors import ConfigError
from scanner.model import fingerprint
from scanner.sources.base import DEFAULT_EXCLUDES, DEFAULT_MAX_FILE_SIZE

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_without_any_layer(tmp_path):
    """No file, no env, no flags: the documented defaults."""
    o = scan_options(Flags(), cwd=tmp_path, env={})
    assert (o.max_file_size, o.history, o.rule_files, o.allowlist, o.exclude) == \
        (DEFAULT_MAX_FILE_SIZE, True, (), frozenset(), DEFAULT_EXCLUDES)


def test_layers_override_in_order(tmp_path):
    """File < env < flags for scalars; allowlists and excludes are unions of every layer, on top of
    the default exclusions."""
    fp = [fingerprint(str(i)) for i in range(3)]
    (tmp_path / "sprawlscan.toml").write_text(
        f'[scan]\nmax_file_size = 1000\nhistory = false\nexclude = ["a"]\n'
        f'[allowlist]\nfingerprints = ["{fp[0]}"]\n')
    (tmp_path / "env.txt").write_text(fp[1] + "  # from env\n")
    (tmp_path / "flag.txt").write_text(fp[2].upper() + "\n")
    o = scan_options(Flags(), cwd=tmp_path, env={})
    assert (o.max_file_size, o.history, o.exclude, o.allowlist) == (1000, False, DEFAULT_EXCLUDES + ("a",), {fp[0]})
    env = {"SPRAWLSCAN_MAX_FILE_SIZE": "2000", "SPRAWLSCAN_HISTORY": "1", "SPRAWLSCAN_EXCLUDE": "b,c",
           "SPRAWLSCAN_ALLOWLIST": str(tmp_path / "env.txt")}
    o = scan_options(Flags(), cwd=tmp_path, env=env)
    assert (o.max_file_size, o.history, o.exclude, o.allowlist) == \
        (2000, True, DEFAULT_EXCLUDES + ("a", "b", "c"), {fp[0], fp[1]})
    o = scan_options(Flags(max_file_size=3000, no_history=True, exclude=("d",), allowlist=tmp_path / "flag.txt"),
                     cwd=tmp_path, env=env)
    assert (o.max_file_size, o.history, o.exclude, o.allowlist) == \
        (3000, False, DEFAULT_EXCLUDES + ("a", "b", "c", "d"), set(fp))
    o = scan_options(Flags(exclude=("d",), no_default_excludes=True), cwd=tmp_path, env=env)
    assert o.exclude == ("a", "b", "c", "d")


@pytest.mark.parametrize("body,message", [
    ("[scan\n", "not valid TOML"),
    ('[allowlist]\nfingerprints = ["abc"]\n', "not a SHA-256 fingerprint"),
    ("[scan]\nmax_file_size = -1\n", "positive integer"),
    ('[scan]\nrules = ["missing.toml"]\n', "rule file not found"),
    ("[scan]\nmax_filesize = 10\n", "unknown key in [scan] 'max_filesize' (did you mean 'max_file_size'?)"),
    ("[allowlists]\nfiles = []\n", "unknown table 'allowlists' (did you mean 'allowlist'?)"),
    ("[allowlist]\nfingerprint = []\n", "unknown key in [allowlist] 'fingerprint' (did you mean 'fingerprints'?)"),
])
def test_bad_config_is_refused(tmp_path, body, message):
    """Each malformed setting gives a ConfigError that says what is wrong."""
    (tmp_path / "sprawlscan.toml").write_text(body)
    with pytest.raises(ConfigError, match=re.escape(message)):
        scan_options(Flags(), cwd=tmp_path, env={})


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRAWLSCAN_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "scanner", *args], cwd=cwd, capture_output=True,
                          text=True, env=env)


def test_sprawlscan_toml_allowlist_suppresses_by_fingerprint(tmp_path, rng):
    """A fingerprint listed in ./sprawlscan.toml is not reported; the other token still is."""
    a, b = github(rng), github(rng)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "t.txt").write_text(f"{a}\n{b}\n")
    (tmp_path / "sprawlscan.toml").write_text(f'[allowlist]\nfingerprints = ["{fingerprint(a)}"]\n')
    p = run(tmp_path, "scan", "--format", "json", "src")
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert [f["secret_sha256"] for f in doc["findings"]] == [fingerprint(b)]
    assert doc["summary"]["skipped"]["allowlisted"] == 1


def test_bad_sprawlscan_toml_is_one_line_exit_two(tmp_path):
    """A broken config file stops the scan with exit 2 and one line, no traceback."""
    (tmp_path / "sprawlscan.toml").write_text("[allowlist]\nfingerprints = 3\n")
    p = run(tmp_path, "scan", ".")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
