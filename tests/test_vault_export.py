"""vault-export:FILE: `vault kv get -format=json` outputs (KV v1, v2, path maps, lists) and AWS
Secrets Manager `get-secret-value` JSON become credentials with vault locations and metadata."""

from __future__ import annotations

import json
import string
import subprocess
import sys

import pytest
from tokens import anthropic, openai_project

from scanner.errors import ConfigError
from scanner.model import fingerprint
from scanner.pipeline import run_scan
from scanner.sources.vault_export import VaultExportSource, split_vault_path


def _random(rng, n=32):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def kv2(data, version=3, custom=None):
    return {"request_id": "9a1d", "lease_id": "", "lease_duration": 0, "renewable": False,
            "data": {"data": data, "metadata": {"created_time": "2025-03-01T10:00:00.000Z",
                                                "custom_metadata": custom, "deletion_time": "",
                                                "destroyed": False, "version": version}},
            "warnings": None}


def kv1(data):
    return {"request_id": "77aa", "lease_id": "", "lease_duration": 2764800, "renewable": False,
            "data": data, "warnings": None}


def scan(tmp_path, doc):
    f = tmp_path / "export.json"
    f.write_text(json.dumps(doc))
    return {c.fingerprint: c for c in run_scan([f"vault-export:{f}"]).credentials}


def test_split_vault_path():
    """CLI and API forms name the same place."""
    assert split_vault_path("secret/data/agents/x") == ("secret", "agents/x")
    assert split_vault_path("secret/agents/x") == ("secret", "agents/x")
    assert split_vault_path("/kv/metadata/a/b/") == ("kv", "a/b")
    assert split_vault_path("secret/data") == ("secret", "data")


def test_path_map_of_kv1_and_kv2(tmp_path, rng):
    """A map of paths: API-form and CLI-form paths normalise to mount + path; v2 metadata
    (created_time, version, custom_metadata) lands in the location's attributes; a value counts
    by rule or by key name, and other values do not."""
    key, pw = openai_project(rng), _random(rng)
    fps = scan(tmp_path, {
        "secret/data/agents/support": kv2({"OPENAI_API_KEY": key, "MODEL": "gpt-4o-mini-2024"},
                                          custom={"expires": "2026-01-01", "owner": "ml"}),
        "legacy/db/main": kv1({"password": pw, "port": 5432}),
    })
    assert set(fps) == {fingerprint(key), fingerprint(pw)}
    [loc] = fps[fingerprint(key)].locations
    assert (loc.source, loc.container, loc.path, loc.state) == \
        ("vault", "secret", "agents/support#OPENAI_API_KEY", "live")
    assert dict(loc.attributes) == {"created_time": "2025-03-01T10:00:00.000Z",
                                    "custom_metadata.expires": "2026-01-01",
                                    "custom_metadata.owner": "ml", "destroyed": "false",
                                    "version": "3"}
    assert fps[fingerprint(key)].rule_id == "openai.project"
    db = fps[fingerprint(pw)]
    assert (db.rule_id, db.provider) == ("declared.secret", "unknown")
    assert [(x.container, x.path) for x in db.locations] == [("legacy", "db/main#password")]


def test_single_output_and_list(tmp_path, rng):
    """One `vault kv get` output (no path in it) and a list of outputs with `path` fields."""
    a, b = anthropic(rng), _random(rng)
    fps = scan(tmp_path, kv2({"ANTHROPIC_API_KEY": a}))
    [loc] = fps[fingerprint(a)].locations
    assert (loc.container, loc.path) == ("", "export.json[0]#ANTHROPIC_API_KEY")
    fps = scan(tmp_path, [dict(kv1({"SERVICE_TOKEN": b}), path="kv/ci/deploy"), kv2({"A": "b"})])
    [loc] = fps[fingerprint(b)].locations
    assert (loc.container, loc.path) == ("kv", "ci/deploy#SERVICE_TOKEN")


def test_aws_secrets_manager(tmp_path, rng):
    """SecretString as JSON gives one value per key; a plain SecretString is one value named by the
    secret; a version without AWSCURRENT is historical."""
    key, plain = openai_project(rng), _random(rng)
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/agents/support-AbCdEf"
    doc = [
        {"ARN": arn, "Name": "prod/agents/support", "VersionId": "v-1",
         "SecretString": json.dumps({"OPENAI_API_KEY": key}), "VersionStages": ["AWSCURRENT"],
         "CreatedDate": "2025-02-01T00:00:00Z"},
        {"ARN": arn.replace("support", "db"), "Name": "prod/db-password", "VersionId": "v-0",
         "SecretString": plain, "VersionStages": ["AWSPREVIOUS"]},
        {"ARN": arn, "Name": "prod/blob", "SecretBinary": "AAEC"},
    ]
    f = tmp_path / "sm.json"
    f.write_text(json.dumps(doc))
    result = run_scan([f"vault-export:{f}"])
    fps = {c.fingerprint: c for c in result.credentials}
    [loc] = fps[fingerprint(key)].locations
    assert (loc.source, loc.container, loc.path, loc.state) == \
        ("aws-secrets-manager", "eu-west-1", "prod/agents/support#OPENAI_API_KEY", "live")
    assert dict(loc.attributes) == {"created_time": "2025-02-01T00:00:00Z", "version": "v-1"}
    [loc] = fps[fingerprint(plain)].locations
    assert (loc.path, loc.state) == ("prod/db-password", "historical")
    assert result.stats.skipped.get("binary") == 1


@pytest.mark.parametrize("text,needle", [
    ('{"data": {"x": 1}', "malformed vault export JSON (line 1"),
    ('"just a string"', "not a vault kv or Secrets Manager export"),
    ('[1, 2]', "non-object"),
])
def test_bad_exports_raise_config_error(tmp_path, text, needle):
    """Malformed or unrecognised files are a configuration error naming the file."""
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        VaultExportSource(f)
    assert str(f) in str(err.value) and needle in str(err.value)


def test_cli_malformed_export_is_one_line_exit_two(tmp_path):
    """The CLI turns a malformed export into one stderr line and exit code 2."""
    f = tmp_path / "export.json"
    f.write_text('{"secret/x": {"data": ')
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", f"vault-export:{f}"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"sprawlscan: {f}: malformed vault export JSON (line 1: Expecting value)"]


def test_deleted_kv2_version_is_skipped_and_counted(tmp_path):
    """`vault kv get` of a deleted version has `data.data: null`: nothing to scan, one skip."""
    f = tmp_path / "export.json"
    doc = kv2(None)
    doc["data"]["metadata"]["deletion_time"] = "2025-04-01T00:00:00Z"
    f.write_text(json.dumps({"secret/data/agents/old": doc}))
    result = run_scan([f"vault-export:{f}"])
    assert result.credentials == () and result.stats.skipped == {"vault-deleted-version": 1}
