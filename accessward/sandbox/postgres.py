"""A throwaway PostgreSQL cluster for tests, the demo and benchmarks.

:class:`PostgresServer` runs ``initdb`` (trust authentication, superuser ``postgres``) into a
temporary directory, starts the cluster with ``pg_ctl`` on 127.0.0.1 and a free port (its unix
socket in the same directory), creates a database and hands back a SQLAlchemy URL::

    with PostgresServer() as pg:
        engine = sqlalchemy.create_engine(pg.url)   # postgresql+psycopg://postgres@127.0.0.1:PORT/accessward
        other = pg.create_database("run_42")        # another database on the same cluster

``initdb``, ``pg_ctl`` and ``postgres`` refuse to run as root: when this process is root they run
as an unprivileged OS user (``postgres`` if it exists, else ``nobody``) through
``runuser -u <user> --``, and the temporary directory is chowned to that user. As a normal user
they run directly. ``stop()`` is ``pg_ctl stop -m immediate`` followed by removing the directory.

The cluster is tuned for throwaway use (``fsync=off``, ``synchronous_commit=off``): never point
it at data that matters.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql

__all__ = [
    "PostgresError",
    "PostgresNotInstalledError",
    "PostgresServer",
    "find_postgres_bin",
    "postgres_available",
]

_BINARIES = ("initdb", "pg_ctl", "postgres")
_INSTALL_HINT = "install PostgreSQL's server binaries, e.g. on Debian: apt-get install -y postgresql"
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresError(RuntimeError):
    """The throwaway cluster could not be initialised, started or used."""


class PostgresNotInstalledError(PostgresError):
    """initdb / pg_ctl / postgres (or, as root, runuser and an unprivileged user) are missing."""


def _has_binaries(directory: Path) -> bool:
    return all((directory / name).is_file() and os.access(directory / name, os.X_OK) for name in _BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_postgres_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres.

    ``$ACCESSWARD_PG_BIN`` wins; then the newest ``/usr/lib/postgresql/<version>/bin`` (Debian);
    then ``initdb`` on ``$PATH``.
    """
    override = os.environ.get("ACCESSWARD_PG_BIN")
    if override:
        return Path(override) if _has_binaries(Path(override)) else None
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for directory in debian:
        if _has_binaries(directory):
            return directory
    on_path = shutil.which("initdb")
    if on_path and _has_binaries(Path(on_path).resolve().parent):
        return Path(on_path).resolve().parent
    return None


def _run_as_user() -> str | None:
    """The unprivileged OS user to run the server as, or None when not root (run as self)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresNotInstalledError("running as root and no unprivileged user (postgres, nobody) exists")


def _check_installation() -> tuple[Path, str | None]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise PostgresNotInstalledError(f"cannot find initdb, pg_ctl and postgres: {_INSTALL_HINT}")
    user = _run_as_user()
    if user is not None and shutil.which("runuser") is None:
        raise PostgresNotInstalledError("running as root and runuser (util-linux) is not installed")
    return bin_dir, user


def postgres_available() -> bool:
    """True when a throwaway cluster can be started here."""
    try:
        _check_installation()
    except PostgresNotInstalledError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _check_db_name(name: str) -> str:
    if not _DB_NAME.match(name):
        raise ValueError(f"database name must match {_DB_NAME.pattern}: {name!r}")
    return name


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with its data in a temporary directory."""

    database: str = "accessward"
    workdir: Path | None = None
    start_timeout: int = 60

    port: int = field(default=0, init=False)
    _dir: Path | None = field(default=None, init=False, repr=False)
    _bin: Path | None = field(default=None, init=False, repr=False)
    _user: str | None = field(default=None, init=False, repr=False)

    # -- names -----------------------------------------------------------------------------------

    host = "127.0.0.1"
    superuser = "postgres"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database created at start."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        if not self.port:
            raise PostgresError("PostgreSQL has not been started")
        return f"postgresql+psycopg://{self.superuser}@{self.host}:{self.port}/{_check_db_name(database)}"

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise PostgresError("PostgreSQL has not been started")
        return self._dir

    @property
    def running(self) -> bool:
        return self.port != 0 and self._dir is not None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Self:
        """initdb, start on a free port and create :attr:`database`."""
        if self.running:
            return self
        _check_db_name(self.database)
        self._bin, self._user = _check_installation()
        if self.workdir is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="accessward-pg-", dir=self.workdir))
        try:
            if self._user is not None:
                entry = pwd.getpwnam(self._user)
                os.chown(self._dir, entry.pw_uid, entry.pw_gid)
            self._initdb()
            self._pg_ctl_start()
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """``pg_ctl stop -m immediate`` and remove the directory. Safe to call twice."""
        if self._dir is None:
            return
        data = self._dir / "data"
        if (data / "postmaster.pid").exists():
            self._run(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self.port = 0

    # -- databases -------------------------------------------------------------------------------

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host=self.host, port=self.port, user=self.superuser, dbname="postgres", autocommit=True)

    def create_database(self, name: str) -> str:
        """Create a database on this cluster; returns its SQLAlchemy URL."""
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_check_db_name(name))))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any session still connected to it."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(_check_db_name(name)))
            )

    # -- internals -------------------------------------------------------------------------------

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self._bin is None:
            raise PostgresError("PostgreSQL binaries not located")
        command = [str(self._bin / argv[0]), *argv[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.directory,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
        )
        if check and done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise PostgresError(f"{argv[0]} failed ({done.returncode}): {output}")
        return done

    def _initdb(self) -> None:
        self._run(
            [
                "initdb",
                "-D",
                str(self.directory / "data"),
                "-U",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )

    def _pg_ctl_start(self) -> None:
        log = self.directory / "postgres.log"
        last_error = ""
        for _ in range(3):  # another process may grab the free port first
            port = _free_port()
            options = " ".join(
                [
                    f"-k {self.directory}",
                    f"-p {port}",
                    f"-c listen_addresses={self.host}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
            done = self._run(
                [
                    "pg_ctl",
                    "-D",
                    str(self.directory / "data"),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(self.start_timeout),
                    "start",
                ],
                check=False,
            )
            if done.returncode == 0:
                self.port = port
                return
            with contextlib.suppress(OSError):
                last_error = log.read_text(errors="replace").strip()[-2000:]
            last_error = last_error or (done.stderr or done.stdout).strip()
            if "could not bind" not in last_error and "in use" not in last_error:
                break
        raise PostgresError(f"pg_ctl start failed: {last_error}")
