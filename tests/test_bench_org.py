"""The scale benchmark's own parts (bench/bench_org.py), on a 5-repository org so they cannot rot
unnoticed: the generator, the GitHub-API + smart-HTTP server, one in-process scan, and the check
that fails the bench when the scan does not find exactly what was planted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import bench_org  # noqa: E402


@pytest.fixture
def small_org(tmp_path):
    root = tmp_path / "org"
    planted = bench_org.generate(root, 5)
    server = bench_org.OrgServer(root)
    yield root, planted, server.url
    server.stop()


def test_generator_plants_every_kind_and_is_reused(small_org):
    """Five repositories with a live key, a removed PAT, one token shared by two repositories and
    one in an issue body; a second `generate` with the same plan reuses the org."""
    root, planted, _ = small_org
    assert sorted(p.name for p in (root / "served").iterdir()) == \
        [f"{bench_org.repo_name(i)}.git" for i in range(5)]
    assert sorted(planted.values()) == [["acme/svc-00000"], ["acme/svc-00001"],
                                        ["acme/svc-00002", "acme/svc-00003"], ["acme/svc-00003"]]
    log = subprocess.run(["git", "-C", str(root / "served" / "svc-00001.git"), "log", "--oneline",
                          "main"], capture_output=True, text=True, check=True).stdout
    assert len(log.splitlines()) == 3
    stamp = (root / "served" / "svc-00000.git" / "HEAD").stat().st_mtime_ns
    assert bench_org.generate(root, 5) == planted
    assert (root / "served" / "svc-00000.git" / "HEAD").stat().st_mtime_ns == stamp


def test_in_process_scan_finds_exactly_what_was_planted(small_org, tmp_path):
    """`sprawlscan scan github:acme` against the bench server finds every planted credential in
    the repositories it was planted in, through the API listing, clones over HTTP and issues; the
    rescan on the same datastore finds the same; the check refuses a result missing one."""
    _, planted, url = small_org
    work = tmp_path / "work"
    work.mkdir()
    first = bench_org.scan_once(url, work, [], {"SPRAWLSCAN_WORKERS": "1"})
    bench_org.check(first, planted, "test")
    assert first.requests["api"] == 3 + 5 * 5 + 2  # owner, org, listing; 5 per repo; org secrets, members
    assert first.requests["git"] >= 10 and first.peaks["coordinator"] > 0
    second = bench_org.scan_once(url, work, [], {"SPRAWLSCAN_WORKERS": "1"})
    bench_org.check(second, planted, "test rescan")
    with pytest.raises(SystemExit, match="MISMATCH: 1 planted credential"):
        bench_org.check(first, {**planted, "0" * 64: ["acme/svc-00004"]}, "test")


def test_slopes_give_the_cost_of_one_more_repository(capsys):
    """Two org sizes of one mode give what one more repository adds to the coordinator's peak and
    to the datastore (and what a rescan adds); a single size gives no slope."""
    def row(n: int, kib: int, rescan_kib: int, db: int, db2: int) -> dict:
        return {"mode": "inproc", "repos": n, "coordinator_kib": kib, "rescan_coordinator_kib": rescan_kib,
                "db_bytes": {"file": db, "wal": 0}, "db_rescan_bytes": {"file": db2, "wal": 0}}

    [s] = bench_org.slopes([row(1000, 80_000, 81_000, 2_000_000, 2_100_000),
                            row(250, 74_000, 74_500, 500_000, 525_000)])
    assert (s["from_repos"], s["to_repos"]) == (250, 1000)
    assert s["coordinator_kib_per_repo"] == 8.0 and s["rescan_coordinator_kib_per_repo"] == round(6500 / 750, 2)
    assert s["db_bytes_per_repo"] == 2000 and s["db_rescan_growth_bytes_per_repo"] == 100
    assert bench_org.slopes([row(250, 1, 1, 1, 1)]) == []


def test_sqlite_bytes_names_the_file_and_its_wal(tmp_path):
    """The datastore's size is the file plus its write-ahead log, each reported."""
    (tmp_path / "scan.db").write_bytes(b"x" * 4096)
    assert bench_org.sqlite_bytes(tmp_path) == {"file": 4096, "wal": 0}
    (tmp_path / "scan.db-wal").write_bytes(b"x" * 100)
    assert bench_org.sqlite_bytes(tmp_path) == {"file": 4096, "wal": 100}
