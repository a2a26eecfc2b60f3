"""Source: a secrets-manager export on disk (`vault-export:FILE`). Gives one chunk per stored value,
named by its key (`Chunk.key`), so a value counts when a rule matches it or when its key name
says it is a secret (see `scanner.declared`).

Reads, as JSON:
- the output of `vault kv get -format=json PATH`: KV v1 (`data` is the secret) or KV v2
  (`data.data` + `data.metadata`: `version`, `created_time`, `custom_metadata`);
- an object mapping paths to such outputs (`{"secret/agents/x": {...}}`; a bare `{key: value}`
  map is read as a KV v1 secret), or a list of outputs (each may carry its own `path`);
- AWS Secrets Manager `get-secret-value` output (`SecretString` as a JSON object or plain text;
  `SecretBinary` is skipped and counted), alone or in a list.
Locations: source `vault`, container = mount, path = `agents/x#KEY`, both the CLI form
(`secret/agents/x`) and the API form (`secret/data/agents/x`) normalised to mount `secret`, path
`agents/x`; the first path segment is taken as the mount. Secrets Manager values: source
`aws-secrets-manager`, container = region from the ARN, path = `NAME#KEY`, `historical` unless
the version is `AWSCURRENT`. Version metadata goes to `Location.attributes`.

Units (`scanner.units`): one per mount (Secrets Manager: per region), in order of first
appearance; a unit carries the mount's name only, and its task reads the file again (a unit
never carries a value)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import ConfigError
from scanner.model import Chunk, Location, ScanStats
from scanner.parsing import TooComplex, json_loads
from scanner.sources.base import Hit, Unit, read_json_export, refuse_export, scan_chunks

if TYPE_CHECKING:
    from scanner.engine import Engine

API_SEGMENTS = ("data", "metadata")


def _mount(path: str | None, item: dict[str, object]) -> tuple[str, str]:
    """Which unit an entry belongs to: (`vault`, mount) or (`aws-secrets-manager`, region)."""
    if "SecretString" in item or "SecretBinary" in item:
        arn = str(item.get("ARN") or "")
        return "aws-secrets-manager", arn.split(":")[3] if arn.count(":") >= 5 else ""
    return "vault", split_vault_path(path)[0] if path else ""


def _show(mount: tuple[str, str]) -> str:
    kind, name = mount
    return f"{'region' if kind != 'vault' else 'mount'} {name or '(none)'}"


def split_vault_path(path: str) -> tuple[str, str]:
    """`secret/data/agents/x` or `secret/agents/x` → (`secret`, `agents/x`)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        return "", ""
    mount, rest = parts[0], parts[1:]
    if len(rest) > 1 and rest[0] in API_SEGMENTS:
        rest = rest[1:]
    return mount, "/".join(rest)


def value_chunks(source: str, container: str, path: str, values: Mapping[str, object], *,
                 state: str = "live", attributes: tuple[tuple[str, str], ...] = (),
                 url: str | None = None) -> Iterator[Chunk]:
    """One chunk per key of one secret; non-string values are scanned as their JSON text."""
    for key, value in values.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        loc = Location(source, container, f"{path}#{key}", state=state, url=url,
                       attributes=attributes)
        yield Chunk(text.encode("utf-8"), (loc,), hint=str(key), key=str(key))


def kv_metadata(meta: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """The graph-relevant facts of KV v2 metadata as sorted string pairs."""
    out: dict[str, str] = {}
    for field in ("version", "created_time", "deletion_time", "destroyed", "updated_time",
                  "current_version", "oldest_version"):
        value = meta.get(field)
        if value not in (None, ""):
            out[field] = str(value).lower() if isinstance(value, bool) else str(value)
    custom = meta.get("custom_metadata")
    if isinstance(custom, Mapping):
        for k, v in custom.items():
            out[f"custom_metadata.{k}"] = str(v)
    return tuple(sorted(out.items()))


class VaultExportSource:
    """One export file; shapes are recognised per entry (see the module docstring)."""

    def __init__(self, file: str | Path) -> None:
        self.file = Path(file)
        self.name = str(file)
        self.refused: TooComplex | None = None
        try:
            self.doc = read_json_export(file, "vault export")
        except TooComplex as exc:
            self.doc, self.refused = {}, exc
        self.entries = [] if self.refused else list(self._entries(self.doc))

    def _entries(self, doc: object) -> Iterator[tuple[str | None, dict[str, object]]]:
        if isinstance(doc, list):
            for item in doc:
                if not isinstance(item, dict):
                    raise ConfigError(f"{self.file}: vault export list holds a non-object")
                yield item.get("path") if isinstance(item.get("path"), str) else None, item
        elif isinstance(doc, dict) and ("data" in doc or "SecretString" in doc or "SecretBinary" in doc):
            yield doc.get("path") if isinstance(doc.get("path"), str) else None, doc
        elif isinstance(doc, dict) and doc and all(isinstance(v, dict) for v in doc.values()):
            for path, item in doc.items():
                if "data" in item or "SecretString" in item or "SecretBinary" in item:
                    yield path, item
                else:
                    yield path, {"data": item}
        else:
            raise ConfigError(f"{self.file}: not a vault kv or Secrets Manager export")

    def units(self, stats: ScanStats) -> list[Unit]:
        """One unit per mount (AWS Secrets Manager: per region), in order of first appearance;
        a unit names the mount, never a value (a task reads the file again)."""
        if self.refused:
            refuse_export(self.file, self.refused, stats)
        mounts = list(dict.fromkeys(_mount(path, item) for path, item in self.entries))
        return [Unit(self.name, f"mount {i}/{len(mounts)}", f"{self.name} {_show(m)}", m, repos=())
                for i, m in enumerate(mounts, 1)]

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        """Every unit in order (what the split scan finds)."""
        for unit in self.units(stats):
            yield from self.mount(unit.data, stats)

    def scan_unit(self, unit: Unit, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        return scan_chunks(self.mount(unit.data, stats), engine, stats)

    def mount(self, mount: tuple[str, str], stats: ScanStats) -> Iterator[Chunk]:
        """The values of the entries under one mount (or region), in file order."""
        for i, (path, item) in enumerate(self.entries):
            if _mount(path, item) != mount:
                continue
            unit = path or f"{self.file.name}[{i}]"
            if "SecretString" in item or "SecretBinary" in item:
                yield from self._aws(item, stats)
                continue
            data = item.get("data")
            if not isinstance(data, dict):
                stats.errors.append(f"vault export {self.name}: {unit}: no `data` object")
                continue
            container, rel = split_vault_path(path) if path else ("", unit)
            if "data" in data and data["data"] is None and isinstance(data.get("metadata"), dict):
                stats.skip("vault-deleted-version")  # KV v2 output of a deleted version
            elif isinstance(data.get("data"), dict) and isinstance(data.get("metadata"), dict):
                yield from value_chunks("vault", container, rel, data["data"],
                                        attributes=kv_metadata(data["metadata"]))
            else:
                yield from value_chunks("vault", container, rel, data)

    def _aws(self, item: dict[str, object], stats: ScanStats) -> Iterator[Chunk]:
        arn = str(item.get("ARN") or "")
        name = str(item.get("Name") or arn.rsplit(":", 1)[-1] or self.file.name)
        region = arn.split(":")[3] if arn.count(":") >= 5 else ""
        stages = item.get("VersionStages")
        live = not isinstance(stages, list) or "AWSCURRENT" in stages
        attrs = tuple(sorted((k, str(v)) for k, v in (("created_time", item.get("CreatedDate")),
                                                      ("version", item.get("VersionId"))) if v))
        secret = item.get("SecretString")
        if not isinstance(secret, str):
            stats.skip("binary")
            return
        try:
            values = json_loads(secret)
        except ValueError:
            values = None
        state = "live" if live else "historical"
        if isinstance(values, dict):
            yield from value_chunks("aws-secrets-manager", region, name, values, state=state,
                                    attributes=attrs)
        else:
            # a plain SecretString is one value; its secret name is the key it is known by
            loc = Location("aws-secrets-manager", region, name, state=state, attributes=attrs)
            yield Chunk(secret.encode("utf-8"), (loc,), hint=name, key=name.rsplit("/", 1)[-1])
