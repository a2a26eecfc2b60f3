"""Incremental rescans: git blobs already scanned with the same rules are neither read nor scanned
again (proved by counters and by what `git cat-file` is asked for), their findings carry over,
and changing the rules invalidates the cache."""

from __future__ import annotations

from collections.abc import Sequence

from tokens import github, huggingface, openai_project

from scanner.model import KnownMatch, Match, ScanStats, fingerprint
from scanner.pipeline import ScanOptions, scan_and_record
from scanner.sources.base import SourceOptions
from scanner.sources.git_history import GitHistorySource
from scanner.store import Store


def locs(result):
    return {c.fingerprint: sorted((l.path, l.commit, l.line, l.state) for l in c.locations)
            for c in result.credentials}


def history_repo(make_repo, rng, n_files: int = 5):
    r = make_repo("inc")
    secrets = [github(rng), openai_project(rng)]
    r.write("old.py", f"K = '{secrets[0]}'\n")
    for i in range(n_files):
        r.write(f"src/m{i}.py", f"x = {i}\n")
    r.commit("init")
    r.write("conf/.env", f"OPENAI_API_KEY={secrets[1]}\n")
    r.write("old.py", "K = os.environ['K']\n")
    r.commit("move key to env")
    return r, secrets


def test_rescan_of_unchanged_repo_reads_no_blob_and_keeps_every_finding(tmp_path, make_repo, rng):
    """Second scan: zero blobs scanned, all counted as already-scanned, identical findings."""
    r, secrets = history_repo(make_repo, rng)
    with Store(tmp_path / "s.db") as store:
        _, first = scan_and_record([str(r.path)], ScanOptions(), store)
        _, second = scan_and_record([str(r.path)], ScanOptions(), store)
        events = [e["kind"] for e in store.events()]
    assert first.stats.blobs == 8 and first.stats.skipped == {}
    assert second.stats.blobs == 0 and second.stats.chunks == 0 and second.stats.bytes == 0
    assert second.stats.skipped == {"already-scanned": 8}
    assert locs(first) == locs(second)
    assert {fingerprint(s) for s in secrets} == set(locs(second))
    assert events == ["found", "found"]  # nothing went "gone" although no blob was read


def test_unchanged_refs_reuse_the_history_walk(tmp_path, make_repo, rng, monkeypatch):
    """No ref moved: the `git log` attribution pass is not run again; a new commit reruns it, and
    live/historical states follow HEAD either way."""
    r, secrets = history_repo(make_repo, rng)
    walks: list[int] = []
    real = GitHistorySource.attribution

    def spy(self, stats, *walked):
        walks.append(1)
        return real(self, stats, *walked)

    monkeypatch.setattr(GitHistorySource, "attribution", spy)
    with Store(tmp_path / "s.db") as store:
        _, first = scan_and_record([str(r.path)], ScanOptions(), store)
        _, second = scan_and_record([str(r.path)], ScanOptions(), store)
        assert len(walks) == 1 and locs(first) == locs(second)
        r.write("x.txt", "new\n")
        r.commit("x")
        _, third = scan_and_record([str(r.path)], ScanOptions(), store)
        assert len(walks) == 2 and third.stats.blobs == 1
        r.git("checkout", "-q", "HEAD~2")  # HEAD moves: the cached walk is not reused
        _, fourth = scan_and_record([str(r.path)], ScanOptions(), store)
        assert len(walks) == 3 and fourth.stats.blobs == 0
    assert [l[3] for l in locs(fourth)[fingerprint(secrets[0])]] == ["live"]


def test_only_new_blobs_are_read_and_cat_file_never_sees_old_ones(tmp_path, make_repo, rng,
                                                                  monkeypatch):
    """After one new commit, only its blobs go through `git cat-file`; old findings carry over
    with today's live/historical state."""
    r, secrets = history_repo(make_repo, rng)
    new = huggingface(rng)
    asked: list[list[str]] = []
    real = GitHistorySource.read_blobs

    def spy(self, ids, stats):
        asked.append(list(ids))
        return real(self, ids, stats)

    monkeypatch.setattr(GitHistorySource, "read_blobs", spy)
    with Store(tmp_path / "s.db") as store:
        scan_and_record([str(r.path)], ScanOptions(), store)
        r.write("conf/.env", f"HF_TOKEN={new}\n")
        r.commit("rotate")
        asked.clear()
        _, result = scan_and_record([str(r.path)], ScanOptions(), store)
    added_blob = r.git("rev-parse", "HEAD:conf/.env").strip()
    assert asked == [[added_blob]]
    assert result.stats.blobs == 1 and result.stats.skipped == {"already-scanned": 8}
    by_fp = locs(result)
    assert by_fp[fingerprint(new)][0][3] == "live"
    # the OpenAI key's blob was not read again, yet its copy is now reported historical
    assert [s for *_, s in by_fp[fingerprint(secrets[1])]] == ["historical"]


def test_changing_the_rules_invalidates_the_cache(tmp_path, make_repo, rng):
    """An extra rule file changes the rules digest: every blob is scanned again, and the new
    rule's finding appears; the next scan with the same rules is incremental again."""
    r, _ = history_repo(make_repo, rng)
    r.write("acme.txt", "token = acme_k3jq9zr2x8vb\n")
    r.commit("acme")
    rule = tmp_path / "acme.toml"
    rule.write_text("[[rule]]\nid='acme.key'\nprovider='acme'\npattern='(acme_[a-z0-9]{12})'\n"
                    "keywords=['acme_']\nexamples=['acme_k3jq9zr2x8vb']\n")
    with Store(tmp_path / "s.db") as store:
        _, plain = scan_and_record([str(r.path)], ScanOptions(), store)
        _, ruled = scan_and_record([str(r.path)], ScanOptions(rule_files=(rule,)), store)
        _, again = scan_and_record([str(r.path)], ScanOptions(rule_files=(rule,)), store)
        digests = {s.rules_digest for s in store.scans()}
    assert ruled.stats.blobs == plain.stats.blobs == 9 and "already-scanned" not in ruled.stats.skipped
    assert "acme.key" not in {c.rule_id for c in plain.credentials}
    assert "acme.key" in {c.rule_id for c in ruled.credentials}
    assert again.stats.blobs == 0 and again.stats.skipped["already-scanned"] == 9
    assert locs(again) == locs(ruled)
    assert len(digests) == 2


def test_binary_blobs_are_remembered_too(tmp_path, make_repo, rng):
    """A binary blob is read once, then counted as already scanned."""
    r = make_repo("bin")
    (r.path / "x.bin").write_bytes(b"\0\1" * 50)
    r.commit("bin")
    with Store(tmp_path / "s.db") as store:
        _, first = scan_and_record([str(r.path)], ScanOptions(), store)
        _, second = scan_and_record([str(r.path)], ScanOptions(), store)
    assert first.stats.skipped == {"binary": 1}
    assert second.stats.skipped == {"already-scanned": 1}


def test_allowlist_applies_to_carried_findings(tmp_path, make_repo, rng):
    """A credential carried over from the cache is still subject to today's allowlist."""
    r, secrets = history_repo(make_repo, rng)
    with Store(tmp_path / "s.db") as store:
        scan_and_record([str(r.path)], ScanOptions(), store)
        _, result = scan_and_record(
            [str(r.path)], ScanOptions(allowlist=frozenset({fingerprint(secrets[0])})), store)
    assert set(locs(result)) == {fingerprint(secrets[1])}
    assert result.stats.skipped["allowlisted"] == 1


class DictCache:
    """A minimal in-memory `BlobCache`: the protocol is all a source needs."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], list[KnownMatch]] = {}

    def warm(self, repo: str) -> bool:
        return any(r == repo for r, _ in self.seen)

    def known(self, repo: str, blob: str) -> bool:
        return (repo, blob) in self.seen

    def record(self, repo: str, blob: str, matches: Sequence[Match]) -> None:
        self.seen[(repo, blob)] = [KnownMatch.of(m) for m in matches]

    def matches(self, repo: str, blob: str) -> Sequence[KnownMatch]:
        return self.seen[(repo, blob)]

    def attribution(self, repo: str, refs_state: str):
        return None

    def save_attribution(self, repo, refs_state, first, missing) -> None:
        pass


def test_source_yields_carried_chunks_for_known_blobs(make_repo, rng):
    """The source hook: a known blob is a `carried` chunk with no data and all its locations."""
    r, _ = history_repo(make_repo, rng, n_files=1)
    cache = DictCache()
    old_blob = r.git("rev-parse", "HEAD~1:old.py").strip()
    cache.record("acme/inc", old_blob, [])
    stats = ScanStats()
    chunks = list(GitHistorySource(r.path, SourceOptions(blob_cache=cache)).chunks(stats))
    carried = [c for c in chunks if c.carried]
    assert [(c.blob, c.data, [l.path for l in c.locations]) for c in carried] == \
        [(old_blob, b"", ["old.py"])]
    assert stats.skipped == {"already-scanned": 1} and stats.blobs == len(chunks) - 1 == 3


def test_declared_secrets_from_the_structured_pass_carry_over(tmp_path, make_repo, rng):
    """A value found only because its name declares it a secret (`.env`, structured pass) is
    remembered with its blob: the rescan reads nothing and still reports it."""
    import string

    value = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
    r = make_repo("declared")
    r.write("deploy/.env", f"BILLING_API_KEY={value}\nLOG_LEVEL=info\n")
    r.commit("env")
    r.write("deploy/.env", "LOG_LEVEL=info\n")
    r.commit("rm")
    with Store(tmp_path / "s.db") as store:
        _, first = scan_and_record([str(r.path)], ScanOptions(), store)
        _, second = scan_and_record([str(r.path)], ScanOptions(), store)
        assert store.credential_status(fingerprint(value)) == "active"
    assert fingerprint(value) in locs(first), "the structured pass should find it"
    assert second.stats.blobs == 0 and locs(first) == locs(second)
    assert {c.rule_id for c in second.credentials} == {c.rule_id for c in first.credentials}


def test_jwt_expiry_evidence_survives_the_cache(tmp_path, make_repo, rng):
    """A JWT's `exp` (drawn from the plaintext at first read) is still there when the blob is
    carried over: the graph's expiry evidence does not depend on a rescan reading the blob."""
    import base64
    import json

    def b64(doc: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    sig = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_-") for _ in range(43))
    token = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': 'agent', 'exp': 1893456000})}.{sig}"
    r = make_repo("jwt")
    r.write("auth.env", f"AUTH_TOKEN={token}\n")
    r.commit("jwt")
    with Store(tmp_path / "s.db") as store:
        _, first = scan_and_record([str(r.path)], ScanOptions(), store)
        _, second = scan_and_record([str(r.path)], ScanOptions(), store)
    [c1] = [c for c in first.credentials if c.fingerprint == fingerprint(token)]
    [c2] = [c for c in second.credentials if c.fingerprint == fingerprint(token)]
    assert ("exp", "1893456000") in c1.captures
    assert second.stats.blobs == 0 and c2.captures == c1.captures
