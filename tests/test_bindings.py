"""Keyword binding beyond the value's own line: a Bearer header in any JSON / YAML document (a
Postman collection, a `headers` map) and a key passed to a client the file imports, the call
spread over lines. Names that bind nothing (a local class, a template reference) add nothing."""

from __future__ import annotations

import json

from tokens import ALNUM, HEX, _s

from scanner.model import fingerprint
from scanner.pipeline import ScanOptions, run_scan


def _scan(tmp_path, files: dict[str, str]) -> dict[str, tuple[str, str, int | None]]:
    root = tmp_path / "src"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    result = run_scan([str(root)], ScanOptions())
    return {c.fingerprint: (c.rule_id, c.locations[0].path, c.locations[0].line) for c in result.credentials}


def test_postman_bearer_header_binds_to_the_request_host(tmp_path, rng):
    """A Postman request's `Authorization: Bearer X` to api.mistral.ai is a Mistral key (a
    context-only format); to an unknown host it is a declared secret; a `{{token}}` reference
    is none."""
    mistral, opaque = _s(rng, 32), _s(rng, 40)

    def request(url: str, value: str) -> dict[str, object]:
        return {"name": "r", "request": {"method": "POST", "header": [
            {"key": "Content-Type", "value": "application/json"},
            {"key": "Authorization", "value": value, "type": "text"}],
            "url": {"raw": url, "host": url.split("/")[2].split(".")}}}

    collection = {"info": {"name": "demo", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
                  "item": [request("https://api.mistral.ai/v1/chat/completions", f"Bearer {mistral}"),
                           request("https://api.internal.example.org/v2/jobs", f"Bearer {opaque}"),
                           request("https://api.mistral.ai/v1/models", "Bearer {{token}}")]}
    text = json.dumps(collection, indent=2)
    got = _scan(tmp_path, {"demo.postman_collection.json": text})
    assert got[fingerprint(mistral)][:2] == ("mistral.api-key", "demo.postman_collection.json")
    assert got[fingerprint(mistral)][2] == text[:text.index(mistral)].count("\n") + 1
    assert got[fingerprint(opaque)][0] == "declared.secret"
    assert len(got) == 2


def test_headers_map_in_yaml_and_json_config(tmp_path, rng):
    """`headers: {Authorization: Bearer X}` in any YAML or JSON config is found; placeholders and
    references in the same place are not."""
    cohere, opaque = _s(rng, 40), _s(rng, 36)
    got = _scan(tmp_path, {
        "config/llm.yaml": f"provider:\n  base_url: https://api.cohere.com/v2\n  headers:\n"
                           f"    Authorization: Bearer {cohere}\n",
        "config/hooks.json": json.dumps({"hooks": [{"url": "https://hooks.example.net/x",
                                                    "headers": {"Authorization": f"Bearer {opaque}"}},
                                                   {"url": "https://hooks.example.net/y",
                                                    "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"}},
                                                   {"url": "https://hooks.example.net/z",
                                                    "headers": {"Authorization": "Bearer YOUR_TOKEN_HERE"}}]}),
    })
    assert got[fingerprint(cohere)][:2] == ("cohere.api-key", "config/llm.yaml")
    assert got[fingerprint(opaque)][:2] == ("declared.secret", "config/hooks.json")
    assert len(got) == 2


def test_call_argument_binds_to_the_imported_client(tmp_path, rng):
    """`Mistral(\\n api_key=...)`, `cohere.ClientV2(...)`, `from wandb import login` ...
    `login(key=...)`, `new Mistral({apiKey})` in TypeScript: each bound through the import."""
    keys = {"py_mistral": _s(rng, 32), "py_cohere": _s(rng, 40), "py_wandb": _s(rng, 40, HEX),
            "ts_mistral": _s(rng, 32)}
    got = _scan(tmp_path, {
        "agent.py": ("import os\nfrom mistralai import Mistral\nimport cohere\nfrom wandb import login\n\n"
                     "client = Mistral(\n    api_key=\"" + keys["py_mistral"] + "\",\n    timeout_ms=30_000,\n)\n"
                     "co = cohere.ClientV2(\n    timeout=10,\n    api_key='" + keys["py_cohere"] + "',\n)\n"
                     "login(\n    key=\"" + keys["py_wandb"] + "\", relogin=True)\n"),
        "agent.ts": ('import { Mistral } from "@mistralai/mistralai";\n\nconst client = new Mistral({\n'
                     '  apiKey: "' + keys["ts_mistral"] + '",\n});\n'),
    })
    assert got[fingerprint(keys["py_mistral"])][:3] == ("mistral.api-key", "agent.py", 7)
    assert got[fingerprint(keys["py_cohere"])][:2] == ("cohere.api-key", "agent.py")
    assert got[fingerprint(keys["py_wandb"])][:2] == ("wandb.legacy-key", "agent.py")
    assert got[fingerprint(keys["ts_mistral"])][:3] == ("mistral.api-key", "agent.ts", 4)
    assert len(got) == 4


def test_call_arguments_that_bind_nothing(tmp_path, rng):
    """A client class the file defines or imports from an unknown module, a function default,
    a made-up test key, an environment read: no finding."""
    got = _scan(tmp_path, {
        "app.py": ("from myapp.clients import Client\nimport os\n\n"
                   "class Mistral:\n    def __init__(self, api_key=\"" + _s(rng, 32) + "\"):\n        pass\n\n"
                   "c = Client(\n    api_key=\"" + _s(rng, 32) + "\",\n)\n"
                   "m = Mistral(api_key=os.environ[\"MISTRAL_API_KEY\"])\n"),
        "tests/test_client.py": ("from mistralai import Mistral\n\n"
                                 "def test_x():\n    client = Mistral(\n        api_key=\"test-api-key-0000\",\n    )\n"),
    })
    assert got == {}


def test_bindings_in_git_history(make_repo, rng):
    """A client key and a Postman Bearer header committed and then removed are found in history,
    attributed to the commit and path that brought them."""
    key, token = _s(rng, 32), _s(rng, 40)
    repo = make_repo("agent")
    repo.write("agent.py", "from mistralai import Mistral\n\nclient = Mistral(\n    api_key=\"" + key + "\",\n)\n")
    repo.write("api.postman_collection.json", json.dumps({"item": [{"request": {
        "header": [{"key": "Authorization", "value": f"Bearer {token}"}],
        "url": {"raw": "https://api.internal.example.org/v1/x"}}}]}, indent=2))
    repo.commit("first try")
    repo.write("agent.py", "import os\nfrom mistralai import Mistral\n\n"
                           "client = Mistral(api_key=os.environ[\"MISTRAL_API_KEY\"])\n")
    repo.git("rm", "-q", "api.postman_collection.json")
    repo.commit("read the key from the environment")
    result = run_scan([str(repo.path)], ScanOptions())
    got = {c.fingerprint: c for c in result.credentials}
    assert got[fingerprint(key)].rule_id == "mistral.api-key"
    assert got[fingerprint(token)].rule_id == "declared.secret"
    for value, path in ((key, "agent.py"), (token, "api.postman_collection.json")):
        locs = got[fingerprint(value)].locations
        assert [(loc.path, loc.state) for loc in locs] == [(path, "historical")]
        assert locs[0].commit


_BIND_PIECES = ["import ", "require(", "from mistralai ", "Mistral", "COHERE", "openai", "Authorization",
                "Bearer ", "token ", "x = 1", "\n", "mis", "tral", "anthropic", "sk-", "ghp_", "EAAA"]


def test_bindable_from_the_engines_keyword_hits_equals_its_own_search():
    """The history scan tells `bindable` (and `binding_kinds`, the same test) which keywords the
    engine's prefilter just found instead of searching the blob again: the answer is the same
    on both backends, any case, any mix."""
    import random

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from detectors.loader import load_rules
    from scanner.bindings import bindable, binding_kinds
    from scanner.engine import Engine

    rules = load_rules()
    engines = [Engine(rules, backend="hyperscan"), Engine(rules, backend="regex")]
    answers: set[bool] = set()

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(_BIND_PIECES), max_size=8), st.randoms(use_true_random=False))
    def check(pieces: list[str], rnd: random.Random) -> None:
        text = "".join(p.upper() if rnd.random() < 0.3 else p for p in pieces).encode()
        for engine in engines:
            engine.scan(text)
            fast = bindable(text, engine, engine.last_keywords)
            assert fast == bindable(text, engine)
            assert binding_kinds(text, engine, engine.last_keywords)[0] == fast
            answers.add(fast)

    check()
    assert answers == {True, False}


_CALL_PIECES = ["import x\n", "key", "Key", "token", "secret", " ", "\t", "\n", "=", ":", "\"", "'", "`",
                "\\", "abcdefgh", "é", "(", "Mistral(", ","]
_CALL_NAMES = ["api_key", "apiKey", "key", "token", "apiToken", "secret", "secretKey", "akey", "keys", "x", ""]
_CALL_BODIES = ["abcdefgh", "abcdefg", "abc defgh", "abcd\\efgh", "éééééééé", "😀" * 8, "é" * 200, "x" * 257,
                "abc=defgh", "abcd:", "abcdefgh'"]


def test_call_key_prefilter_never_skips_a_text_the_call_pass_reads():
    """`has_call_key`, the byte test that spares the call pass most code, is true on every text
    where `call_matches` would look for a client (a quoted value right after an argument name),
    with Hyperscan and with `re`, whatever the spaces, quotes, non-ASCII bodies (more bytes
    than characters) or values nested in values."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scanner import bindings

    def reads(text: str) -> bool:  # the test `call_matches` applies before tracing a callee
        return any(bindings._ARG.search(text, max(0, v.start() - 40), v.start())
                   for v in bindings._VALUE.finditer(text))

    answers: set[bool] = set()

    pieces = st.lists(st.sampled_from(_CALL_PIECES), max_size=6).map("".join)
    spaces = st.sampled_from(["", " ", "\t", "  ", "\n"])

    @settings(max_examples=1500, deadline=None, derandomize=True)
    @given(pieces, st.sampled_from(_CALL_NAMES), spaces, st.sampled_from("=:;"), spaces,
           st.sampled_from("\"'`("), st.sampled_from(_CALL_BODIES), st.sampled_from("\"'`)"), pieces)
    def check(before: str, name: str, s1: str, sep: str, s2: str, q1: str, body: str, q2: str,
              after: str) -> None:
        text = "import x\n" + before + name + s1 + sep + s2 + q1 + body + q2 + after
        data = text.encode()
        fast, slow = bindings._keyed_values(data), bindings._keyed_values_slow(data)
        assert set(fast) == set(slow)
        assert bool(bindings._keyed_values(data, first=True)) == bool(slow)
        if reads(text):
            assert bindings.has_call_key(data)
        answers.add(reads(text))

    check()
    assert answers == {True, False}
    assert bindings._KEYED_HS[0] is not None  # the Hyperscan path was the one compared


def test_history_bindings_come_from_the_scan_itself(make_repo, rng, monkeypatch):
    """A history scan binds call arguments and Bearer headers while it reads each blob: code and
    plain JSON are not read from git a second time, and what a blob gives is kept only under a
    name of the right kind (the same call in a `.txt` file, the same header in a `.md`, give
    nothing), written with spaces, tabs and `apiKey:` alike."""
    from scanner.sources.git_history import GitHistorySource

    keys = [_s(rng, 32) for _ in range(3)]
    token, stray_key, stray_token = _s(rng, 40), _s(rng, 32), _s(rng, 40)
    repo = make_repo("agent")
    repo.write("agent.py", "from mistralai import Mistral\n\nclient = Mistral(\n    api_key = '" + keys[0]
               + "',\n)\nother = Mistral(api_key\t=\t\"" + keys[1] + "\")\n")
    repo.write("agent.ts", 'import { Mistral } from "@mistralai/mistralai";\nconst c = new Mistral({\n'
                           '  apiKey:   `' + keys[2] + '`,\n});\n')
    repo.write("api.json", json.dumps({"url": "https://api.internal.example.org/v1",
                                       "headers": {"Authorization": f"Bearer {token}"}}))
    repo.write("notes.txt", "from mistralai import Mistral\n\nclient = Mistral(\n    api_key = '" + stray_key
               + "',\n)\n")
    repo.write("notes.md", json.dumps({"url": "https://api.internal.example.org/v1",
                                       "headers": {"Authorization": f"Bearer {stray_token}"}}))
    repo.commit("add")
    repo.git("rm", "-q", "agent.py", "agent.ts", "api.json")
    repo.commit("remove")
    read: list[str] = []
    original = GitHistorySource.read_blobs

    def spy(self, ids, stats):
        read.extend(ids)
        return original(self, ids, stats)

    monkeypatch.setattr(GitHistorySource, "read_blobs", spy)
    result = run_scan([str(repo.path)], ScanOptions())
    got = {c.fingerprint: c for c in result.credentials}
    for key in keys:
        assert got[fingerprint(key)].rule_id == "mistral.api-key"
        assert [loc.state for loc in got[fingerprint(key)].locations] == ["historical"]
    assert got[fingerprint(token)].rule_id == "declared.secret"
    assert fingerprint(stray_key) not in got and fingerprint(stray_token) not in got
    assert len(got) == 4
    assert read == []  # no blob was read twice (no .env, YAML or config JSON in this history)


def test_call_pass_reads_only_the_lines_that_can_hold_a_key(rng):
    """`call_matches` over the lines `call_keys` names finds exactly what it finds over the whole
    text: values after `=` / `:`, values nested in values, a name on the line above its `=`,
    non-ASCII text before (bytes and characters differ), with Hyperscan and with `re`."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from detectors.loader import load_rules
    from scanner import bindings
    from scanner.engine import Engine

    engine = Engine(load_rules())
    key = _s(rng, 32)
    noise = st.lists(st.sampled_from(["\n", "é", "😀", "x = 'abcdefghij'\n", '"ab=', "key", ":", ")", "\\"]),
                     max_size=5).map("".join)
    answers: set[bool] = set()

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(noise, st.sampled_from(["c = Mistral(", "c = Mistral(\n    ", "new Mistral({", "x("]),
           st.sampled_from(["api_key", "apiKey", "key", "akey", ""]), st.sampled_from(["", " ", "\n", "\t"]),
           st.sampled_from("=:"), st.sampled_from(["", " "]),
           st.sampled_from(["'{k}'", '"{k}"', "`{k}`", "'{k}\"", '"ab={k}"', "'{k} x'"]), noise)
    def check(before: str, call: str, name: str, s1: str, sep: str, s2: str, value: str, after: str) -> None:
        text = ("from mistralai import Mistral\n" + before + call + name + s1 + sep + s2
                + value.format(k=key) + ")\n" + after)
        data = text.encode()
        whole = list(bindings.call_matches(text, engine))
        for ends in (bindings.call_keys(data), bindings._keyed_values_slow(data)):
            assert list(bindings.call_matches(text, engine, bindings.line_spans(data, text, ends))) == whole
        answers.add(bool(whole))

    check()
    assert answers == {True, False}


def test_header_name_in_any_case_is_found_in_history_as_in_a_folder(make_repo, rng):
    """`"AUTHORIZATION": "Bearer X"` in a committed JSON config: the history scan's cheap test
    before the header pass read the name case-sensitively, so `git:` missed what a folder scan
    finds (the header pass itself reads the name in any case)."""
    tokens = {name: _s(rng, 40) for name in ("AUTHORIZATION", "Authorization", "authorization")}
    r = make_repo("hooks")
    for i, (name, tok) in enumerate(tokens.items()):
        r.write(f"config/hooks-{i}.json",
                json.dumps({"hooks": [{"url": "https://hooks.example.net/x",
                                       "headers": {name: f"Bearer {tok}"}}]}))
    r.commit("hooks")
    for target in (str(r.path), f"git:{r.path}"):
        found = {c.fingerprint: c.rule_id for c in run_scan([target], ScanOptions()).credentials}
        assert {fingerprint(t): "declared.secret" for t in tokens.values()}.items() <= found.items(), target
