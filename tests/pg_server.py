"""A real PostgreSQL server for the tests: Debian's binaries (`initdb`, `pg_ctl`), a data directory
in a fresh temporary folder, listening on a free loopback port with password authentication, stopped
at the end of the session. PostgreSQL refuses to run as root: as root the server runs as the
`postgres` system user (or `nobody`), which owns the data directory."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server: `url(db)` is a `postgresql://` URL with user and password."""

    folder: Path
    port: int
    user: str
    password: str
    run_as: str | None

    def url(self, db: str = "postgres", password: str | None = None) -> str:
        return (f"postgresql://{self.user}:{password or self.password}@127.0.0.1:{self.port}"
                f"/{db}")

    def _cmd(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else args

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def dump(self, db: str) -> bytes:
        """Every byte of one database, as `pg_dump` gives it."""
        env = {**os.environ, "PGPASSWORD": self.password}
        return subprocess.run([pg_bin("pg_dump") or "pg_dump", "-h", "127.0.0.1", "-p",
                               str(self.port), "-U", self.user, db], env=env, check=True,
                              capture_output=True).stdout

    def stop(self) -> None:
        subprocess.run(self._cmd([pg_bin("pg_ctl") or "pg_ctl", "-D", str(self.folder / "data"),
                                  "-m", "fast", "-w", "stop"]), capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> PgServer:
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    run_as = None
    if os.geteuid() == 0:
        run_as = next(u for u in ("postgres", "nobody") if _user_exists(u))
    folder = Path(tempfile.mkdtemp(prefix="sprawlscan-pg-"))
    password = secrets.token_hex(12)
    (folder / "pw").write_text(password + "\n")
    if run_as:
        entry = pwd.getpwnam(run_as)
        for p in (folder, folder / "pw"):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    server = PgServer(folder, free_port(), "sprawl", password, run_as)
    data = folder / "data"
    subprocess.run(server._cmd([initdb, "-D", str(data), "-U", "sprawl", "-A", "scram-sha-256",
                                "--pwfile", str(folder / "pw"), "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)
    opts = (f"-p {server.port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
    subprocess.run(server._cmd([pg_ctl, "-D", str(data), "-o", opts, "-l", str(folder / "log"),
                                "-w", "-t", "60", "start"]), check=True, capture_output=True)
    return server


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
