"""Optuna storage for searches: open or create a study, refuse other settings, trials to tables."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import optuna
import pandas as pd
from sqlalchemy import Engine, event
from optuna.storages import RDBStorage, RetryFailedTrialCallback
from optuna.trial import FrozenTrial, TrialState

from scalesearch.errors import UserError

SETTINGS_KEY = "settings"
_SCHEMES = ("sqlite", "postgresql", "mysql")


def default_storage_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def open_storage(url: str) -> RDBStorage:
    """An RDB storage with heartbeats, so that trials of killed workers are retried once."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _SCHEMES:
        raise UserError(f"unknown storage scheme {scheme!r} in {url!r}; use sqlite:///PATH or postgresql://...")
    if scheme == "sqlite":
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise UserError(f"storage folder {folder} does not exist")
    engine_kwargs = {"connect_args": {"timeout": 60}} if scheme == "sqlite" else {"pool_pre_ping": True}
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own progress and errors say what matters
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=20, grace_period=90,
                                 heartbeat_stale_trial_callback=_RetryCallback(max_retry=2))
    except Exception as exc:  # SQLAlchemy and drivers raise many kinds; the user needs the reason
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot open storage {_redact(url)}: {reason}") from None
    if scheme == "sqlite":
        _lock_sqlite_transactions(storage.engine)
    return storage


# Renamed in Optuna 4.9, which deprecates the old name with a FutureWarning on every run.
_RetryCallback = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", RetryFailedTrialCallback)


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


def _redact(url: str) -> str:
    """The URL without a password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def open_study(name: str, storage: RDBStorage, settings: dict, sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Create the study, or load it if it exists with the same settings; refuse it otherwise."""
    wanted = json.loads(json.dumps(settings))
    try:
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize", sampler=sampler,
                                    pruner=pruner)
        study.set_user_attr(SETTINGS_KEY, wanted)
        return study
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    stored = study.user_attrs.get(SETTINGS_KEY)
    if stored != wanted:
        raise UserError(f"study {name!r} was created with other settings ({settings_difference(stored, wanted)}); "
                        f"rerun with those settings or pick another --study name")
    return study


def settings_difference(stored: dict | None, wanted: dict) -> str:
    if not isinstance(stored, dict):
        return "it has no scalesearch settings"
    keys = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    return "; ".join(f"{k}: {stored.get(k)!r} there, {wanted.get(k)!r} now" for k in keys[:4])


def is_result(trial: FrozenTrial) -> bool:
    """A trial that trained its candidate to the end or was pruned (not a yielded duplicate)."""
    if trial.state == TrialState.COMPLETE:
        return True
    return trial.state == TrialState.PRUNED and "duplicate_of" not in trial.user_attrs


def candidate_of(trial: FrozenTrial) -> int | None:
    return trial.params.get("candidate")


def finished_candidates(study: optuna.Study) -> set[int]:
    return {candidate_of(t) for t in study.get_trials(deepcopy=False) if is_result(t)}


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per evaluated candidate (its first result), with every recorded attribute."""
    rows, seen = [], set()
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        index = candidate_of(trial)
        if not is_result(trial) or index in seen:
            continue
        seen.add(index)
        rows.append({"trial": trial.number, "candidate": index, "state": trial.state.name.lower(),
                     **trial.user_attrs})
    return pd.DataFrame(rows)
