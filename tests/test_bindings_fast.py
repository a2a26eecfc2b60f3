"""The structured pass's byte tests and import readers (`scanner.bindings`, `scanner.manifests`)
in their fast forms give what their first forms gave, kept here as the references, on generated
inputs: Hyperscan passes that stop early instead of `re` / `bytes.find` over the whole blob, and
`(?m)^` patterns that jump from newline to newline instead of trying every character."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import bindings, manifests

# the first forms (sprawlscan 456dbc0)
OLD_HAS_BEARER = re.compile(rb"(?i)authorization[\"']?\s*[:=,]")
OLD_BEARER_VALUE = re.compile(rb"(?:Bearer|Token|token) [A-Za-z0-9]")
OLD_K8S_SECRET = re.compile(rb"(?m)^\s*kind:\s*[\"']?Secret[\"']?\s*$")
OLD_COMPOSE_ENV = re.compile(rb"(?m)^services:\s*$")
OLD_PY_FROM = re.compile(r"(?m)^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)")
OLD_PY_IMPORT = re.compile(r"(?m)^[ \t]*import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+"
                           r"(?:[ \t]+as[ \t]+\w+)?)*)")


def old_has_bearer(data: bytes) -> bool:
    return OLD_HAS_BEARER.search(data) is not None and OLD_BEARER_VALUE.search(data) is not None


def old_secret_or_compose(data: bytes) -> bool:
    return bool((b"Secret" in data and b"kind:" in data and OLD_K8S_SECRET.search(data))
                or (b"services:" in data and OLD_COMPOSE_ENV.search(data)))


def old_imports_something(data: bytes) -> bool:
    return b"import" in data or b"require(" in data


# every byte class the patterns tell apart: the name in any case (and near misses), quotes, each
# whitespace byte of `\s` (and ones it excludes: \x1c, \x85, \xa0), separators, value starts,
# non-ASCII bytes
_NAMES = [b"authorization", b"Authorization", b"AUTHORIZATION", b"AuThOrIzAtIoN", b"uthorization",
          b"authorizatio", b"xauthorization", b"\xe2\x84\xaaauthorization"]
_SPACES = [b" ", b"\t", b"\n", b"\x0b", b"\x0c", b"\r", b"\x1c", b"\x85", b"\xa0"]
_SCHEMES = [b"Bearer", b"Token", b"token", b"TOKEN", b"bearer", b"Bearer_", b"xToken"]
_NOISE = [b"\"", b"'", b":", b"=", b",", b"a", b"Z", b"9", b"_", b"-", b"\xc3\xa9", b"\xff", b"\x00", b"K",
          b"Bearer a", b"authorization:"]
_noise = st.lists(st.one_of(st.sampled_from(_NOISE + _SPACES), st.binary(max_size=2)), max_size=4).map(b"".join)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(_noise, st.sampled_from(_NAMES), st.sampled_from([b"", b"\"", b"'", b"''", b"`"]),
       st.lists(st.sampled_from(_SPACES), max_size=3).map(b"".join), st.sampled_from([b":", b"=", b",", b";", b""]),
       _noise, st.sampled_from(_SCHEMES), st.sampled_from([b" ", b"  ", b"\t", b""]),
       st.sampled_from([b"a", b"Z", b"9", b"_", b"-", b"\xc3\xa9", b"\xff", b""]), _noise, st.booleans())
def test_has_bearer_is_the_two_regexes(before, name, quote, spaces, sep, middle, scheme, gap, start, after,
                                       value_first):
    """`has_bearer` (one Hyperscan pass for both patterns, stopped once both matched) is true
    exactly where the two `re` searches both match: any case of the name, every whitespace byte,
    either pattern alone, both in either order."""
    header, value = name + quote + spaces + sep, scheme + gap + start
    data = before + (value + middle + header if value_first else header + middle + value) + after
    assert bindings.has_bearer(data) == old_has_bearer(data)


def test_has_bearer_examples_and_the_hyperscan_path():
    """Both answers occur, each pattern alone is not enough, and Hyperscan was the path compared."""
    assert bindings.has_bearer(b'{"AUTHORIZATION"\x0b: "Bearer x"}')
    assert bindings.has_bearer(b"token abc ... authorization=")
    assert not bindings.has_bearer(b'{"authorization": "Basic x"}')
    assert not bindings.has_bearer(b'{"auth": "Bearer x"}')
    assert not bindings.has_bearer(b'{"authorization"\x1c: "Bearer x"}')  # \x1c is no `\s` in bytes
    assert bindings._COMPILED["bearer"] is not None


_CODE_PIECES = [b"import", b"impor", b"mport", b"IMPORT", b"require(", b"require", b"(", b"require (", b"x",
                b"\n", b"\x00", b"\xff"]


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.sampled_from(_CODE_PIECES), st.binary(max_size=2)), max_size=10).map(b"".join))
def test_imports_something_is_the_two_finds(data):
    """`_imports_something` (Hyperscan, stopped at the first) is `import` or `require(` in the
    bytes, case-sensitive, either one, anywhere."""
    assert bindings._imports_something(data) == old_imports_something(data)


def old_call_keys(data: bytes) -> list[int]:
    return bindings._keyed_values(data) if old_imports_something(data) else []


_KEY_NOISE = st.lists(st.sampled_from([b" ", b"\n", b"=", b"'", b"abcdefgh", b"\xc3\xa9", b"import", b"key"]),
                     max_size=3).map(b"".join)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(_KEY_NOISE, st.sampled_from([b"", b"import x\n", b"require(", b"impor", b"require (", b"IMPORT"]),
       st.sampled_from([b"api_key", b"token", b"Key", b"secret", b"x"]), st.sampled_from([b"", b" ", b"\n", b"\t"]),
       st.sampled_from([b"=", b":", b";"]), st.sampled_from([b"'", b"\"", b"`", b""]),
       st.sampled_from([b"abcdefgh", b"abc", b"abcd\\efgh", b"\xc3\xa9" * 4]), _KEY_NOISE, st.booleans())
def test_call_keys_tests_the_import_second(before, imp, name, space, sep, quote, body, after, import_last):
    """`call_keys` with the import tested after the keyed values gives the ends it gave with the
    import tested first: none without an import (or `require(`), all of them with one."""
    keyed = name + space + sep + quote + body
    data = before + (keyed + after + imp if import_last else imp + keyed + after)
    assert bindings.call_keys(data) == old_call_keys(data)


def test_call_keys_examples():
    assert bindings.call_keys(b"key = 'abcdefgh'\n") == []
    assert bindings.call_keys(b"import x\nkey = 'abcdefgh'\n") == [24]


def test_imports_something_examples():
    assert bindings._imports_something(b"x = require('openai')")
    assert bindings._imports_something(b"\n" * 100_000 + b"import os")
    assert not bindings._imports_something(b"IMPORT os; require ('x')")
    assert bindings._COMPILED["code"] is not None


_YAML_PIECES = [b"kind:", b"kind: ", b"Kind:", b"Secret", b"secret", b"SecretList", b"services:", b"services",
                b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"\x1c", b"\xa0", b"\"", b"'", b"x", b"-", b"\r\n",
                b"\nkind: Secret\n", b"\nservices:\n", b"  kind: 'Secret'", b"\xff"]


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.sampled_from(_YAML_PIECES), st.binary(max_size=2)), max_size=10).map(b"".join))
def test_secret_or_compose_is_the_two_regexes(data):
    """`manifests._secret_or_compose` (one Hyperscan pass, stopped at the first match) is true
    exactly where a `kind: Secret` line or a `services:` line is, as the multiline `re` patterns
    read them: at the first or last line, quoted, spaces of every kind around, a line break
    inside (`\\s` spans lines), `\\r\\n` endings, near misses."""
    assert manifests._secret_or_compose(data) == old_secret_or_compose(data)


def test_secret_or_compose_examples():
    assert manifests._secret_or_compose(b"apiVersion: v1\nkind: Secret\ndata: {}\n")
    assert manifests._secret_or_compose(b"x: 1\nservices:")
    assert manifests._secret_or_compose(b"kind:\n\n  'Secret'  \n")
    assert not manifests._secret_or_compose(b"kind: Secret # the object\n")
    assert manifests._secret_or_compose(b"kind: Secret\r\n")  # `\\s*` takes the `\\r`
    assert not manifests._secret_or_compose(b"kind: Secret\x1c\n")  # no `\\s` in bytes
    assert not manifests._secret_or_compose(b"  services:\n")
    assert bindings._COMPILED["k8s-compose"] is not None


_PY_PIECES = ["from", "import", " ", "\t", "\n", "\r", "(", ")", "#", "a", "b.c", ",", " as ", "x", "é", "*",
              "\n\n", "from a import (b,\nc)\n", "from a import (b,\nfrom c import d)\n", "from a import (\n",
              ")\n", "import a, b as c\n", "  from x.y import z  # c\n", "from (", "\nfrom", "\nimport", ".",
              "\u2028", "\x0b"]


@settings(max_examples=4000, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_PY_PIECES), max_size=16).map("".join))
def test_line_start_imports_are_the_multiline_patterns(text):
    """`_PY_FROM` / `_PY_IMPORT` (a newline-led pattern, the first line read apart) find what
    the `(?m)^` patterns found, in the same order: an import on the first line, parenthesised
    names spanning lines (an import line inside them is not read again), comments, blank lines."""
    assert bindings._PY_FROM.findall(text) == OLD_PY_FROM.findall(text)
    assert bindings._PY_IMPORT.findall(text) == OLD_PY_IMPORT.findall(text)


def test_line_start_imports_examples():
    text = "from a import (b,\nfrom c import d)\nimport e.f as g, h\n  from i.j import k  # l\nx = 'from m import n'\n"
    assert bindings._PY_FROM.findall(text) == [("a", "(b,\nfrom c import d)"), ("i.j", "k  ")]
    assert bindings._PY_IMPORT.findall(text) == ["e.f as g, h"]
    assert bindings._imports(text) == {"b": "a", "d": "a", "k": "i.j", "g": "e.f", "h": "h"}
