"""Run the coefficient search as an Optuna study: one trial per candidate, resumable, several workers.

A fresh study is driven by Optuna's GridSampler over the candidate indices (its first N
trial numbers map one-to-one onto grid points, so parallel workers never pick the same
one). Candidates still missing afterwards (interrupted, or killed and failed by the
heartbeat) are enqueued as fixed trials and run in a follow-up pass. A trial whose
candidate already has a result, or is running elsewhere, yields without training.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna
import torch
from optuna.trial import TrialState
from tqdm import tqdm

from scalesearch.baselines import Baseline
from scalesearch.data import ImageDataset
from scalesearch.grid import Candidate, Scoring, candidate_record, train_candidate
from scalesearch.study import candidate_of, finished_candidates, is_result
from scalesearch.train import TrainConfig
from scalesearch.training.config import plan_budget

PRUNERS = ("none", "sha", "hyperband")


@dataclass(frozen=True)
class SearchJob:
    """Everything a worker needs to evaluate candidates."""

    baseline: Baseline
    data: ImageDataset
    candidates: tuple[Candidate, ...]
    scoring: Scoring
    config: TrainConfig
    seeds: tuple[int, ...]
    proxy_resolution: int
    prune: bool


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1), reduction_factor=3)
    return optuna.pruners.NopPruner()


class _CandidateGridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler, whose stop rule skips enqueued trials.

    Its `after_trial` reads the finished trial's grid id, which enqueued trials (follow-up
    passes, the retry of an interrupted candidate) do not have: a KeyError as soon as one
    grid point is left unvisited. Enqueued trials are run by count and need no stop rule.
    """

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        if "grid_id" in study._storage.get_trial_system_attrs(trial._trial_id):
            super().after_trial(study, trial, state, values)


def grid_sampler(job: SearchJob) -> optuna.samplers.GridSampler:
    return _CandidateGridSampler({"candidate": list(range(len(job.candidates)))}, seed=0)


def _claimed_elsewhere(study: optuna.Study, number: int, index: int) -> int | None:
    """The number of another trial that has a result for candidate `index`, or runs it and began first.

    Only an earlier running trial wins: two trials that pick the same candidate at once
    would otherwise each yield to the other, and nobody would train it.
    """
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                          TrialState.RUNNING)):
        if trial.number != number and candidate_of(trial) == index and \
                (is_result(trial) or (trial.state == TrialState.RUNNING and trial.number < number)):
            return trial.number
    return None


def make_objective(job: SearchJob) -> Callable[[optuna.Trial], float]:
    """The Optuna objective: count the candidate's cost, proxy-train it, return its reward."""

    final_epoch = len(plan_budget(job.config, len(job.data.train_labels)).epoch_lengths())

    def objective(trial: optuna.Trial) -> float:
        index = trial.suggest_categorical("candidate", list(range(len(job.candidates))))
        record = candidate_record(job.baseline, job.candidates[index], job.scoring, job.proxy_resolution)
        for key, value in record.items():
            trial.set_user_attr(key, value)
        other = _claimed_elsewhere(trial.study, trial.number, index)
        if other is not None:
            trial.set_user_attr("duplicate_of", other)
            trial.study.stop()  # nothing left for this worker to claim
            raise optuna.TrialPruned()

        def on_epoch(epoch: int, accuracy: float) -> bool:
            trial.report(accuracy, epoch + 1)  # step = epochs trained, so SHA decides after epoch 1
            last = epoch + 1 >= final_epoch  # pruning after the last epoch would save nothing
            return job.prune and not last and trial.should_prune()

        try:
            result = train_candidate(job.baseline, record, job.scoring, job.data, job.config, list(job.seeds),
                                     on_epoch)
        except KeyboardInterrupt:
            trial.study.enqueue_trial({"candidate": index}, user_attrs={"retry_of": trial.number})
            raise
        for key, value in result.items():
            trial.set_user_attr(key, value)
        if result["status"] == "pruned":
            raise optuna.TrialPruned()
        return result["objective"]

    return objective


def missing_candidates(study: optuna.Study, total: int) -> list[int]:
    """Candidates with no result and no running or waiting trial."""
    busy = {candidate_of(t) for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    busy |= {t.system_attrs.get("fixed_params", {}).get("candidate")
             for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))}
    return sorted(set(range(total)) - finished_candidates(study) - busy)


def waiting_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


WorkerFactory = Callable[[], tuple[optuna.Study, SearchJob]]


def run_search(study: optuna.Study, job: SearchJob, open_job: WorkerFactory, workers: int,
               max_trials: int | None = None, progress: bool = True) -> optuna.Study:
    """Evaluate every candidate once (resuming what `study` already has), with `workers` processes.

    `study` and `job` are those `open_job` returns; `open_job` must be picklable when
    workers > 1: each process calls it to load the study and data itself. `max_trials`
    stops after that many new trials (for staged runs).
    """
    total = len(job.candidates)
    with _ProgressBar(study, total, progress) as bar:
        if not study.get_trials(deepcopy=False):
            _run_workers(open_job, study, job, workers, min(total, max_trials or total), bar)
            if max_trials is not None:
                return study
        while True:  # follow-up passes for interrupted or duplicated candidates, while they make progress
            for index in missing_candidates(study, total)[:max_trials]:
                study.enqueue_trial({"candidate": index})
            if not waiting_trials(study):
                break
            done = len(finished_candidates(study))
            _run_workers(open_job, study, job, workers, waiting_trials(study), bar)
            if max_trials is not None or len(finished_candidates(study)) == done:
                break
    return study


def _run_workers(open_job: WorkerFactory, study: optuna.Study, job: SearchJob, workers: int, n_trials: int,
                 bar: _ProgressBar) -> None:
    if workers <= 1:
        study.optimize(make_objective(job), n_trials=n_trials, callbacks=[bar.callback], catch=())
        return
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    processes = [context.Process(target=_worker_main, args=(open_job, n_trials, threads)) for _ in range(workers)]
    for process in processes:
        process.start()
    try:
        while any(p.is_alive() for p in processes):
            bar.refresh_from_study()
            time.sleep(1.0)
    finally:
        for process in processes:
            process.join()
    bar.refresh_from_study()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} worker(s) failed with exit codes {failed}")


def _worker_main(open_job: WorkerFactory, n_trials: int, threads: int) -> None:
    torch.set_num_threads(threads)
    study, job = open_job()
    study.optimize(make_objective(job), n_trials=n_trials, catch=())


class _ProgressBar:
    """Candidates done out of the grid, with tqdm's estimate of the time left."""

    def __init__(self, study: optuna.Study, total: int, enabled: bool) -> None:
        self.study = study
        done = len(finished_candidates(study))
        self.bar = tqdm(total=total, initial=done, desc="candidates", unit="cand", disable=not enabled,
                        dynamic_ncols=True)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def callback(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if is_result(trial):
            self.bar.update(1)
            accuracy = trial.user_attrs.get("accuracy")
            if accuracy is not None:
                self.bar.set_postfix(last=f"α={trial.user_attrs['alpha']:g} β={trial.user_attrs['beta']:g} "
                                          f"γ={trial.user_attrs['gamma']:g} acc={accuracy:.3f}")

    def refresh_from_study(self) -> None:
        done = len(finished_candidates(self.study))
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
