"""Calibration: does a proxy budget rank networks like a longer one? The study, and its analysis from storage.

A *spread set* of networks (the baseline scaled by compound φ, plus depth-, width- and
resolution-only scaling at the MACs of φ = 1) is trained at each budget of a ladder of
epochs with K seeds each. Each (network, budget) is one point of a `StudyConfig` of kind
"calibrate", so the runner trains, merges, resumes and distributes it like any study.
The analysis reads only the study's results (`analyse_study`), so it can be redone from
the storage at any time:

    config = calibrate_study("efficientnet-b0", ladder=(1, 2, 4, 8, 16), seeds=(0, 1))
    study = runner.run(config, storage_url, "calibrate-efficientnet-b0")
    calibration = analyse_study(study)      # .table, .recommended, .agreement, .first_rung
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import optuna
import pandas as pd

from scalesearch import fidelity
from scalesearch.baselines import Baseline, portable_baseline, resolve_baseline
from scalesearch.errors import UserError
from scalesearch.matching import DIMENSIONS, check_dimension, find_macs_match
from scalesearch.objective import Scoring
from scalesearch.record import NetworkResult, plan_networks
from scalesearch.scaling import Multipliers, check_phi, compound, scale_resolution
from scalesearch.spec import MAX_RESOLUTION
from scalesearch.study import network_count, study_results
from scalesearch.study_config import (FIELDS_ADDED_LATER, MAX_SEEDS, RUN_ONLY_TRAINING_FIELDS, DataConfig, KnownNoise,
                                      Point, Pruning, StudyConfig, identity_difference)
from scalesearch.train import TrainConfig

DEFAULT_PHIS = (-2.0, -1.0, 0.0, 1.0)
DEFAULT_COEFFICIENTS = (1.2, 1.1, 1.15)  # the paper's α, β, γ
DEFAULT_SINGLE = DIMENSIONS  # depth-only, width-only and resolution-only networks
SINGLE_PHI = 1.0  # the single-dimension networks match the MACs of compound scaling at this φ
DEFAULT_LADDER = (1.0, 2.0, 4.0, 8.0, 16.0)
DEFAULT_SEEDS = 2
MIN_NETWORKS = 3  # a ranking of two networks has one pair: τ is ±1 and says nothing
MIN_SEEDS = 2  # σ needs two seeds
MAX_BUDGETS = 12
MAX_EPOCHS = 1000.0  # a budget is in (0, MAX_EPOCHS] epochs, like --epochs
MAX_PHIS = 20
CALIBRATION_KEY = "calibration"  # the study's user attribute with the measured σ per budget
RUN_COLUMNS = [*fidelity.RUN_COLUMNS, "status", "macs", "d", "w", "r", "proxy_resolution"]


# --- the spread set and the study ------------------------------------------------------------


def spread_set(baseline: Baseline, phis: Sequence[float] = DEFAULT_PHIS,
               coefficients: Sequence[float] = DEFAULT_COEFFICIENTS,
               single: Sequence[str] = DEFAULT_SINGLE, single_phi: float = SINGLE_PHI) -> list[tuple[str, Multipliers]]:
    """The networks to calibrate on: (name, multipliers), in order.

    "phi=φ" for each φ of `phis`: compound scaling by `coefficients` (α, β, γ) at φ. Then, for each
    dimension of `single`, "<dimension>-only": that dimension alone scaled to the MACs of compound
    scaling at `single_phi` (`matching.match_macs`; its mismatch is in `spread_details`).
    """
    return [(name, multipliers) for name, multipliers, _ in spread_details(baseline, phis, coefficients, single,
                                                                            single_phi)]


def spread_details(baseline: Baseline, phis: Sequence[float] = DEFAULT_PHIS,
                   coefficients: Sequence[float] = DEFAULT_COEFFICIENTS, single: Sequence[str] = DEFAULT_SINGLE,
                   single_phi: float = SINGLE_PHI) -> list[tuple[str, Multipliers, float]]:
    """`spread_set` with each network's MACs mismatch against its target (0.0 for compound networks)."""
    phis = check_phis(phis)
    alpha, beta, gamma = _coefficients(coefficients)
    single = check_single(single)
    networks = [(f"phi={phi:g}", compound(alpha, beta, gamma, phi), 0.0) for phi in phis]
    if single:
        target = baseline.cost(compound(alpha, beta, gamma, check_phi(single_phi))).macs
        for dimension in single:
            match = find_macs_match(baseline, dimension, target)
            networks.append((f"{dimension}-only", match.multipliers, match.mismatch))
    return networks


def calibrate_study(baseline: str, *, phis: Sequence[float] | None = None,
                    coefficients: Sequence[float] = DEFAULT_COEFFICIENTS, single: Sequence[str] = DEFAULT_SINGLE,
                    ladder: Sequence[float] = DEFAULT_LADDER, seeds: Sequence[int] = (0, 1),
                    data: DataConfig = DataConfig(), training: TrainConfig = TrainConfig(),
                    proxy_resolution: int = 32, resolution: int | None = None,
                    say: Callable[[str], None] | None = None) -> StudyConfig:
    """The configuration of a calibration of `baseline`: every spread network at every budget of `ladder`.

    `phis` of None takes DEFAULT_PHIS without those whose proxy resolution would fall below the
    baseline's smallest resolution, half its total stride (for EfficientNet-B0 at 16 px: φ = −2 and −1); the
    settings list them under "left_out". Given phis must all be trainable (UserError otherwise).
    `say`, when given, hears what is done after the inputs are checked (phis left out, the
    MACs matching, which can take a minute for a large baseline).

    One point per (network, budget), labelled {"network": name, "budget": epochs}, whose epochs
    override the training budget; every network is trained with every seed of `seeds`, without
    pruning; the objective is the accuracy (w = 0, T = the baseline's MACs). The training's own
    epochs are set to the largest budget and its image budget dropped; the settings keep the phis,
    coefficients, single dimensions, ladder, and each single-dimension network's MACs mismatch
    against its target ("mismatch", MACs/target − 1). UserError for fewer than 2 seeds, a ladder
    that is not strictly increasing or has a budget outside (0, 1000] epochs, a φ that cannot
    train at `proxy_resolution`, or a spread set of fewer than 3 distinct networks.
    """
    seeds = check_seeds(seeds)
    ladder = check_ladder(ladder)
    base = resolve_baseline(baseline, resolution)
    coefficients = _coefficients(coefficients)
    if phis is None:
        phis, left_out = trainable_phis(base, DEFAULT_PHIS, coefficients, proxy_resolution)
        if not phis:
            _check_trainable(base, DEFAULT_PHIS, coefficients, proxy_resolution)
    else:
        phis, left_out = check_phis(phis), ()
        _check_trainable(base, phis, coefficients, proxy_resolution)
    single = check_single(single)
    say = say or (lambda line: None)
    if left_out:
        say(f"φ = {', '.join(f'{phi:g}' for phi in left_out)} left out of the default spread set: at a proxy "
            f"resolution of {proxy_resolution} px they would train below {base.min_resolution} px, half of "
            f"{base.name}'s total stride")
    if single:
        say(f"matching {', '.join(f'{name}-only' for name in single)} scaling of {base.name} to the MACs of "
            f"φ = {SINGLE_PHI:g} ...")
    details = spread_details(base, phis, coefficients, single)
    networks = [(name, multipliers) for name, multipliers, _ in details]
    points = tuple(Point.of({"network": name, "budget": budget}, multipliers, budget)
                   for budget in ladder for name, multipliers in networks)
    config = StudyConfig(kind="calibrate", baseline=portable_baseline(baseline), points=points,
                         scoring=Scoring(float(base.cost(Multipliers()).macs), 0.0, False), data=data,
                         training=replace(training, epochs=ladder[-1], images=None), seeds=seeds,
                         proxy_resolution=proxy_resolution, resolution=resolution, pruning=Pruning("none"),
                         noise_point=0,
                         settings=(("phis", [float(p) for p in phis]), ("left_out", [float(p) for p in left_out]),
                                   ("coefficients", [float(c) for c in coefficients]),
                                   ("single", list(single)), ("ladder", list(ladder)),
                                   ("mismatch", {name: error for name, _, error in details if error})))
    _check_distinct(config, base, networks, left_out)
    return config


def proxy_pixels(baseline: Baseline, phi: float, coefficients: Sequence[float], proxy_resolution: int) -> int:
    """The training resolution of compound scaling at φ: round(proxy_resolution · γ^φ)."""
    return scale_resolution(proxy_resolution, compound(*_coefficients(coefficients), phi).resolution)


def trainable_phis(baseline: Baseline, phis: Sequence[float], coefficients: Sequence[float],
                   proxy_resolution: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(phis whose networks train at no less than the baseline's smallest resolution, the others)."""
    phis = check_phis(phis)
    kept = tuple(phi for phi in phis
                 if proxy_pixels(baseline, phi, coefficients, proxy_resolution) >= baseline.min_resolution)
    return kept, tuple(phi for phi in phis if phi not in kept)


def _check_trainable(baseline: Baseline, phis: Sequence[float], coefficients: Sequence[float],
                     proxy_resolution: int) -> None:
    """UserError naming the φ that would train below the smallest resolution, and the proxy resolution that fits."""
    _, too_small = trainable_phis(baseline, phis, coefficients, proxy_resolution)
    if not too_small:
        return
    smallest = min(too_small)
    pixels = proxy_pixels(baseline, smallest, coefficients, proxy_resolution)
    needed = next((p for p in range(proxy_resolution, MAX_RESOLUTION + 1)
                   if proxy_pixels(baseline, smallest, coefficients, p) >= baseline.min_resolution), None)
    larger = f"use --proxy-resolution {needed} or more, or " if needed else ""
    raise UserError(f"φ = {smallest:g} would train at {pixels} px, below {baseline.min_resolution} px, half of "
                    f"{baseline.name}'s total stride: {larger}leave out φ = {', '.join(f'{phi:g}' for phi in too_small)}")


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    seeds = tuple(int(seed) for seed in seeds)
    if len(seeds) < MIN_SEEDS:
        raise UserError(f"calibrate needs at least {MIN_SEEDS} seeds per network to measure the seed noise σ, "
                        f"got {len(seeds)}")
    if len(seeds) > MAX_SEEDS:
        raise UserError(f"seeds per network must be at most {MAX_SEEDS}, got {len(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"the seeds must differ, got {', '.join(map(str, seeds))}")
    return seeds


def check_ladder(ladder: Sequence[float]) -> tuple[float, ...]:
    """The budgets as floats: 2..12 of them, each in (0, 1000] epochs, strictly increasing."""
    budgets = tuple(float(budget) for budget in ladder)
    shown = ",".join(f"{budget:g}" for budget in budgets)
    if not 2 <= len(budgets) <= MAX_BUDGETS:
        raise UserError(f"the ladder needs 2 to {MAX_BUDGETS} budgets to compare, got {len(budgets)} ({shown})")
    for budget in budgets:
        if not (math.isfinite(budget) and 0 < budget <= MAX_EPOCHS):
            raise UserError(f"ladder budgets must be in (0, {MAX_EPOCHS:g}] epochs, got {budget:g}")
    if any(later <= earlier for earlier, later in zip(budgets, budgets[1:])):
        raise UserError(f"the ladder must be strictly increasing, got {shown}")
    return budgets


def check_phis(phis: Sequence[float]) -> tuple[float, ...]:
    values = tuple(check_phi(float(phi)) for phi in phis)
    if not 1 <= len(values) <= MAX_PHIS:
        raise UserError(f"give 1 to {MAX_PHIS} values of phi, got {len(values)}")
    if len(set(values)) != len(values):
        raise UserError(f"the values of phi repeat: {', '.join(f'{phi:g}' for phi in values)}")
    return values


def check_single(single: Sequence[str]) -> tuple[str, ...]:
    names = tuple(check_dimension(name) for name in single)
    if len(set(names)) != len(names):
        raise UserError(f"the single-dimension networks repeat: {', '.join(names)}")
    return names


def _coefficients(coefficients: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(c) for c in coefficients)
    if len(values) != 3:
        raise UserError(f"coefficients are α, β, γ: three numbers, got {len(values)}")
    compound(*values, 0.0)  # checks each coefficient
    return values  # type: ignore[return-value]


def _check_distinct(config: StudyConfig, baseline: Baseline, networks: list[tuple[str, Multipliers]],
                    left_out: Sequence[float] = ()) -> None:
    """UserError unless the spread set builds at least MIN_NETWORKS distinct networks."""
    first = replace(config, points=config.points[:len(networks)])
    plans = plan_networks(first, {None: baseline})
    if len(plans) < MIN_NETWORKS:
        shown = "; ".join(" = ".join(str(p["network"]) for p in plan.points) for plan in plans)
        dropped = (f"; φ = {', '.join(f'{phi:g}' for phi in left_out)} left out, below half the total stride at this "
                   f"proxy resolution" if left_out else "")
        raise UserError(f"the spread set has {len(plans)} distinct network(s) ({shown}{dropped}); calibrate needs "
                        f"at least {MIN_NETWORKS} to rank: add values to --phis or single-dimension networks (--single)")


# --- tables from results ---------------------------------------------------------------------


def network_label(result: NetworkResult) -> str:
    """The spread networks a result trained, e.g. "phi=1", or "phi=0 | width-only" when they build one network."""
    return " | ".join(str(point["network"]) for point in result.plan.points)


def calibration_runs(results: Iterable[NetworkResult]) -> pd.DataFrame:
    """One row per training (network × budget × seed), with the columns `fidelity.fidelity_table` reads.

    accuracy is the seed's final top-1 (NaN for a pruned training); wall_seconds is the network's
    wall time divided by its seeds (one training); budget is the point's epochs.
    """
    rows = []
    for result in results:
        plan = result.plan
        per_training = result.wall_seconds / max(1, len(result.seeds))
        for seed, accuracy in zip(result.seeds, result.accuracies):
            rows.append({"network": network_label(result), "budget": float(plan.epochs), "seed": seed,
                         "accuracy": math.nan if result.status == "pruned" else float(accuracy),
                         "wall_seconds": per_training, "status": result.status, "macs": plan.macs,
                         "d": plan.multipliers.depth, "w": plan.multipliers.width, "r": plan.multipliers.resolution,
                         "proxy_resolution": plan.proxy_resolution})
    table = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return table.sort_values(["budget", "macs", "network", "seed"], kind="stable").reset_index(drop=True)


def calibration_histories(results: Iterable[NetworkResult], budget: float) -> pd.DataFrame:
    """Per-epoch accuracies of the trainings at `budget`: one row per (network, seed, epoch), epochs from 1.

    The columns `fidelity.rung_agreement` reads; a fractional budget's last epoch is its partial one.
    """
    rows = []
    for result in results:
        if result.plan.epochs is None or not math.isclose(float(result.plan.epochs), float(budget)):
            continue
        for seed, history in zip(result.seeds, result.histories):
            rows.extend({"network": network_label(result), "seed": seed, "epoch": epoch, "accuracy": accuracy}
                        for epoch, accuracy in enumerate(history, 1))
    return pd.DataFrame(rows, columns=list(fidelity.HISTORY_COLUMNS))


@dataclass(frozen=True)
class Calibration:
    """What a calibration's results say.

    `table` is `fidelity.fidelity_table` of `runs`; `recommended` the smallest budget with Kendall τ ≥
    `min_tau` (None without results); `agreement` the rung agreement of the trainings at the
    recommended budget, and `first_rung` the first epoch from which τ ≥ `rung_tau` (None when the
    recommended budget has under 2 epochs of history).
    """

    runs: pd.DataFrame
    table: pd.DataFrame
    recommended: float | None
    agreement: pd.DataFrame
    first_rung: int | None
    min_tau: float = fidelity.DEFAULT_MIN_TAU
    rung_tau: float = fidelity.DEFAULT_RUNG_TAU

    @property
    def largest(self) -> float | None:
        return None if self.table.empty else float(self.table["budget"].max())

    @property
    def ranks_like_largest(self) -> bool:
        """True when a budget shorter than the largest reaches τ ≥ min_tau."""
        return self.recommended is not None and self.recommended < (self.largest or 0.0)

    def row(self, budget: float) -> pd.Series:
        return self.table[self.table["budget"] == budget].iloc[0]


def analyse(results: Sequence[NetworkResult], min_tau: float = fidelity.DEFAULT_MIN_TAU,
            rung_tau: float = fidelity.DEFAULT_RUNG_TAU) -> Calibration:
    """The fidelity table, the recommended budget and the rung agreement at it, from a calibration's results."""
    results = list(results)
    runs = calibration_runs(results)
    if runs["accuracy"].notna().sum() == 0:
        empty = pd.DataFrame(columns=fidelity.FIDELITY_COLUMNS)
        return Calibration(runs, empty, None, pd.DataFrame(columns=fidelity.AGREEMENT_COLUMNS), None, min_tau, rung_tau)
    table = fidelity.fidelity_table(runs[list(fidelity.RUN_COLUMNS)])
    recommended = fidelity.recommend_budget(table, min_tau)
    agreement = fidelity.rung_agreement(calibration_histories(results, recommended))
    first_rung = fidelity.first_reliable_rung(agreement, rung_tau) if len(agreement) >= 2 else None
    return Calibration(runs, table, recommended, agreement, first_rung, min_tau, rung_tau)


def analyse_study(study: optuna.Study, min_tau: float = fidelity.DEFAULT_MIN_TAU,
                  rung_tau: float = fidelity.DEFAULT_RUNG_TAU) -> Calibration:
    """`analyse` of the results stored in `study` (nothing else is needed)."""
    return analyse(study_results(study), min_tau, rung_tau)


def trained_networks(study: optuna.Study) -> tuple[int, int]:
    """(networks with a result, networks in the study): how complete a calibration is."""
    return len(study_results(study)), network_count(study)


# --- the measured noise, stored for reuse ------------------------------------------------------


def noise_settings(config: StudyConfig) -> dict[str, Any]:
    """What a measured seed noise depends on besides the budget: baseline, resolutions, data, training recipe.

    A grid whose `noise_settings` equal a calibration's, and whose epochs are one of its budgets,
    can use the σ that calibration measured at that budget (`stored_noise`).
    """
    training = asdict(config.training)
    for name in (*RUN_ONLY_TRAINING_FIELDS, "epochs", "images", "seed"):
        training.pop(name, None)
    return _plain({"baseline": config.baseline, "resolution": config.resolution,
                   "proxy_resolution": config.proxy_resolution, "data": asdict(config.data), "training": training})


def calibration_record(calibration: Calibration, config: StudyConfig) -> dict[str, Any]:
    """The JSON stored in the study under "calibration": settings, and σ, τ and seeds per budget."""
    table = calibration.table
    return _plain({
        "settings": noise_settings(config),
        "budgets": table["budget"].astype(float).tolist(),
        "sigma": table["sigma"].astype(float).tolist(),
        "kendall_tau": table["kendall_tau"].astype(float).tolist(),
        "networks": table["networks"].astype(int).tolist(),
        "seeds": table["seeds"].astype(int).tolist(),
        "recommended_budget": calibration.recommended,
        "min_tau": calibration.min_tau,
        "first_reliable_rung": calibration.first_rung,
        "rung_tau": calibration.rung_tau,
    })


def store_calibration(study: optuna.Study, calibration: Calibration, config: StudyConfig) -> dict[str, Any]:
    """Store `calibration_record` in the study (user attribute "calibration"); returns it."""
    record = calibration_record(calibration, config)
    study.set_user_attr(CALIBRATION_KEY, record)
    return record


def stored_noise(record: Mapping[str, Any] | None, config: StudyConfig, source: str,
                 epochs: float | None = None) -> KnownNoise | None:
    """The seed noise a calibration `record` measured for `config`'s settings at `epochs` (default: `config`'s
    epochs); None when it has none.

    None when the record is missing, was made with other `noise_settings`, `config` budgets in
    images, or the epochs are not one of the record's budgets. Its degrees of freedom are
    networks × (seeds − 1) at that budget; `source` names the calibration in the ranking.
    """
    if not record or stored_settings(record) != noise_settings(config) or config.training.images is not None:
        return None
    wanted = float(config.training.epochs if epochs is None else epochs)
    for budget, sigma, networks, seeds in zip(record.get("budgets", []), record.get("sigma", []),
                                              record.get("networks", []), record.get("seeds", [])):
        if math.isclose(float(budget), wanted) and sigma is not None and seeds >= 2:
            return KnownNoise(float(sigma), int(networks) * (int(seeds) - 1), f"{source} at {budget:g} epochs")
    return None


def stored_settings(record: Mapping[str, Any]) -> dict[str, Any]:
    """The `noise_settings` a calibration `record` was made with; a training field added since (`FIELDS_ADDED_LATER`)
    takes the value those calibrations trained with."""
    settings = dict(record.get("settings") or {})
    if "training" in settings:
        settings["training"] = {**FIELDS_ADDED_LATER, **settings["training"]}
    return settings


def noise_mismatch(record: Mapping[str, Any], config: StudyConfig, epochs: float | None = None) -> str:
    """Why `record` holds no seed noise for `config` at `epochs` (default: its epochs): the settings that differ,
    or the budgets it has."""
    if stored_settings(record) != noise_settings(config):
        return f"other settings ({identity_difference(stored_settings(record), noise_settings(config))})"
    if config.training.images is not None:
        return "budgets in epochs, and this run's budget is in images"
    budgets = ", ".join(f"{b:g}" for b in record.get("budgets", []))
    wanted = config.training.epochs if epochs is None else epochs
    return f"budgets of {budgets} epochs (2 seeds or more), not {wanted:g}"


def calibration_in(storage: optuna.storages.BaseStorage) -> tuple[str, dict[str, Any]] | None:
    """(study name, record) of the first study in `storage` that stored a calibration, if any."""
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        if CALIBRATION_KEY in summary.user_attrs:
            return summary.study_name, summary.user_attrs[CALIBRATION_KEY]
    return None


def _plain(value: Any) -> Any:
    """JSON-safe: NaN becomes None, tuples lists, numpy numbers Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
