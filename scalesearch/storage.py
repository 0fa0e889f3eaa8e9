"""Optuna storages for studies: SQLite on one machine, PostgreSQL (or MySQL) across many.

Heartbeats mark the trials of killed workers stale, and Optuna's retry callback queues them
again. `creation_lock` serialises the creation of a study between processes and machines.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import RDBStorage
from sqlalchemy import Engine, event

from scalesearch.errors import UserError

_SCHEMES = ("sqlite", "postgresql", "mysql")
HEARTBEAT_RANGE = (1.0, 600.0)
MAX_RETRIES = 2  # a network whose worker died this often is left failed until the next rerun

# Renamed in Optuna 4.9, which deprecates the old name with a FutureWarning on every run.
_RetryCallback = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
    optuna.storages.RetryFailedTrialCallback


class ReadOnlyStorage(UserError):
    """The storage can be read but not written (a read-only file, folder or mount)."""


@dataclass(frozen=True)
class Heartbeat:
    """A running trial beats every `interval` s; one silent for `grace` s is failed and retried."""

    interval: float = 20.0

    def __post_init__(self) -> None:
        low, high = HEARTBEAT_RANGE
        if not (math.isfinite(self.interval) and low <= self.interval <= high):
            raise UserError(f"heartbeat interval must be in {low:g}..{high:g} s, got {self.interval}")

    @property
    def grace(self) -> int:
        return max(2, math.ceil(3 * self.interval))


def default_storage_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def scheme_of(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _SCHEMES or "://" not in url:
        raise UserError(f"unknown storage URL {redact(url)!r}; use sqlite:///PATH or postgresql://USER@HOST/DB")
    return scheme


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def check_url(url: str) -> str:
    """The URL's scheme; UserError for an unknown scheme or an SQLite file in a missing folder."""
    scheme = scheme_of(url)
    if scheme == "sqlite" and not sqlite_path(url).parent.is_dir():
        raise UserError(f"storage folder {sqlite_path(url).parent} does not exist")
    return scheme


def open_storage(url: str, heartbeat: Heartbeat = Heartbeat()) -> RDBStorage:
    """An RDB storage with heartbeats; UserError with the driver's reason when it cannot be opened."""
    scheme = check_url(url)
    engine_kwargs = {"connect_args": {"timeout": 60}} if scheme == "sqlite" else {"pool_pre_ping": True}
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own progress and errors say what matters
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=math.ceil(heartbeat.interval),
                                 grace_period=heartbeat.grace,
                                 heartbeat_stale_trial_callback=_RetryCallback(max_retry=MAX_RETRIES))
    except Exception as exc:  # SQLAlchemy and drivers raise many kinds; the user needs the reason
        kind = ReadOnlyStorage if "readonly" in str(exc) else UserError
        raise kind(f"cannot open storage {redact(url)}: {first_line(exc)}") from None
    if scheme == "sqlite":
        _lock_sqlite_transactions(storage.engine)
    return storage


def open_read_only(url: str) -> RDBStorage:
    """An SQLite storage opened read-only (no heartbeats, no locks): for reading a finished study."""
    uri = f"sqlite:///file:{sqlite_path(url)}?mode=ro&uri=true"
    try:
        return RDBStorage(uri, skip_compatibility_check=True, skip_table_creation=True)
    except Exception as exc:
        raise UserError(f"cannot read storage {url}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def creation_lock(url: str, name: str) -> Iterator[None]:
    """Hold an exclusive lock on study `name` of storage `url` while it is created or extended.

    SQLite: an flock on a file beside the database (one machine). PostgreSQL: a session
    advisory lock; MySQL: GET_LOCK. Taken before the storage's tables are created, so two
    processes starting at the same instant end with one schema and one study.
    """
    scheme = check_url(url)
    if scheme == "sqlite":
        lock_path = sqlite_path(url).with_name(sqlite_path(url).name + ".lock")
        try:
            handle = open(lock_path, "a")
        except OSError as exc:
            kind = ReadOnlyStorage if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else UserError
            raise kind(f"cannot open storage {url}: {exc.strerror}") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        connection = engine.connect()
    except Exception as exc:
        raise UserError(f"cannot open storage {redact(url)}: {first_line(exc)}") from None
    lock, unlock = (("SELECT pg_advisory_lock(:key)", "SELECT pg_advisory_unlock(:key)") if scheme == "postgresql"
                    else ("SELECT GET_LOCK(:key, -1)", "SELECT RELEASE_LOCK(:key)"))
    try:
        connection.execute(sqlalchemy.text(lock), {"key": key if scheme == "postgresql" else str(key)})
        connection.commit()
        yield
    finally:
        connection.execute(sqlalchemy.text(unlock), {"key": key if scheme == "postgresql" else str(key)})
        connection.commit()
        connection.close()
        engine.dispose()


def _lock_sqlite_transactions(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock when it begins (BEGIN IMMEDIATE).

    pysqlite only begins a transaction at the first write, so Optuna's pop of a waiting
    trial (read WAITING, then write RUNNING) is not atomic: two worker processes can pop,
    and train, the same enqueued trial. Locking at BEGIN serializes those read-then-writes.
    """

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners existed


def redact(url: str) -> str:
    """The URL without a password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
