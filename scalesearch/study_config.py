"""What a study is: a frozen, typed configuration that validates itself and round-trips through JSON.

Every experiment (the grid, calibrate, later ablations and NAS) is a producer of *points*;
the runner trains the points of a `StudyConfig`. The configuration is stored in the study,
so a worker on another machine rebuilds everything from the storage alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from scalesearch.data import DEFAULT_DATASET, ImageDataset, load_dataset
from scalesearch.errors import UserError
from scalesearch.objective import Scoring
from scalesearch.scaling import Multipliers
from scalesearch.train import TrainConfig
from scalesearch.training.config import SEED, check_config
from scalesearch.training.device import resolve_device

TRIAL_PRUNERS = ("none", "sha", "hyperband")  # Optuna's, on the per-epoch accuracy inside one training
PRUNERS = (*TRIAL_PRUNERS, "screen")  # screen: a short run of its own first (scalesearch.screening)
MAX_SEEDS = 20
MAX_POINTS = 5000
MAX_PRUNE_EPOCH = 1000
# Settings that change how, not what, a study measures: a rerun or a worker may differ in these.
RUN_ONLY_TRAINING_FIELDS = ("progress", "device", "compile", "eval_batch_size")
# TrainConfig fields added after studies were first stored -> what studies stored without them did
FIELDS_ADDED_LATER = {"balanced_batches": False}  # a plain shuffle per epoch


@dataclass(frozen=True)
class DataConfig:
    """Which data set, and how much of it (None keeps a split whole)."""

    name: str = DEFAULT_DATASET
    root: str | None = None
    download: bool = False
    image_size: int = 64
    train_images: int | None = None
    test_images: int | None = None

    def load(self) -> ImageDataset:
        """The data set in memory, cut to the requested stratified subset."""
        dataset = load_dataset(self.name, self.root, self.download, self.image_size)
        if self.train_images is None and self.test_images is None:
            return dataset
        return dataset.subset(train=self.train_images, test=self.test_images)


@dataclass(frozen=True)
class Pruning:
    """How weak networks are stopped early, from `min_epoch` epochs on.

    sha and hyperband: Optuna's pruners on the per-epoch accuracy of each training. screen: every
    network first trains a separate `min_epoch`-epoch run, with its own schedule; only the best
    third of them (and the noise probe, when it measures the noise) train the full budget.
    """

    method: str = "sha"
    min_epoch: int = 1

    def __post_init__(self) -> None:
        if self.method not in PRUNERS:
            raise UserError(f"unknown pruner {self.method!r}; choose from {', '.join(PRUNERS)}")
        if not 1 <= self.min_epoch <= MAX_PRUNE_EPOCH:
            raise UserError(f"the first pruning epoch must be in 1..{MAX_PRUNE_EPOCH}, got {self.min_epoch}")

    @property
    def on_epochs(self) -> bool:
        """Whether a pruner decides on each training's per-epoch accuracy (Optuna's sha, hyperband)."""
        return self.method in TRIAL_PRUNERS and self.method != "none"


@dataclass(frozen=True)
class KnownNoise:
    """A seed noise measured elsewhere (by `calibrate` for the same settings): σ, its degrees of freedom, where."""

    sigma: float
    dof: int
    source: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and 0 <= self.sigma <= 1):
            raise UserError(f"a known seed noise must be in [0, 1] top-1, got {self.sigma}")
        if not 1 <= self.dof <= MAX_POINTS * MAX_SEEDS:
            raise UserError(f"a known seed noise needs 1..{MAX_POINTS * MAX_SEEDS} degrees of freedom, got {self.dof}")


@dataclass(frozen=True)
class Point:
    """One network to measure: the baseline scaled by `multipliers`, named by `label`.

    `label` is what the producer calls it ({"alpha": 1.2, "beta": 1.1, "gamma": 1.15} for the
    grid); `epochs`, when set, overrides the training budget for this point (calibrate's ladder);
    `baseline`, when set, is this point's own baseline (Table 3 scales several in one study).
    """

    label: tuple[tuple[str, Any], ...]
    multipliers: Multipliers
    epochs: float | None = None
    baseline: str | None = None

    @classmethod
    def of(cls, label: dict[str, Any], multipliers: Multipliers, epochs: float | None = None,
           baseline: str | None = None) -> Point:
        return cls(tuple(label.items()), multipliers, epochs, baseline)

    @property
    def labels(self) -> dict[str, Any]:
        return dict(self.label)


@dataclass(frozen=True)
class StudyConfig:
    """Everything that defines a study's results.

    `noise_seeds` is how many seeds the noise probe (the point at `noise_point`) is trained
    with when `seeds` has only one: a ranking always has a measured seed noise. With
    `known_noise` (measured by `calibrate` for the same settings) the probe trains no extra seeds.
    `screen_noise` is the seed noise of a `--prune screen` screening run, measured by `calibrate` at
    its budget: with it the ranking says which networks left out the screen could not tell from its best.
    """

    kind: str
    baseline: str
    points: tuple[Point, ...]
    scoring: Scoring
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    seeds: tuple[int, ...] = (0,)
    proxy_resolution: int = 32
    resolution: int | None = None
    pruning: Pruning = field(default_factory=Pruning)
    noise_seeds: int = 3
    noise_point: int = 0
    settings: tuple[tuple[str, Any], ...] = ()
    known_noise: KnownNoise | None = None
    screen_noise: KnownNoise | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.points) <= MAX_POINTS:
            raise UserError(f"a study needs 1..{MAX_POINTS} points, got {len(self.points)}")
        if not 1 <= len(self.seeds) <= MAX_SEEDS:
            raise UserError(f"seeds per network must be in 1..{MAX_SEEDS}, got {len(self.seeds)}")
        if not 2 <= self.noise_seeds <= MAX_SEEDS:
            raise UserError(f"noise seeds must be in 2..{MAX_SEEDS}, got {self.noise_seeds}")
        if not 0 <= self.noise_point < len(self.points):
            raise UserError(f"noise point must index one of the {len(self.points)} points, got {self.noise_point}")
        if max(self.probe_seeds) > SEED[1]:
            raise UserError(f"the noise probe's seeds {self.probe_seeds[0]}..{max(self.probe_seeds)} go past the "
                            f"largest seed {SEED[1]}; use a smaller --seed")

    @property
    def point_baselines(self) -> tuple[str, ...]:
        """The baselines that points name for themselves, in order of first use."""
        return tuple(dict.fromkeys(p.baseline for p in self.points if p.baseline is not None))

    @property
    def probe_seeds(self) -> tuple[int, ...]:
        """The seeds of the noise probe: `seeds`, extended to `noise_seeds` when it has only one and no
        noise is known."""
        if len(self.seeds) >= 2 or self.known_noise is not None:
            return self.seeds
        return tuple(range(self.seeds[0], self.seeds[0] + self.noise_seeds))

    @property
    def probe_measures_noise(self) -> bool:
        """Whether the noise probe trains extra seeds to measure the seed noise."""
        return len(self.probe_seeds) > len(self.seeds)

    @property
    def needs_epoch_accuracy(self) -> bool:
        """Whether trainings score every epoch: a pruner decides on them and a calibration ranks its epochs;
        any other study scores the last epoch only."""
        return self.pruning.on_epochs or self.kind == "calibrate"

    def validate_training(self, train_size: int) -> None:
        """Check the training settings against the data before anything is written (UserError)."""
        resolve_device(self.training.device)
        epochs = {point.epochs for point in self.points}
        shortest = min(self.training.epochs if budget is None else budget for budget in epochs)
        if self.pruning.method == "screen" and self.pruning.min_epoch >= shortest:
            raise UserError(f"a screening run of {self.pruning.min_epoch} epochs (--prune-from) must be shorter "
                            f"than the budget of {shortest:g} epochs")
        for budget in epochs:
            config = self.training if budget is None else replace(self.training, epochs=budget, images=None)
            check_config(config, self.proxy_resolution, train_size)

    def for_worker(self, device: str | None) -> StudyConfig:
        """This configuration as a worker runs it: its own device, no inner progress bar."""
        training = replace(self.training, progress=False, device=device or self.training.device)
        return replace(self, training=training)

    # --- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["points"] = [{"label": dict(p.label), "multipliers": asdict(p.multipliers), "epochs": p.epochs,
                           **({"baseline": p.baseline} if p.baseline is not None else {})} for p in self.points]
        data["settings"] = dict(self.settings)
        return json.loads(json.dumps(data))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyConfig:
        points = tuple(Point.of(p["label"], Multipliers(**p["multipliers"]), p["epochs"], p.get("baseline"))
                       for p in data["points"])
        known = {f.name for f in fields(TrainConfig)}
        stored = {**FIELDS_ADDED_LATER, **data["training"]}
        training = TrainConfig(**{k: v for k, v in stored.items() if k in known})
        return cls(kind=data["kind"], baseline=data["baseline"], points=points, scoring=Scoring(**data["scoring"]),
                   data=DataConfig(**data["data"]), training=training, seeds=tuple(data["seeds"]),
                   proxy_resolution=data["proxy_resolution"], resolution=data["resolution"],
                   pruning=Pruning(**data["pruning"]), noise_seeds=data["noise_seeds"],
                   noise_point=data["noise_point"], settings=tuple(data["settings"].items()),
                   known_noise=KnownNoise(**data["known_noise"]) if data.get("known_noise") else None,
                   screen_noise=KnownNoise(**data["screen_noise"]) if data.get("screen_noise") else None)

    def identity(self) -> dict[str, Any]:
        """The stored form without the run-only settings and the screen's noise (it tests a decision and trains
        nothing): two configs with equal identities measure the same."""
        data = self.to_dict()
        for name in RUN_ONLY_TRAINING_FIELDS:
            data["training"].pop(name, None)
        data.pop("screen_noise")
        return data


def identity_difference(stored: dict[str, Any], wanted: dict[str, Any]) -> str:
    """The first few settings that differ, for the refusal message."""
    differences = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif a != b and not (_is_nan(a) and _is_nan(b)):
            shown_a, shown_b = _short(a), _short(b)
            differences.append(f"{path}: {shown_a} there, {shown_b} now")

    walk(stored, wanted, "")
    return "; ".join(differences[:4]) or "none"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
