"""Faults on the default SQLite storage (runs/STUDY/study.db): nothing lost, nothing repeated, one line.

A worker killed with -9 on the last (or only) network, Ctrl-C with two workers, two processes
creating one study at the same instant, a corrupt, a read-only or a full disk. The searches are
the tiny spec on synthetic data (tests/search_processes.py) with a one-second heartbeat.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
from pathlib import Path

import matplotlib.figure
import pytest
from optuna.trial import TrialState

from search_processes import run_cli as run
from search_processes import (FOUR_POINTS, KILLABLE, ONE_POINT, TWO_POINTS, Process,
                              assert_each_network_trained_once, grid_argv, kill_mid_trial, race, trials, wait_for,
                              write_spec)

STUDY = "faults"


pytestmark = pytest.mark.usefixtures("one_thread")


def sqlite_url(runs: Path, study: str = STUDY) -> str:
    return f"sqlite:///{(runs / study / 'study.db').resolve()}"


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> tuple[Path, Path, str]:
    """A finished four-network search: (spec, runs folder, its printed ranking)."""
    folder = tmp_path_factory.mktemp("complete")
    spec, runs = write_spec(folder), folder / "runs"
    code, out, err = run(grid_argv(spec, runs, FOUR_POINTS, "--study", STUDY))
    assert (code, err) == (0, ""), err
    return spec, runs, out


def copy_of(complete: tuple[Path, Path, str], folder: Path) -> Path:
    """A copy of the complete search's runs folder (tests that damage it work on their own)."""
    runs = folder / "runs"
    shutil.copytree(complete[1], runs)
    return runs


def ranking_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "networks evaluated" in line or line.lstrip().startswith("rank")]


# --- a killed worker ----------------------------------------------------------------------------


@pytest.mark.parametrize(("points", "done_before"), [(ONE_POINT, 0), (TWO_POINTS, 1)], ids=["only", "last"])
def test_kill_during_the_last_or_only_network_then_a_rerun_finishes_it(points, done_before, tmp_path) -> None:
    """kill -9 while the last untrained (or the only) network trains; the rerun fails the stale trial
    through the heartbeat, trains that network once, and prints the full ranking."""
    spec, runs = write_spec(tmp_path), tmp_path / "runs"
    argv = grid_argv(spec, runs, points, "--study", STUDY, *KILLABLE)
    url = sqlite_url(runs)
    victim = Process(argv, tmp_path, "victim")
    killed = kill_mid_trial(victim, url, STUDY, results=done_before)

    code, out, err = run(argv)
    assert (code, err) == (0, ""), err
    all_trials = assert_each_network_trained_once(url, STUDY)
    assert {t.number: t for t in all_trials}[killed.number].state == TrialState.FAIL
    networks = len({t.user_attrs["network"] for t in all_trials if "network" in t.user_attrs})
    assert f"{networks} of {networks} networks evaluated" in out


# --- Ctrl-C ---------------------------------------------------------------------------------------


def test_ctrl_c_with_two_workers_is_one_line_and_the_rerun_loses_nothing(tmp_path) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C, while both workers train."""
    spec, runs = write_spec(tmp_path), tmp_path / "runs"
    argv = grid_argv(spec, runs, FOUR_POINTS, "--study", STUDY, *KILLABLE, "--workers", "2")
    url = sqlite_url(runs)
    search = Process(argv, tmp_path, "search", new_session=True)

    def both_training() -> bool:
        """Two trials past their first epoch: both workers are inside training, not taking a trial."""
        if not Path(url.removeprefix("sqlite:///")).exists():
            return False
        try:
            return sum(t.state == TrialState.RUNNING and bool(t.user_attrs.get("accuracy_so_far"))
                       for t in trials(url, STUDY)) >= 2
        except Exception:  # noqa: BLE001 - not created yet, or locked this instant
            return False

    try:
        wait_for(both_training, 120, "two networks training at once", alive=[search], interval=0.02)
        os.killpg(search.popen.pid, signal.SIGINT)
        code, out, err = search.wait(60)
    finally:
        search.kill()  # the workers too, if one hangs
    assert code == 130, err
    assert one_line(err) == "scalesearch: interrupted"

    code, out, err = run(argv[:-2])  # the rerun, one worker: the interrupted networks are trained again
    assert (code, err) == (0, ""), err
    assert_each_network_trained_once(url, STUDY)


# --- two creators at the same instant ------------------------------------------------------------


def test_simultaneous_creators_on_sqlite_end_with_one_study_five_times_in_a_row(tmp_path) -> None:
    """Two `grid` processes start a new study in one runs folder at the same instant: neither removes
    the other's folder or database, both exit 0, and the network is trained once."""
    spec, runs = write_spec(tmp_path), tmp_path / "runs"
    rounds = [grid_argv(spec, runs, ONE_POINT, "--study", f"race-{n}") for n in range(5)]
    codes = race(rounds, tmp_path / "race")
    assert codes == [[0, 0]] * 5
    for number in range(5):
        assert (runs / f"race-{number}" / "study.db").is_file()
        assert_each_network_trained_once(sqlite_url(runs, f"race-{number}"), f"race-{number}")


# --- a damaged or read-only study, a full disk ---------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage file", "garbage over a real study"])
def test_a_corrupt_study_db_is_one_line_and_left_as_it_is(damage, complete, tmp_path) -> None:
    runs = copy_of(complete, tmp_path)
    database = runs / STUDY / "study.db"
    garbage = os.urandom(8192)
    if damage == "garbage file":
        database.write_bytes(garbage)
    else:
        with open(database, "r+b") as handle:  # the header and first pages
            handle.write(garbage)
    before = database.read_bytes()

    code, out, err = run(grid_argv(complete[0], runs, FOUR_POINTS, "--study", STUDY))
    assert code == 2
    assert out == ""
    assert "study.db" in one_line(err) or "database" in one_line(err)
    assert database.read_bytes() == before  # not repaired, replaced or deleted


def _read_only_prefix(probe: Path) -> list[str]:
    """How to run a process for which `probe` (chmod 444) is really read-only.

    Root ignores file modes: as root the process runs without the capabilities that let it
    (setpriv drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from its bounding set).
    Skips when that cannot be done.
    """
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, where chmod does not stop writes, and setpriv is missing")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if subprocess.run([*prefix, "sh", "-c", f'test ! -w "{probe}"']).returncode != 0:
        pytest.skip(f"cannot make {probe} read-only for a process of this user")
    return prefix


def _make_read_only(paths: list[Path], read_only: bool) -> None:
    for path in paths:
        if path.is_dir():
            path.chmod(0o555 if read_only else 0o755)
        else:
            path.chmod(0o444 if read_only else 0o644)


@pytest.mark.parametrize("what", ["study.db", "run folder"])
def test_a_complete_read_only_study_still_prints_its_ranking(what, complete, tmp_path) -> None:
    """study.db read-only, or the whole run folder (a copy on a read-only mount): the ranking is
    printed; when results.csv and the figures cannot be written, one line says so after it."""
    runs = copy_of(complete, tmp_path)
    database = runs / STUDY / "study.db"
    before = database.read_bytes()
    read_only = [database] if what == "study.db" else [runs, *runs.rglob("*")]
    _make_read_only(read_only, True)
    try:
        prefix = _read_only_prefix(database)
        rerun = Process(grid_argv(complete[0], runs, FOUR_POINTS, "--study", STUDY), tmp_path, "read-only",
                        prefix=prefix)
        code, out, err = rerun.wait()
    finally:
        _make_read_only(read_only, False)
    assert "Traceback" not in err, err
    assert ranking_lines(out) == ranking_lines(complete[2]), err
    if what == "study.db":
        assert (code, err) == (0, "")
    else:
        assert code == 2 and "cannot write" in one_line(err)
    assert database.read_bytes() == before


def test_a_full_disk_while_writing_figures_is_one_line_after_the_ranking(complete, tmp_path, monkeypatch) -> None:
    runs = copy_of(complete, tmp_path)
    shutil.rmtree(runs / STUDY / "figures")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", no_space)
    code, out, err = run(grid_argv(complete[0], runs, FOUR_POINTS, "--study", STUDY))
    assert code == 2
    assert os.strerror(errno.ENOSPC) in one_line(err)
    assert ranking_lines(out) == ranking_lines(complete[2])
