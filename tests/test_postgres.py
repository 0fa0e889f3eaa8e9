"""A study shared through PostgreSQL: the README's multi-machine recipe against a live server.

The recipe: one `scalesearch grid ... --storage URL --study NAME --no-work` creates the study,
then `scalesearch worker --storage URL --study NAME` runs on each machine. Here local processes
stand in for the machines. The `postgres_server` fixture (tests/postgres.py) starts a throwaway
server; without one these tests skip (and fail with CI=true).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from scalesearch.errors import UserError
from scalesearch.study import stored_config
from scalesearch.storage import open_storage
from search_processes import run_cli as run
from search_processes import (FOUR_POINTS, KILLABLE, ONE_POINT, Process, assert_each_network_trained_once, grid_argv,
                              kill_mid_trial, race, reader, results_per_network, trials, worker_argv, write_spec)

STUDY = "shared"


pytestmark = pytest.mark.usefixtures("one_thread")


def create(spec: Path, runs: Path, url: str, *extra: str) -> list[str]:
    """Step 1 of the recipe: create the study and queue its networks, train nothing; the grid command."""
    argv = grid_argv(spec, runs, FOUR_POINTS, "--storage", url, "--study", STUDY, *extra)
    code, out, err = run([*argv, "--no-work"])
    assert (code, err) == (0, ""), err
    return argv


# --- the driver ------------------------------------------------------------------------------


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
    with pytest.raises(UserError, match="cannot open storage") as refused:
        open_storage(postgres_url.rsplit("/", 1)[0] + "/no_such_database")
    assert "\n" not in str(refused.value) and "no_such_database" in str(refused.value)


# --- the multi-machine recipe ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(postgres_server, tmp_path_factory) -> Iterator[tuple[str, list[str], list, list]]:
    """The recipe run once: `grid --no-work`, then three `worker` processes on the study at once.

    Yields the URL, the grid argv, the trials right after creation, and each worker's
    (exit code, stdout, stderr).
    """
    folder = tmp_path_factory.mktemp("shared")
    url = postgres_server.create_database()
    argv = create(write_spec(folder), folder / "runs", url)
    created = trials(url, STUDY)
    workers = [Process(worker_argv(url, STUDY), folder / "logs", f"worker{i}") for i in range(3)]
    try:
        outcomes = [worker.wait() for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    yield url, argv, created, outcomes
    postgres_server.drop_database(url)


def test_creating_the_study_queues_every_network_and_trains_none(shared) -> None:
    url, _, created, _ = shared
    study = optuna.load_study(study_name=STUDY, storage=reader(url))
    networks = sorted(t.user_attrs["network"] for t in created)
    assert networks == list(range(len(created))) and len(created) >= 2
    assert {t.state for t in created} == {TrialState.WAITING}
    assert len(stored_config(study).points) == 4  # the configuration is in the study: workers need no flags


def test_three_workers_train_each_network_exactly_once(shared) -> None:
    url, _, _, outcomes = shared
    for code, _, err in outcomes:
        assert code == 0, err
        assert "Traceback" not in err
    assert_each_network_trained_once(url, STUDY)


def test_a_rerun_after_completion_trains_nothing(shared) -> None:
    url, argv, _, outcomes = shared
    assert all(code == 0 for code, _, _ in outcomes)
    before = [(t.number, t.state, t.user_attrs) for t in trials(url, STUDY)]

    code, out, err = run(worker_argv(url, STUDY))  # one more machine joins, too late
    assert (code, out, err) == (0, "", "")
    code, out, err = run(argv)  # and the grid command again, which prints the ranking
    assert code == 0, err
    assert "Traceback" not in err
    networks = len({attrs["network"] for _, _, attrs in before if "network" in attrs})  # not spare trials
    assert f"{networks} of {networks} networks evaluated" in out

    assert [(t.number, t.state, t.user_attrs) for t in trials(url, STUDY)] == before


# --- faults ------------------------------------------------------------------------------------


def test_simultaneous_creators_end_with_one_study_ten_times_in_a_row(postgres_server, tmp_path) -> None:
    """Two `grid` processes start on one new study at the same instant (a fresh database each round,
    so the schema creation races too): both exit 0, one study, its configuration stored, all trained."""
    spec, runs = write_spec(tmp_path), tmp_path / "runs"
    urls = [postgres_server.create_database() for _ in range(10)]
    rounds = [grid_argv(spec, runs, ONE_POINT, "--storage", url, "--study", f"race-{n}") for n, url in enumerate(urls)]
    codes = race(rounds, tmp_path / "race")
    assert codes == [[0, 0]] * 10
    for number, url in enumerate(urls):
        storage = reader(url)
        assert optuna.study.get_all_study_names(storage) == [f"race-{number}"]
        stored_config(optuna.load_study(study_name=f"race-{number}", storage=storage))
        storage.engine.dispose()
        assert_each_network_trained_once(url, f"race-{number}")
        postgres_server.drop_database(url)


def test_a_killed_workers_trial_is_retried_by_another_and_nothing_is_lost(postgres_url, tmp_path) -> None:
    """kill -9 mid-training: the heartbeat fails the trial, the retry callback queues it again, and
    the other worker (started after the kill, so that it must wait for the heartbeat) trains it;
    every network ends with exactly one result."""
    create(write_spec(tmp_path), tmp_path / "runs", postgres_url, *KILLABLE)
    victim = Process(worker_argv(postgres_url, STUDY), tmp_path, "victim")
    killed = kill_mid_trial(victim, postgres_url, STUDY)

    code, out, err = run(worker_argv(postgres_url, STUDY))  # another machine: this process
    assert (code, out, err) == (0, "", "")

    all_trials = assert_each_network_trained_once(postgres_url, STUDY)
    by_number = {t.number: t for t in all_trials}
    assert by_number[killed.number].state == TrialState.FAIL
    network = killed.user_attrs["network"]
    [result] = [t for t in all_trials if t.user_attrs.get("network") == network and t.state != TrialState.FAIL
                and "accuracy" in t.user_attrs]
    assert result.number > killed.number  # the retry, not the killed trial
    assert results_per_network(all_trials)[network] == 1
