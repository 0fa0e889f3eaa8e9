"""The runner: takes a study's points to trained, recorded networks, on one process or many.

A worker pulls waiting trials only. When none is waiting but some run elsewhere, it waits:
they finish, or their heartbeat goes stale, Optuna fails them and its retry callback queues
them again for whoever is free. The runner does not know where points come from.

    run(config, storage_url, study_name)      # validate, create or resume, work
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import optuna
import torch
from optuna.trial import TrialState
from tqdm import tqdm

from scalesearch.baselines import Baseline, check_model
from scalesearch.data import ImageDataset
from scalesearch.errors import UserError
from scalesearch.record import NetworkPlan, NetworkResult, load_baselines, plan_networks
from scalesearch.storage import Heartbeat
from scalesearch.study import (create_or_resume, enqueue_promoted, final_epoch, has_earlier_twin, is_screen,
                               join_study, planned_trainings, trainings_done)
from scalesearch.study_config import StudyConfig
from scalesearch.train import train_proxy

POLL_SECONDS = 2.0
LocalWork = Callable[..., None]  # (study, prepared, *, device, on_trial)
JoinedWork = Callable[[optuna.Study, StudyConfig, str | None], None]


@dataclass(frozen=True)
class Prepared:
    """A validated configuration with what it needs loaded: nothing has been written yet."""

    config: StudyConfig
    baselines: Mapping[str | None, Baseline]
    data: ImageDataset
    plans: tuple[NetworkPlan, ...]

    def baseline_of(self, plan: NetworkPlan) -> Baseline:
        return self.baselines[plan.baseline]


def prepare(config: StudyConfig) -> Prepared:
    """Load the baselines and data, check every setting and the models, plan the distinct networks."""
    baselines = load_baselines(config)
    data = config.data.load()
    config.validate_training(len(data.train_labels))
    plans = plan_networks(config, baselines)
    for name, baseline in baselines.items():
        own = [plan for plan in plans if plan.baseline == name]
        if own:
            largest = max(own, key=lambda p: p.macs)
            check_model(baseline, largest.multipliers, data.num_classes, largest.proxy_resolution)
    return Prepared(config, baselines, data, plans)


def run(config: StudyConfig, storage_url: str, study_name: str, *, workers: int = 1,
        heartbeat: Heartbeat = Heartbeat(), progress: bool = True) -> optuna.Study:
    """Create or resume the study and train every network that has no result yet."""
    prepared = prepare(config)
    study = create_or_resume(config, prepared.plans, storage_url, study_name, heartbeat)
    work_on(study, prepared, storage_url, workers=workers, heartbeat=heartbeat, progress=progress)
    return study


def work_on(study: optuna.Study, prepared: Prepared, storage_url: str, *, workers: int = 1,
            heartbeat: Heartbeat = Heartbeat(), progress: bool = True, here: LocalWork | None = None,
            joined: JoinedWork | None = None) -> None:
    """Work on `study` here (one worker) or in `workers` processes, with a bar of networks done.

    `here(study, prepared, device=None, on_trial=...)` is the work of this process (default `work`);
    a worker process joins the study and runs `joined(study, config, device)` (default `work` too).
    """
    with _Progress(study, prepared.config, progress) as bar:
        if workers == 1:
            (here or work)(study, prepared, device=None, on_trial=bar.refresh)
            return
        devices = worker_devices(prepared.config.training.device, workers)
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")
        processes = [context.Process(target=worker_main, args=(storage_url, study.study_name, device, threads,
                                                               heartbeat.interval, joined))
                     for device in devices]
        for process in processes:
            process.start()
        try:
            while any(p.is_alive() for p in processes):
                bar.refresh()
                time.sleep(1.0)
        except KeyboardInterrupt:  # the workers got it too: each fails its trial and exits
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
            raise
        for process in processes:
            process.join()
        bar.refresh()
        codes = [p.exitcode for p in processes if p.exitcode != 0]
        if codes and all(code == 130 for code in codes):  # Ctrl-C reached the workers; this process may have
            raise KeyboardInterrupt                       # lost it inside a library call: interrupted all the same
        if codes:
            raise UserError(f"{len(codes)} of {workers} workers failed (exit codes {codes}); "
                            f"rerun the same command to resume")


def default_workers(device: str, waiting: int) -> int:
    """Worker processes when none are asked for: one per GPU on CUDA, else one per CPU core
    (`work_on` gives each 1 torch thread); at least 1, at most the `waiting` networks.

    At the proxy's small batches one training does not keep two CPU threads busy: on a 2-core CPU
    the demo grid took 0.87x and 0.97x the time with 2 workers as with 1 (benchmarks/workers.md).
    """
    if device in ("auto", "cuda") and torch.cuda.is_available():
        workers = torch.cuda.device_count()
    elif device.startswith("cuda"):
        workers = 1
    else:
        workers = os.cpu_count() or 1
    return max(1, min(workers, waiting))


def worker_devices(device: str, workers: int) -> list[str]:
    """One device per worker: the GPUs in turn when the device is auto or plain cuda, else `device`."""
    if device in ("auto", "cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        return [f"cuda:{i % count}" for i in range(workers)]
    return [device] * workers


def worker_main(storage_url: str, study_name: str, device: str | None, threads: int,
                heartbeat_interval: float, joined: JoinedWork | None = None) -> None:
    """Entry point of a worker process: join the study from its storage and work until nothing is left."""
    torch.set_num_threads(threads)
    try:
        study, config = join_study(storage_url, study_name, Heartbeat(heartbeat_interval))
        if joined is None:
            work(study, prepare_worker(config), device=device)
        else:
            joined(study, config, device)
    except KeyboardInterrupt:  # raised inside a trial only (see _Interrupts): no heartbeat thread is left
        sys.exit(130)
    except UserError as exc:
        print(f"scalesearch worker: error: {exc}", file=sys.stderr)
        sys.exit(2)


def prepare_worker(config: StudyConfig) -> Prepared:
    """What a joining worker needs: the baselines and data; the networks come from the waiting trials."""
    return Prepared(config, load_baselines(config), config.data.load(), ())


class _SpareTrial(Exception):
    """The waiting trial this worker went for was taken by another one; its empty trial is closed."""


class _Interrupts:
    """Ctrl-C raised inside a trial only (Optuna then fails it and stops its heartbeat), deferred outside one.

    An interrupt between Optuna's taking of a trial and the start of its heartbeat would leave
    a RUNNING trial that never goes stale; deferred, it is raised as the trial's objective begins.
    """

    def __init__(self) -> None:
        self.inside = False
        self.pending = False

    def __enter__(self) -> _Interrupts:
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, _signum: int, _frame: object) -> None:
        if self.inside:
            raise KeyboardInterrupt
        self.pending = True

    def enter_trial(self) -> None:
        self.inside = True
        self.raise_pending()

    def raise_pending(self) -> None:
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def work(study: optuna.Study, prepared: Prepared, *, device: str | None,
         on_trial: Callable[[], None] | None = None) -> None:
    """Train waiting networks until none is waiting or running anywhere (and, in a screened study, the
    promoted networks once every screening run is done)."""
    config = prepared.config.for_worker(device)
    callbacks = [lambda _study, _trial: on_trial()] if on_trial else []
    with _Interrupts() as interrupts:
        objective = _objective(replace(prepared, config=config), interrupts)
        while True:
            interrupts.raise_pending()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                study.optimize(objective, n_trials=1, catch=(_SpareTrial,), callbacks=callbacks)
            elif study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                time.sleep(POLL_SECONDS)
            elif not enqueue_promoted(study, config):  # a screened study's second stage, once
                return


def _objective(prepared: Prepared, interrupts: _Interrupts) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        interrupts.enter_trial()
        try:
            return _evaluate(trial, prepared)
        finally:
            interrupts.inside = False

    return objective


def _evaluate(trial: optuna.Trial, prepared: Prepared) -> float:
    """Train the trial's network, record its result, and return its objective (or raise TrialPruned)."""
    if "network" not in trial.user_attrs or has_earlier_twin(trial):
        trial.set_user_attr("spare", True)
        raise _SpareTrial()
    plan = NetworkPlan.from_attrs(trial.user_attrs)
    trial.suggest_int("network", plan.index, plan.index)
    return train_trial(trial, plan, prepared, screen=is_screen(trial)).objective


def train_trial(trial: optuna.Trial, plan: NetworkPlan, prepared: Prepared, *, screen: bool = False) -> NetworkResult:
    """Train `plan` as `trial` (its screening run when `screen`): per-epoch accuracy reported to the pruner
    (single-objective studies), the result recorded as the trial's attributes; TrialPruned when the pruner
    stopped it."""
    config, last_epoch = prepared.config, final_epoch(prepared.config)
    single = len(trial.study.directions) == 1  # Optuna prunes single-objective studies only
    prune = single and config.pruning.on_epochs and not plan.probe
    history: list[float] = []

    def on_epoch(epoch: int, accuracy: float) -> bool:
        history.append(accuracy)
        trial.set_user_attr("accuracy_so_far", history)
        if single:
            trial.report(accuracy, epoch + 1)
        return prune and epoch + 1 < last_epoch and trial.should_prune()

    result = train_network(plan, prepared, on_epoch, screen=screen)
    for key, value in result.to_attrs().items():
        trial.set_user_attr(key, value)
    if result.status == "pruned":
        raise optuna.TrialPruned()
    return result


def train_network(plan: NetworkPlan, prepared: Prepared, on_epoch: Callable[[int, float], bool] | None = None,
                  *, screen: bool = False) -> NetworkResult:
    """Proxy-train `plan` once per seed (the probe's seeds for the noise probe) and score the mean; with
    `screen`, its screening run: `pruning.min_epoch` epochs, the study's seeds.

    Weights come from the seed alone. `on_epoch` sees the first seed's accuracies and may
    prune; a pruned or diverged seed ends the network's training.
    """
    config = prepared.config
    seeds = config.probe_seeds if plan.probe and not screen else config.seeds
    training = config.training
    if training.evaluate_every_epoch is None:
        training = replace(training, evaluate_every_epoch=config.needs_epoch_accuracy)
    epochs = config.pruning.min_epoch if screen else plan.epochs
    if epochs is not None:
        training = replace(training, epochs=epochs, images=None)
    started = time.perf_counter()
    accuracies, histories, epochs, status = [], [], 0.0, "ok"
    for number, seed in enumerate(seeds):
        torch.manual_seed(seed)
        model = prepared.baseline_of(plan).build(plan.multipliers, prepared.data.num_classes)
        outcome = train_proxy(model, prepared.data, plan.proxy_resolution, replace(training, seed=seed),
                              on_epoch if number == 0 else None)
        accuracies.append(outcome.top1)
        histories.append(outcome.history)
        epochs += outcome.epochs_completed
        if outcome.status != "ok":
            status = outcome.status
            break
    accuracy = sum(accuracies) / len(accuracies)
    return NetworkResult(plan=plan, status=status, seeds=tuple(seeds[:len(accuracies)]),
                         accuracies=tuple(accuracies), histories=tuple(histories), epochs_trained=epochs,
                         wall_seconds=time.perf_counter() - started,
                         objective=config.scoring.score(accuracy, plan.macs))


class _Progress:
    """Trainings with a result out of those planned (one per network, plus a screened study's screening
    runs), with tqdm's estimate of the time left."""

    def __init__(self, study: optuna.Study, config: StudyConfig, enabled: bool) -> None:
        self.study, self.config = study, config
        self.screened = config.pruning.method == "screen"
        self.bar = tqdm(total=planned_trainings(study, config), initial=self._done(),
                        desc="trainings" if self.screened else "networks", unit="run" if self.screened else "net",
                        disable=not enabled, dynamic_ncols=True)

    def _done(self) -> int:
        return trainings_done(self.study)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def refresh(self) -> None:
        if self.screened:  # the total is known once the screen is decided
            self.bar.total = planned_trainings(self.study, self.config)
        done = self._done()
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
