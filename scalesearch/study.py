"""A study in its storage: created once with its configuration and its networks queued, joined, read back.

Each distinct network is one Optuna trial, enqueued when the study is created (under a
lock, so that simultaneous creators end with one study); workers only pull waiting trials.
A rerun enqueues again only the networks that have no result and no trial waiting or running.
With `--prune screen` a network's first trial is its screening run, and the promoted networks
get a second one once every network is screened (scalesearch.screening).
"""

from __future__ import annotations

import math
from dataclasses import replace

import optuna
from optuna.trial import FrozenTrial, TrialState

from scalesearch import screening
from scalesearch.errors import UserError
from scalesearch.record import NetworkPlan, NetworkResult
from scalesearch.screening import PROMOTED_KEY, SCREEN_ATTR
from scalesearch.storage import Heartbeat, creation_lock, open_read_only, open_storage, redact, sqlite_path
from scalesearch.study_config import Pruning, StudyConfig, identity_difference

CONFIG_KEY = "scalesearch_config"
NETWORKS_KEY = "networks"
COMMAND_KEY = "command"  # the command line that created the study, when a command did
_HELD = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def make_pruner(pruning: Pruning, final_epoch: int) -> optuna.pruners.BasePruner:
    """Optuna's pruner for `pruning`; its first rung is `pruning.min_epoch` epochs."""
    if pruning.method == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=pruning.min_epoch,
                                                      reduction_factor=screening.REDUCTION_FACTOR)
    if pruning.method == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=pruning.min_epoch,
                                              max_resource=max(final_epoch, pruning.min_epoch),
                                              reduction_factor=screening.REDUCTION_FACTOR)
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
            _update_screen_noise(study, config)
        enqueue_missing(study, plans, config)
    return study


def _update_screen_noise(study: optuna.Study, config: StudyConfig) -> None:
    """A rerun that brings a screen noise (a new `--noise-from`) stores it in place of the study's: it trains
    nothing, and the ranking and report.md read it from the study."""
    stored = stored_config(study)
    if config.screen_noise is not None and config.screen_noise != stored.screen_noise:
        study.set_user_attr(CONFIG_KEY, replace(stored, screen_noise=config.screen_noise).to_dict())


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


def enqueue_missing(study: optuna.Study, plans: tuple[NetworkPlan, ...], config: StudyConfig) -> int:
    """Queue every network without a result or a waiting or running trial (under `--prune screen` its
    screening run, then the promoted networks' full trainings); returns how many were queued."""
    if config.pruning.method != "screen":
        return _enqueue(study, plans, screen=False)
    return _enqueue(study, plans, screen=True) + enqueue_promoted(study, config)


def enqueue_promoted(study: optuna.Study, config: StudyConfig) -> int:
    """Once every network of a screened study has its screening run: decide which are promoted (once,
    stored in the study) and queue their full trainings that are missing. 0 for any other study."""
    if config.pruning.method != "screen":
        return 0
    screens = _first_results(study, screen=True)
    if len(screens) < network_count(study):
        return 0
    promoted = study.user_attrs.get(PROMOTED_KEY)
    if promoted is None:  # two workers deciding at once store the same decision: it follows from the results
        promoted = list(screening.promote(screens.values(), config.probe_measures_noise))
        study.set_user_attr(PROMOTED_KEY, promoted)
    return _enqueue(study, tuple(screens[index].plan for index in promoted), screen=False)


def _enqueue(study: optuna.Study, plans: tuple[NetworkPlan, ...], *, screen: bool) -> int:
    held = {t.user_attrs.get("network") for t in study.get_trials(deepcopy=False, states=_HELD)
            if is_screen(t) == screen}
    missing = [plan for plan in plans if plan.index not in held]
    stage = {SCREEN_ATTR: True} if screen else {}
    for plan in missing:
        study.enqueue_trial({"network": plan.index}, user_attrs={**plan.to_attrs(), **stage})
    return len(missing)


def has_earlier_twin(trial: optuna.Trial) -> bool:
    """Whether a trial of the same network and stage, numbered before `trial`, is waiting, running or done:
    then `trial` is a duplicate (two workers queued the same promoted network at the same moment)."""
    network, screen = trial.user_attrs.get("network"), bool(trial.user_attrs.get(SCREEN_ATTR))
    return any(t.number < trial.number and t.user_attrs.get("network") == network and is_screen(t) == screen
               for t in trial.study.get_trials(deepcopy=False, states=_HELD))


def is_screen(trial: FrozenTrial) -> bool:
    """A screening run (`--prune screen`), not a network's full training."""
    return bool(trial.user_attrs.get(SCREEN_ATTR))


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
    """One result per network (its first), in network order; in a screened study, the networks decided so
    far: a promoted network's full training, another's screening run (scalesearch.screening.merge)."""
    results = _first_results(study, screen=False)
    screens = _first_results(study, screen=True)
    if screens:
        results = screening.merge(results, screens, study.user_attrs.get(PROMOTED_KEY))
    return [results[index] for index in sorted(results)]


def screen_check(study: optuna.Study, config: StudyConfig) -> screening.LeftOutCheck | None:
    """What the screen's seed noise (`config.screen_noise`) says about the networks a decided screen left out;
    None for a study that does not screen, before the decision, or when it left nothing out."""
    promoted = study.user_attrs.get(PROMOTED_KEY)
    if config.pruning.method != "screen" or promoted is None:
        return None
    return screening.check_left_out(screen_results(study), promoted, config.screen_noise, config.pruning.min_epoch)


def screen_results(study: optuna.Study) -> list[NetworkResult]:
    """Every network's screening run (`--prune screen`), in network order; empty for a study that does not screen."""
    screens = _first_results(study, screen=True)
    return [screens[index] for index in sorted(screens)]


def _first_results(study: optuna.Study, *, screen: bool) -> dict[int, NetworkResult]:
    results: dict[int, NetworkResult] = {}
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if is_result(trial) and is_screen(trial) == screen and trial.user_attrs["network"] not in results:
            results[trial.user_attrs["network"]] = NetworkResult.from_attrs(trial.user_attrs)
    return results


def epochs_trained(study: optuna.Study) -> float:
    """The epochs of every training the study recorded, summed over seeds, screening runs included."""
    return sum(r.epochs_trained for screen in (False, True) for r in _first_results(study, screen=screen).values())


def wall_span(study: optuna.Study) -> float:
    """Seconds from the first finished trial's start to the last one's end: the study's wall time, read back
    from its own timestamps (0.0 before any trial has finished)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.datetime_start and t.datetime_complete]
    if not trials:
        return 0.0
    return (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()


def trainings_done(study: optuna.Study) -> int:
    """Trainings with a result: networks, and in a screened study also their screening runs."""
    return len({(t.user_attrs["network"], is_screen(t)) for t in study.get_trials(deepcopy=False) if is_result(t)})


def planned_trainings(study: optuna.Study, config: StudyConfig) -> int:
    """Trainings the study will record: one per network, plus the screening runs of a screened study."""
    if config.pruning.method != "screen":
        return network_count(study)
    return screening.planned_trainings(network_count(study), study.user_attrs.get(PROMOTED_KEY))


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
