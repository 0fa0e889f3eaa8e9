"""A study shared through PostgreSQL: the README's multi-machine recipe against a live server.

The `postgres_url` fixture (tests/postgres.py) starts a throwaway server and gives each test a
fresh database; without a server these tests skip (and fail with CI=true).
"""

from __future__ import annotations

import optuna
import pytest

from scalesearch.study import open_storage


def test_plain_postgresql_url_opens_with_the_installed_driver(postgres_url) -> None:
    """`postgresql://` (no +driver) works: SQLAlchemy maps it to psycopg 3, our `postgres` extra."""
    storage = optuna.storages.RDBStorage(postgres_url)
    study = optuna.create_study(study_name="smoke", storage=storage)
    study.enqueue_trial({"x": 1.0})
    study.optimize(lambda trial: trial.suggest_float("x", 0, 2), n_trials=1)
    assert study.best_value == 1.0
    storage.engine.dispose()


def test_scalesearch_opens_a_postgresql_storage(postgres_url) -> None:
    storage = open_storage(postgres_url)
    optuna.create_study(study_name="smoke", storage=storage)
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["smoke"]
    storage.engine.dispose()


def test_an_unknown_database_is_one_clear_error(postgres_url) -> None:
    from scalesearch.errors import UserError

    with pytest.raises(UserError, match="cannot open storage") as refused:
        open_storage(postgres_url.rsplit("/", 1)[0] + "/no_such_database")
    assert "\n" not in str(refused.value) and "no_such_database" in str(refused.value)
