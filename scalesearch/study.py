"""A study in its storage: created once with its configuration and its networks queued, joined, read back.

Each distinct network is one Optuna trial, enqueued when the study is created (under a
lock, so that simultaneous creators end with one study); workers only pull waiting trials.
A rerun enqueues again only the networks that have no result and no trial waiting or running.
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import FrozenTrial, TrialState

from scalesearch.errors import UserError
from scalesearch.record import NetworkPlan, NetworkResult
from scalesearch.storage import Heartbeat, creation_lock, open_read_only, open_storage, redact, sqlite_path
from scalesearch.study_config import Pruning, StudyConfig, identity_difference

CONFIG_KEY = "scalesearch_config"
NETWORKS_KEY = "networks"
COMMAND_KEY = "command"  # the command line that created the study, when a command did
_HELD = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def make_pruner(pruning: Pruning, final_epoch: int) -> optuna.pruners.BasePruner:
    """Optuna's pruner for `pruning`; its first rung is `pruning.min_epoch` epochs."""
    if pruning.method == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=pruning.min_epoch, reduction_factor=3)
    if pruning.method == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=pruning.min_epoch,
                                              max_resource=max(final_epoch, pruning.min_epoch), reduction_factor=3)
    return optuna.pruners.NopPruner()


def final_epoch(config: StudyConfig) -> int:
    return math.ceil(max(p.epochs or config.training.epochs for p in config.points))


def create_or_resume(config: StudyConfig, plans: tuple[NetworkPlan, ...], url: str, name: str,
                     heartbeat: Heartbeat = Heartbeat(), command: str | None = None,
                     directions: tuple[str, ...] = ("maximize",)) -> optuna.Study:
    """The study `name` with every network of `plans` trained, queued or running.

    A new study stores `config` (and `command`, the command line creating it, when given) and
    queues all networks; an existing one must have been created with the same configuration
    (run-only settings aside), and gets its missing networks queued. `directions` are the new
    study's objectives (one: the reward).
    """
    with creation_lock(url, name):
        storage = open_storage(url, heartbeat)
        pruner = make_pruner(config.pruning, final_epoch(config))
        try:
            study = optuna.load_study(study_name=name, storage=storage, pruner=pruner)
        except KeyError:
            study = optuna.create_study(study_name=name, storage=storage, directions=list(directions),
                                        pruner=pruner)
            study.set_user_attr(CONFIG_KEY, config.to_dict())
            study.set_user_attr(NETWORKS_KEY, len(plans))
            if command is not None:
                study.set_user_attr(COMMAND_KEY, command)
        else:
            _check_same_config(study, config)
        enqueue_missing(study, plans)
    return study


def read_finished_study(url: str, name: str, config: StudyConfig) -> optuna.Study:
    """Study `name` of a read-only SQLite storage, if it was made with `config` and every network has a result."""
    try:
        study = optuna.load_study(study_name=name, storage=open_read_only(url))
    except KeyError:
        raise UserError(f"no study {name!r} in the read-only storage {url}") from None
    _check_same_config(study, config)
    missing = network_count(study) - len(study_results(study))
    if missing:
        raise UserError(f"study {name!r} is read-only and {missing} of {network_count(study)} networks have no "
                        f"result; make {sqlite_path(url)} and its folder writable to finish it")
    return study


def _check_same_config(study: optuna.Study, config: StudyConfig) -> None:
    stored = stored_config(study).identity()
    wanted = config.identity()
    if stored != wanted:
        raise UserError(f"study {study.study_name!r} was created with other settings "
                        f"({identity_difference(stored, wanted)}); rerun with those settings or pick another "
                        f"--study name")


def enqueue_missing(study: optuna.Study, plans: tuple[NetworkPlan, ...]) -> int:
    """Queue every network without a result or a waiting or running trial; returns how many."""
    held = {t.user_attrs.get("network") for t in study.get_trials(deepcopy=False, states=_HELD)}
    missing = [plan for plan in plans if plan.index not in held]
    for plan in missing:
        study.enqueue_trial({"network": plan.index}, user_attrs=plan.to_attrs())
    return len(missing)


def join_study(url: str, name: str, heartbeat: Heartbeat = Heartbeat()) -> tuple[optuna.Study, StudyConfig]:
    """Open an existing study and the configuration stored in it."""
    storage = open_storage(url, heartbeat)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise UserError(f"no study {name!r} in {redact(url)}; create it first with `scalesearch grid` (or "
                        f"`calibrate`) `... --storage URL --study {name} --no-work`") from None
    config = stored_config(study)
    study.pruner = make_pruner(config.pruning, final_epoch(config))
    return study, config


def is_result(trial: FrozenTrial) -> bool:
    """A trial that trained its network to the end, diverged, or was pruned."""
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) and "status" in trial.user_attrs


def study_results(study: optuna.Study) -> list[NetworkResult]:
    """One result per network (its first), in network order."""
    results: dict[int, NetworkResult] = {}
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if is_result(trial) and trial.user_attrs["network"] not in results:
            results[trial.user_attrs["network"]] = NetworkResult.from_attrs(trial.user_attrs)
    return [results[index] for index in sorted(results)]


def waiting_networks(study: optuna.Study) -> int:
    """Trials queued and not yet started: the work a new worker could take."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def network_count(study: optuna.Study) -> int:
    return int(study.user_attrs.get(NETWORKS_KEY, 0))


def stored_config(study: optuna.Study) -> StudyConfig:
    stored = study.user_attrs.get(CONFIG_KEY)
    if stored is None:
        raise UserError(f"study {study.study_name!r} was not created by scalesearch; pick another --study name")
    return StudyConfig.from_dict(stored)


def stored_command(study: optuna.Study) -> str | None:
    """The command line that created the study; None for a study made from Python."""
    return study.user_attrs.get(COMMAND_KEY)
