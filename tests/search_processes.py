"""Helpers for tests that run searches as separate processes (machines, workers, killed or racing).

A search here is the tiny spec on synthetic data: a few thousand parameters, a few hundred
images, one thread, so that a network trains in about a second. Processes run
`python -m scalesearch` with OMP_NUM_THREADS=1 and a one-second heartbeat, so that a killed
worker's trial goes stale after a few seconds instead of minutes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `scalesearch argv` run in this process."""
    from scalesearch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse errors exit
            code = exc.code
    return code, out.getvalue(), err.getvalue()


TINY_SPEC = {
    "name": "tiny",
    "stem": {"channels": 8, "stride": 2},
    "stages": [
        {"op": "mbconv", "channels": 8, "stride": 1, "expand": 2, "se": 0.25},
        {"op": "mbconv", "channels": 16, "stride": 2, "expand": 2, "se": 0.25},
    ],
    "head": {"channels": 32},
    "resolution": 32,
}
# |α·β²·γ² − 2| <= 0.1 on a 0.2 grid: four points; fixing γ = 1 leaves two, fixing β too leaves one.
FOUR_POINTS = ["--alpha-range", "1,2", "--beta-range", "1,1.2", "--gamma-range", "1,1.2", "--step", "0.2",
               "--tol", "0.1"]
TWO_POINTS = ["--alpha-range", "1,2", "--beta-range", "1,1.2", "--gamma-range", "1,1", "--step", "0.2",
              "--tol", "0.1"]
ONE_POINT = ["--alpha-range", "2,2", "--beta-range", "1,1", "--gamma-range", "1,1", "--step", "0.2", "--tol", "0.1"]
# One epoch of 400 images: about a second a network on one thread; learning is not the point here.
# One worker, so that the process a test kills or interrupts is the one training (the default is
# one worker per core).
TRAIN = ["--data", "synthetic", "--train-images", "400", "--test-images", "100", "--epochs", "1",
         "--batch-size", "50", "--proxy-resolution", "16", "--prune", "none", "--device", "cpu", "--quiet",
         "--workers", "1"]
# Three epochs of 800 images: a worker is killed once its first epoch is reported (so its heartbeat
# has begun), while the other two train; one epoch alone was a window the faster CPU trainer could close.
KILLABLE = ["--epochs", "3", "--train-images", "800", "--evaluate-every-epoch"]
HEARTBEAT = ["--heartbeat", "1"]  # seconds between beats; a trial silent for 3 s is stale
TIMEOUT = 120  # seconds any one process may take before the test gives up on it
RESULT_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def write_spec(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(json.dumps(TINY_SPEC))
    return path


def grid_argv(spec: Path, runs: Path, points: Sequence[str] = FOUR_POINTS, *extra: str) -> list[str]:
    return ["grid", "--baseline", str(spec), *points, *TRAIN, "--noise-seeds", "2", *HEARTBEAT, "--runs-dir",
            str(runs), *extra]


def worker_argv(url: str, study: str) -> list[str]:
    """The README's command for one more machine."""
    return ["worker", "--storage", url, "--study", study, *HEARTBEAT]


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


class Process:
    """`python -m scalesearch ARGV` in the background, its output in files (no pipe to fill up)."""

    def __init__(self, argv: Sequence[str], folder: Path, name: str, *, prefix: Sequence[str] = (),
                 new_session: bool = False) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.name, self.group = name, new_session
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.popen = subprocess.Popen([*prefix, sys.executable, "-m", "scalesearch", *argv], stdout=out,
                                          stderr=err, env=environment(), start_new_session=new_session)

    def wait(self, timeout: float = TIMEOUT) -> tuple[int, str, str]:
        """(exit code, stdout, stderr); kills the process and fails if it runs past `timeout`."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} still ran after {timeout} s; stderr: {self.err()[-2000:]}") from None
        return code, self.out_path.read_text(), self.err()

    def err(self) -> str:
        return self.err_path.read_text()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the process (its whole group, workers included, when it has a session of its own)."""
        if self.group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
        elif self.popen.poll() is None:
            self.popen.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(30)


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05,
             alive: Sequence[Process] = ()) -> object:
    """Poll `condition` until it is truthy; fail after `timeout` s, or at once if one of `alive` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for process in alive:
            if process.popen.poll() is not None:
                raise AssertionError(f"{process.name} exited ({process.popen.returncode}) before {what}: "
                                     f"{process.err()[-2000:]}")
        time.sleep(interval)
    raise AssertionError(f"no {what} after {timeout} s")


def reader(url: str) -> optuna.storages.RDBStorage:
    """A storage that only reads: it creates no tables and no version row behind a creator's back.

    SQLite opens the file read-only, so that polling a study being created cannot write to it.
    """
    if url.startswith("sqlite:///"):
        url = f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    return optuna.storages.RDBStorage(url, skip_compatibility_check=True, skip_table_creation=True)


def trials(url: str, study: str) -> list[FrozenTrial]:
    storage = reader(url)
    try:
        return optuna.load_study(study_name=study, storage=storage).get_trials()
    finally:
        storage.engine.dispose()


def results_per_network(all_trials: Sequence[FrozenTrial]) -> Counter:
    """network -> trials that finished training it (COMPLETE or PRUNED, with an accuracy)."""
    return Counter(t.user_attrs["network"] for t in all_trials
                   if t.state in RESULT_STATES and "accuracy" in t.user_attrs)


def network_count(url: str, study: str) -> int:
    """How many distinct networks the study was created with (stored by the runner)."""
    from scalesearch.study import network_count as stored_count

    storage = reader(url)
    try:
        return stored_count(optuna.load_study(study_name=study, storage=storage))
    finally:
        storage.engine.dispose()


def assert_each_network_trained_once(url: str, study: str) -> list[FrozenTrial]:
    """Every network has exactly one result, and nothing is left waiting or running."""
    all_trials = trials(url, study)
    networks = network_count(url, study)
    assert networks >= 1
    assert results_per_network(all_trials) == Counter(range(networks)), \
        [(t.number, t.state.name, t.user_attrs.get("network")) for t in all_trials]
    left = [t.number for t in all_trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]
    assert left == [], f"trials still waiting or running: {left}"
    return all_trials


def running_trial(url: str, study: str, results: int = 0) -> FrozenTrial | None:
    """A trial past its first epoch (so its heartbeat beats), once `results` networks are done."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    try:
        all_trials = trials(url, study)
    except Exception:  # noqa: BLE001 - not created yet, or locked by a writer this instant
        return None
    if sum(results_per_network(all_trials).values()) < results:
        return None
    running = [t for t in all_trials if t.state == TrialState.RUNNING and t.user_attrs.get("accuracy_so_far")]
    return running[0] if running else None


def kill_mid_trial(process: Process, url: str, study: str, results: int = 0) -> FrozenTrial:
    """kill -9 `process` while it trains a network (searches run with KILLABLE); the trial it held.

    The process is frozen (SIGSTOP) before its trial is checked, so that the trial cannot end
    between the check and the kill; a trial that ended just before is let go, and the next one taken.
    """
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        trial = wait_for(lambda: running_trial(url, study, results), TIMEOUT, "running trial", alive=[process],
                         interval=0.02)
        process.popen.send_signal(signal.SIGSTOP)
        try:
            [now] = [t for t in trials(url, study) if t.number == trial.number]
        except Exception:  # noqa: BLE001 - frozen while it held the SQLite lock: let it go on
            now = None
        if now is not None and now.state == TrialState.RUNNING:
            process.kill(signal.SIGKILL)
            return now
        process.popen.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError(f"could not catch {process.name} in the middle of a trial")


# Two copies of this script run `scalesearch` once per round, in process, each round starting at
# the same instant: a barrier of files, polled every millisecond, after every import is done.
# Figures are not drawn (a second of CPU per process and round, and tested elsewhere), and a
# worker waiting for the other's trial looks every 0.2 s instead of 2 s.
RACE_SCRIPT = r"""
import json, sys, time, traceback
from pathlib import Path
import torch
from scalesearch import plots, runner
from scalesearch.cli import build_parser, main
build_parser()  # import every command before the first start
torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)  # its first use imports torch._dynamo (seconds)
plots.accuracy_vs_macs = plots.objective_plane = lambda *args: None  # the race is not about figures: 1 s saved
runner.POLL_SECONDS = 0.2  # the loser waits for the winner's trial: check often, the rounds are short
me, folder, rounds = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
codes = []
for number, argv in enumerate(rounds):
    (folder / f"ready-{number}-{me}").touch()
    deadline = time.monotonic() + 120
    while len(list(folder.glob(f"ready-{number}-*"))) < 2:
        if time.monotonic() > deadline:
            sys.exit(f"round {number}: the other process never came")
        time.sleep(0.001)
    started = time.monotonic()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = "traceback"
    codes.append(code)
    print(f"round {number}: exit {code} after {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
(folder / f"codes-{me}.json").write_text(json.dumps(codes))
"""


def race(rounds: Sequence[Sequence[str]], folder: Path, timeout: float = 300) -> list[list[object]]:
    """Run each argv of `rounds` in two processes at the same instant; their exit codes, round by round."""
    folder.mkdir(parents=True, exist_ok=True)
    racers = [subprocess.Popen([sys.executable, "-c", RACE_SCRIPT, name, str(folder), json.dumps(list(rounds))],
                               stdout=open(folder / f"{name}.out", "w"), stderr=open(folder / f"{name}.err", "w"),
                               env=environment()) for name in ("a", "b")]
    try:
        for racer in racers:
            racer.wait(timeout)
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    codes = []
    for name, racer in zip(("a", "b"), racers):
        path = folder / f"codes-{name}.json"
        assert racer.returncode == 0 and path.exists(), \
            f"racer {name} exited {racer.returncode}: {(folder / f'{name}.err').read_text()[-3000:]}"
        codes.append(json.loads(path.read_text()))
    errors = {name: (folder / f"{name}.err").read_text() for name in ("a", "b")}
    assert all("Traceback" not in text for text in errors.values()), errors
    return [list(pair) for pair in zip(*codes)]
