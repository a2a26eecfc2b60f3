"""The history walk alone attributes a repository when `rev-list --objects` could add nothing
(`GitHistorySource.walk_saw_all`): then the attribution, the unreachable blobs and the
missing-object count are exactly what running it gives; whenever a ref, a tag, a reflog entry or
the object store could hide something from the walk, it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.model import ScanStats, fingerprint
from scanner.sources.git_history import GitHistorySource


def attribution(path: Path, *, forced: bool) -> tuple[object, ...]:
    """(paths, unreachable, skips, errors, whether rev-list ran) of the fast path's attribution;
    `forced`: rev-list always runs (the code before `walk_saw_all`)."""
    src = GitHistorySource(path)
    stats = ScanStats()
    listing = src.list_objects(stats)
    ran: list[bool] = []
    add_tagged = src.add_tagged

    def spy(attr, st):  # noqa: ANN001, ANN202
        ran.append(True)
        add_tagged(attr, st)

    src.add_tagged = spy  # type: ignore[method-assign]
    if forced:
        src.walk_saw_all = lambda *a: None  # type: ignore[method-assign]
    attr = src.attribution(stats, listing=listing)
    return attr.first, attr.unreachable, dict(stats.skipped), list(stats.errors), bool(ran)


def base(make_repo):
    r = make_repo("walk")
    r.write("app.py", "print('one')\n")
    r.write("pkg/__init__.py", "")
    r.commit("one")
    r.write("app.py", "print('two')\n")
    r.write("conf.yml", "a: 1\n")
    r.commit("two")
    r.git("checkout", "-q", "-b", "side", "HEAD~1")
    r.write("side.py", "x = 1\n")
    r.commit("side")
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--no-edit", "side")
    r.git("tag", "-a", "-m", "v1", "v1")
    return r


def lose(r, sha: str) -> None:
    """Delete a loose object from the store (a corrupt or partial copy)."""
    obj = r.path / ".git" / "objects" / sha[:2] / sha[2:]
    obj.unlink()


def tree_of(r, name: str, text: str) -> tuple[str, str]:
    """(tree, blob): a tree holding one new blob that no commit holds."""
    blob = r.git("hash-object", "-w", "--stdin", input_text=text).strip()
    tree = r.git("mktree", input_text=f"100644 blob {blob}\t{name}\n").strip()
    return tree, blob


def plain(r) -> None:
    pass


def missing_blob(r) -> None:
    r.write("big.bin.txt", "payload\n")
    r.commit("big")
    lose(r, r.git("rev-parse", "HEAD:big.bin.txt").strip())


def gitlink(r) -> None:
    sub = r.git("rev-parse", "HEAD~1").strip()
    r.git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 39}2,vendor/lib")
    r.git("update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/self")
    r.git("commit", "-q", "-m", "submodules")


def tag_tree(r) -> None:
    tree, _ = tree_of(r, "only.txt", "only under a tag\n")
    r.git("tag", "tree-tag", tree)


def tag_tree_missing(r) -> None:
    tree, blob = tree_of(r, "gone.txt", "lost under a tag\n")
    r.git("tag", "-a", "-m", "t", "tree-tag", tree)
    lose(r, blob)


def tag_blob(r) -> None:
    blob = r.git("hash-object", "-w", "--stdin", input_text="tagged blob\n").strip()
    r.git("tag", "blob-tag", blob)


def nested_tag(r) -> None:
    r.git("tag", "-a", "-m", "outer", "outer", "v1")


def reflog_tree_missing(r) -> None:
    r.git("config", "core.logAllRefUpdates", "always")
    tree, blob = tree_of(r, "gone.txt", "lost under a reflog entry\n")
    r.git("update-ref", "refs/scratch", tree)
    r.git("update-ref", "refs/scratch", "HEAD")
    lose(r, blob)


def loose_blob(r) -> None:
    r.git("hash-object", "-w", "--stdin", input_text="nobody names me\n")


def worktree(r) -> None:
    r.git("worktree", "add", "-q", "--detach", str(r.path.parent / "wt"), "HEAD~1")


CASES = [  # (change, whether the walk alone may attribute the repository)
    (plain, True), (missing_blob, True), (gitlink, True),
    (tag_tree, False), (tag_tree_missing, False), (tag_blob, False), (nested_tag, False),
    (reflog_tree_missing, False), (loose_blob, False), (worktree, False),
]


@pytest.mark.parametrize(("change", "alone"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_walk_alone_attributes_as_rev_list_does(make_repo, change, alone):
    r = base(make_repo)
    change(r)
    *got, ran = attribution(r.path, forced=False)
    *want, forced_ran = attribution(r.path, forced=True)
    assert forced_ran
    assert got == want
    assert ran is not alone


def test_missing_objects_are_counted_without_rev_list(make_repo):
    """The count the walk gives is rev-list's: a lost blob, not the submodule commits."""
    r = base(make_repo)
    gitlink(r)
    missing_blob(r)
    paths, _, skipped, errors, ran = attribution(r.path, forced=False)
    assert not ran and not errors
    assert skipped == {"missing-object": 1}
    assert "1" * 39 + "2" in paths  # a gitlink stays attributed, as before


def test_hidden_blob_under_a_ref_is_found_by_the_scan(make_repo, rng):
    """End to end: a credential only a tag's tree holds is still reported with its path."""
    from tokens import github

    from scanner.pipeline import run_scan

    r = base(make_repo)
    secret = github(rng)
    tree, _ = tree_of(r, "only.py", f"TOKEN = '{secret}'\n")
    r.git("tag", "tree-tag", tree)
    result = run_scan([str(r.path)])
    [cred] = [c for c in result.credentials if c.fingerprint == fingerprint(secret)]
    assert [loc.path for loc in cred.locations] == ["only.py"]


def test_a_planted_fifo_or_huge_reflog_is_not_read(make_repo, monkeypatch):
    """A reflog that is a named pipe (reading it would wait for ever) or larger than the bound
    is not read: rev-list runs instead, and the attribution is the same."""
    import os

    import scanner.sources.git_history as gh

    r = base(make_repo)
    fifo = r.path / ".git" / "logs" / "refs" / "trap"
    os.mkfifo(fifo)
    import threading

    out: list[tuple[object, ...]] = []
    reader = threading.Thread(target=lambda: out.append(attribution(r.path, forced=False)),
                              daemon=True)
    reader.start()
    reader.join(60)
    assert out, "the scan waited on the FIFO"
    *got, ran = out[0]
    assert ran and got == list(attribution(r.path, forced=True)[:-1])
    fifo.unlink()
    *got, ran = attribution(r.path, forced=False)
    assert not ran
    monkeypatch.setattr(gh, "MAX_REFLOG_BYTES", 100)
    *got, ran = attribution(r.path, forced=False)
    assert ran and got == list(attribution(r.path, forced=True)[:-1])
