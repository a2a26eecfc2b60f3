"""The structured-config pass and the rules agree: a value a rule refuses on its own merits is not
re-reported as a declared secret, and a multi-line quoted .env value is read whole."""

from __future__ import annotations

from scanner.pipeline import ScanOptions, run_scan
from tokens import github, pem_private_key


def test_wrong_checksum_token_under_a_secret_name_is_not_declared(tmp_path, rng):
    """GITHUB_TOKEN=<ghp_ with a bad CRC> is a fake: neither the rule nor the name reports it."""
    (tmp_path / ".env").write_text(f"GITHUB_TOKEN={github(rng, valid=False)}\nNPM_TOKEN={github(rng, 'npm', valid=False)}\n")
    assert run_scan([str(tmp_path)], ScanOptions(history=False)).credentials == ()


def test_placeholder_under_a_secret_name_is_not_declared(tmp_path):
    """`your_..._here` and `xoxb-your-bot-token` are documentation, whatever the name."""
    (tmp_path / ".env").write_text("MISTRAL_API_KEY=your_mistral_api_key_here\nSLACK_BOT_TOKEN=xoxb-your-bot-token\n")
    assert run_scan([str(tmp_path)], ScanOptions(history=False)).credentials == ()


def test_multiline_pem_in_dotenv_is_one_credential(tmp_path, rng):
    """A double-quoted PEM spanning lines is found once, by the private-key rule, on its first line."""
    key = pem_private_key(rng)
    (tmp_path / ".env").write_text(f'A=1\nPRIVATE_KEY="{key}"\nB=2\n')
    [cred] = run_scan([str(tmp_path)], ScanOptions(history=False)).credentials
    assert cred.rule_id == "private-key.pem" and [loc.line for loc in cred.locations] == [2]
