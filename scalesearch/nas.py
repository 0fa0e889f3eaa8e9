"""The architecture search: Optuna's samplers over the MnasNet space, each sample trained by the runner.

    TPE        maximises the reward ACC·(MACs/T)^w;
    NSGA-II    maximises accuracy and minimises MACs (a Pareto front; Optuna cannot prune it);
    random     the control every NAS claim is measured against.

Each trial suggests its choices, builds the spec and proxy-trains it with `runner.train_trial`
(accuracy reported per epoch, so the study's pruner may stop it). A sample that builds a
network already trained reuses that result and is marked `duplicate_of`. Trial 0 is the
skeleton itself when it is in the space: the noise probe, trained with the probe's seeds.
Workers optimise until the study holds the wanted number of finished trials.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from scalesearch.baselines import SpecBaseline, portable_baseline, resolve_baseline
from scalesearch.cost import spec_cost
from scalesearch.errors import UserError
from scalesearch.nas_space import SearchSpace, SpaceLists, architecture_key, describe
from scalesearch.objective import Scoring
from scalesearch.record import NetworkPlan, NetworkResult
from scalesearch.runner import Prepared, prepare_worker, train_trial
from scalesearch.scaling import Multipliers
from scalesearch.study import NETWORKS_KEY, network_count
from scalesearch.study_config import DataConfig, Point, Pruning, StudyConfig
from scalesearch.train import TrainConfig

SAMPLERS = ("tpe", "nsga2", "random")
DEFAULT_TARGET_MACS = 400e6
MAX_TRIALS = 10_000
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def directions(sampler: str) -> tuple[str, ...]:
    """The study's objectives: the reward, or accuracy and MACs for NSGA-II."""
    return ("maximize", "minimize") if sampler == "nsga2" else ("maximize",)


def load_skeleton(text: str) -> SpecBaseline:
    """The skeleton named by a zoo name, a spec file or inline JSON; a factory has no stages to search."""
    baseline = resolve_baseline(text)
    if not isinstance(baseline, SpecBaseline):
        raise UserError(f"the skeleton must be a spec (a zoo name or a spec .json), not the factory {text}")
    return baseline


def nas_study(skeleton: str, *, lists: SpaceLists = SpaceLists(), sampler: str = "tpe",
              target_macs: float = DEFAULT_TARGET_MACS, w: float = -0.07, hard: bool = False,
              data: DataConfig = DataConfig(), training: TrainConfig = TrainConfig(), seeds: tuple[int, ...] = (0,),
              proxy_resolution: int = 32, pruning: Pruning = Pruning("none"), noise_seeds: int = 3) -> StudyConfig:
    """The configuration of a search; UserError for a sampler, skeleton, space or target that cannot work.

    The one point is the skeleton (the noise probe); the sampled networks are the trials.
    """
    if sampler not in SAMPLERS:
        raise UserError(f"unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}")
    if sampler == "nsga2" and pruning.method != "none":
        raise UserError("NSGA-II searches two objectives, which Optuna cannot prune: use --prune none")
    if pruning.method == "screen":
        raise UserError("a search samples its networks one at a time, so it cannot screen them all first: "
                        "use --prune sha or hyperband")
    space = SearchSpace(load_skeleton(skeleton).spec, lists)
    check_target(space, target_macs)
    return StudyConfig(kind="nas", baseline=portable_baseline(skeleton),
                       points=(Point.of({"architecture": "skeleton"}, Multipliers()),),
                       scoring=Scoring(target_macs, w, hard), data=data, training=training, seeds=seeds,
                       proxy_resolution=proxy_resolution, pruning=pruning, noise_seeds=noise_seeds,
                       settings=(("sampler", sampler), ("space", lists.to_dict()), ("space_size", space.size)))


def check_target(space: SearchSpace, target_macs: float) -> None:
    """UserError when no network of the space comes near T: T below the smallest or above the largest."""
    low, high = (spec_cost(space.extreme(largest)).macs for largest in (False, True))
    if not low <= target_macs <= high:
        raise UserError(f"no network of the search space meets T = {target_macs:,.0f} MACs: they range from "
                        f"{low:,} to {high:,} MACs at {space.skeleton.resolution} px")


def space_of(config: StudyConfig) -> SearchSpace:
    settings = dict(config.settings)
    return SearchSpace(load_skeleton(config.baseline).spec, SpaceLists.from_dict(settings["space"]))


def make_sampler(config: StudyConfig, target: int, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """Optuna's sampler of the study, seeded with its first seed (+ `seed_offset`, one per worker process).

    TPE's random start-up (Optuna: 10 trials) and NSGA-II's population (Optuna: 50) are a quarter of the
    trials when that is fewer, so that a small search is guided for most of its trials.
    """
    sampler, seed = dict(config.settings)["sampler"], config.seeds[0] + seed_offset
    if sampler == "tpe":
        return optuna.samplers.TPESampler(n_startup_trials=min(10, max(2, target // 4)), seed=seed)
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=min(50, max(2, target // 4)), seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def search(study: optuna.Study, prepared: Prepared, target: int, *, device: str | None = None,
           on_trial: Callable[[], None] | None = None, seed_offset: int = 0) -> None:
    """Sample, train and record architectures until `study` holds `target` finished trials."""
    config = prepared.config.for_worker(device)
    space = space_of(config)
    if network_count(study) < target:
        study.set_user_attr(NETWORKS_KEY, target)
    if not study.get_trials(deepcopy=False):
        enqueue_skeleton(study, space)
    study.sampler = make_sampler(config, target, seed_offset)
    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = [
        optuna.study.MaxTrialsCallback(target, states=FINISHED)]
    if on_trial is not None:
        callbacks.append(lambda _study, _trial: on_trial())
    missing = target - len(study.get_trials(deepcopy=False, states=FINISHED))
    if missing > 0:
        study.optimize(objective(space, replace(prepared, config=config)), n_trials=missing, callbacks=callbacks)


def join_search(study: optuna.Study, config: StudyConfig, device: str | None, target: int) -> None:
    """A worker process's part: search on the joined study, its sampler seeded apart by the process id."""
    search(study, prepare_worker(config), target, device=device, seed_offset=os.getpid())


def enqueue_skeleton(study: optuna.Study, space: SearchSpace) -> None:
    """Queue the skeleton as the first trial (the noise probe) when the space holds it."""
    try:
        choices = space.choices_of(space.skeleton)
    except UserError:
        return
    study.enqueue_trial(space.params(choices))


def objective(space: SearchSpace, prepared: Prepared) -> Callable[[optuna.Trial], Any]:
    """The trial function: suggest, build, reuse or train, return the reward (or accuracy and MACs)."""
    config = prepared.config
    multi = len(directions(dict(config.settings)["sampler"])) > 1

    def run(trial: optuna.Trial) -> Any:
        choices = space.suggest(trial)
        spec = space.to_spec(choices)
        key = architecture_key(spec)
        trial.set_user_attr("architecture", key)
        trial.set_user_attr("choices", describe(choices))
        earlier = trained(trial.study, key)
        if earlier is not None:
            result = reuse(trial, earlier, multi)
        else:
            baseline = SpecBaseline(spec)
            plan = sample_plan(trial.number, baseline, config.proxy_resolution)
            result = train_trial(trial, plan, replace(prepared, baselines={**prepared.baselines,
                                                                           plan.baseline: baseline}))
        return (result.accuracy, result.plan.macs) if multi else result.objective

    return run


def sample_plan(number: int, baseline: SpecBaseline, proxy_resolution: int) -> NetworkPlan:
    """The plan of trial `number`'s network: its nominal cost, its spec inline as its baseline."""
    cost = baseline.cost(Multipliers())
    return NetworkPlan(index=number, points=({"trial": number},), multipliers=Multipliers(),
                       resolution=baseline.resolution,
                       proxy_resolution=baseline.resolution_for(Multipliers(), proxy_resolution), epochs=None,
                       macs=cost.macs, params=cost.params, activations=cost.activations, probe=number == 0,
                       baseline=baseline.spec.to_json(indent=None))


def trained(study: optuna.Study, key: str) -> FrozenTrial | None:
    """The first finished, trained (not reused) trial of architecture `key`."""
    return next((t for t in study.get_trials(deepcopy=False, states=FINISHED)
                 if t.user_attrs.get("architecture") == key and is_trained(t)), None)


def is_trained(trial: FrozenTrial) -> bool:
    return "status" in trial.user_attrs and "duplicate_of" not in trial.user_attrs


def reuse(trial: optuna.Trial, earlier: FrozenTrial, multi: bool) -> NetworkResult:
    """Record `earlier`'s result as `trial`'s, marked as a duplicate; replay its accuracies to the pruner."""
    result = NetworkResult.from_attrs(earlier.user_attrs)
    for key, value in result.to_attrs().items():
        trial.set_user_attr(key, value)
    trial.set_user_attr("duplicate_of", earlier.number)
    if not multi:
        for epoch, accuracy in enumerate(result.histories[0]):
            trial.report(accuracy, epoch + 1)
    if result.status == "pruned":
        raise optuna.TrialPruned()
    return result


def search_results(study: optuna.Study) -> list[NetworkResult]:
    """One result per trained architecture, in trial order (duplicates left out)."""
    trials = sorted(study.get_trials(deepcopy=False, states=FINISHED), key=lambda t: t.number)
    return [NetworkResult.from_attrs(t.user_attrs) for t in trials if is_trained(t)]


def pareto_front(results: Sequence[NetworkResult]) -> list[NetworkResult]:
    """The networks trained to the end that no other beats in both accuracy and MACs, by MACs."""
    front: list[NetworkResult] = []
    for result in sorted((r for r in results if r.status == "ok"), key=lambda r: (r.plan.macs, -r.accuracy)):
        if not front or result.accuracy > front[-1].accuracy:
            front.append(result)
    return front


def best_result(results: Sequence[NetworkResult], config: StudyConfig) -> NetworkResult | None:
    """The best network: by reward, or for NSGA-II the Pareto point nearest T (in log MACs)."""
    finished = [r for r in results if r.status == "ok"]
    if not finished:
        return None
    if dict(config.settings)["sampler"] == "nsga2":
        target = config.scoring.target_macs
        return min(pareto_front(finished), key=lambda r: (abs(math.log(r.plan.macs / target)), -r.accuracy))
    return max(finished, key=lambda r: r.objective)


def hypervolume(results: Sequence[NetworkResult], reference_macs: float) -> float:
    """The area of (accuracy, log10 MACs) that the Pareto front dominates, from the reference point
    (accuracy 0, `reference_macs`): larger is better; networks above the reference do not count."""
    area, previous = 0.0, 0.0
    for result in (r for r in pareto_front(results) if r.plan.macs < reference_macs):
        area += (result.accuracy - previous) * math.log10(reference_macs / result.plan.macs)
        previous = result.accuracy
    return area
