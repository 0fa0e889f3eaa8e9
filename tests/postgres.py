"""A throwaway PostgreSQL server for the shared-storage tests (fixtures imported by conftest.py).

`postgres_server` (session) runs Debian's `initdb` into a temp folder and starts `postgres` on
127.0.0.1 at a free port, with trust authentication and no fsync; it stops the server and deletes
the folder at the end. PostgreSQL refuses to run as root, so as root (CI) the server runs as the
`postgres` system user that Debian's package creates; any other user runs it as themselves.
`postgres_url` gives each test a fresh database: `postgresql://postgres@127.0.0.1:PORT/NAME`.

Where no server can start (no package, no user to run it as) the tests skip with the reason;
with CI=true they fail instead, since CI must run them (`.ci/run` installs the package).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_USER = "postgres"  # the superuser role initdb creates (-U), and the system user as root
_START_TRIES = 3
_databases = itertools.count()


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}@{self.host}:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(sql)

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"test_{os.getpid()}_{next(_databases)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        try:
            self.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        except Exception:  # noqa: BLE001 - the server goes away with the session anyway
            pass


def _unavailable(reason: str) -> None:
    """Skip, or fail where the tests must run (CI=true)."""
    message = f"no PostgreSQL server for the tests: {reason}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + " (CI=true: these tests must run; .ci/run installs Debian's postgresql)",
                    pytrace=False)
    pytest.skip(message)


def _binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/VERSION/bin)."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [b for b in found if (b / "pg_ctl").exists()]
    version = lambda b: tuple(int(x) if x.isdigit() else 0 for x in b.parent.name.split("."))  # noqa: E731
    return max(found, key=version) if found else None


def _run_as() -> tuple[list[str], int | None, int | None, str | None]:
    """(command prefix, uid, gid, or a reason why no user can run the server)."""
    if os.geteuid() != 0:
        return [], None, None, None
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        return [], None, None, f"running as root and there is no {SERVER_USER!r} system user to run the server as"
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    if Path(runuser).exists():
        return [runuser, "-u", SERVER_USER, "--"], user.pw_uid, user.pw_gid, None
    return [], None, None, "running as root and runuser is missing"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(command: list[str], cwd: Path, timeout: float = 120) -> str | None:
    """None on success, else the command's last lines of output."""
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = (done.stdout + done.stderr).strip().splitlines()
    return " | ".join(lines[-3:]) or f"exit {done.returncode}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own for this test session (see the module docstring)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    bin_dir = _binaries()
    if bin_dir is None:
        _unavailable("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
    prefix, uid, gid, problem = _run_as()
    if problem:
        _unavailable(problem)
    # Not pytest's tmp_path: that is private to root, and the server user must reach its folder.
    root = Path(tempfile.mkdtemp(prefix="scalesearch-pg-"))
    data, log = root / "data", root / "server.log"
    try:
        if uid is not None:
            os.chmod(root, 0o700)
            os.chown(root, uid, gid)
        error = _call([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", SERVER_USER, "--auth=trust",
                       "-E", "UTF8", "--locale=C", "--no-sync"], cwd=root)
        if error:
            _unavailable(f"initdb failed: {error}")
        for _ in range(_START_TRIES):  # another process may take the free port before the server does
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c shared_buffers=32MB -c max_connections=200")
            error = _call([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                           "-w", "-t", "60", "start"], cwd=root)
            if error is None:
                break
        else:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            _unavailable(f"the server did not start: {error} {' | '.join(tail)}")
        try:
            yield PostgresServer("127.0.0.1", port)
        finally:
            _call([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], cwd=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
