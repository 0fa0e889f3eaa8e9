"""The distinct networks of a study and their results: frozen records, converted to Optuna attributes once.

Points that build the identical network (same scaled architecture, nominal and proxy
resolution, and budget) are merged into one `NetworkPlan` and trained once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalesearch.baselines import Baseline, SpecBaseline, resolve_baseline
from scalesearch.scaling import Multipliers
from scalesearch.study_config import Point, StudyConfig

_SYMBOLS = {"alpha": "α", "beta": "β", "gamma": "γ", "phi": "φ"}


@dataclass(frozen=True)
class NetworkPlan:
    """One distinct network of a study, everything known before training.

    MACs, params and activations are those of the nominal network (1000-class head,
    nominal resolution), comparable with the paper; training runs at `proxy_resolution`.
    `probe` marks the network trained with the noise probe's seeds; `baseline` is the point's own
    baseline, None for the study's.
    """

    index: int
    points: tuple[Mapping[str, Any], ...]
    multipliers: Multipliers
    resolution: int
    proxy_resolution: int
    epochs: float | None
    macs: int
    params: int
    activations: int
    probe: bool = False
    baseline: str | None = None

    @property
    def name(self) -> str:
        """The points of this network, readable: "α=1.1 β=1.15 γ=1.15 | α=1.2 β=1.15 γ=1.15"."""
        return " | ".join(point_name(p) for p in self.points)

    def to_attrs(self) -> dict[str, Any]:
        return {"network": self.index, "candidate": self.name, "points": [dict(p) for p in self.points],
                "d": self.multipliers.depth, "w": self.multipliers.width, "r": self.multipliers.resolution,
                "resolution": self.resolution, "proxy_resolution": self.proxy_resolution, "epochs": self.epochs,
                "macs": self.macs, "params": self.params, "activations": self.activations, "probe": self.probe,
                **({"baseline": self.baseline} if self.baseline is not None else {})}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> NetworkPlan:
        return cls(index=attrs["network"], points=tuple(dict(p) for p in attrs["points"]),
                   multipliers=Multipliers(attrs["d"], attrs["w"], attrs["r"]), resolution=attrs["resolution"],
                   proxy_resolution=attrs["proxy_resolution"], epochs=attrs["epochs"], macs=attrs["macs"],
                   params=attrs["params"], activations=attrs["activations"], probe=attrs["probe"],
                   baseline=attrs.get("baseline"))


@dataclass(frozen=True)
class NetworkResult:
    """A network's proxy trainings: per-seed accuracy and per-epoch history, and its reward."""

    plan: NetworkPlan
    status: str
    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]
    histories: tuple[tuple[float, ...], ...]
    epochs_trained: float
    wall_seconds: float
    objective: float

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def accuracy_std(self) -> float:
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else math.nan

    @property
    def accuracy_min(self) -> float:
        """The lowest seed's accuracy: what a single run can fall to."""
        return float(np.min(self.accuracies))

    @property
    def seconds_per_training(self) -> float:
        return self.wall_seconds / max(1, len(self.accuracies))

    def to_attrs(self) -> dict[str, Any]:
        return {**self.plan.to_attrs(), "status": self.status, "seeds": list(self.seeds),
                "accuracies": list(self.accuracies), "accuracy": self.accuracy,
                "accuracy_history": [list(h) for h in self.histories], "epochs_trained": self.epochs_trained,
                "wall_seconds": self.wall_seconds, "objective": self.objective}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> NetworkResult:
        return cls(plan=NetworkPlan.from_attrs(attrs), status=attrs["status"], seeds=tuple(attrs["seeds"]),
                   accuracies=tuple(attrs["accuracies"]),
                   histories=tuple(tuple(h) for h in attrs["accuracy_history"]),
                   epochs_trained=attrs["epochs_trained"], wall_seconds=attrs["wall_seconds"],
                   objective=attrs["objective"])

    def row(self) -> dict[str, Any]:
        """The result as one table row: the plan's fields, the first point's labels, the outcome."""
        plan = self.plan
        return {**dict(plan.points[0]), "candidate": plan.name, "points": len(plan.points), "network": plan.index,
                "d": plan.multipliers.depth, "w": plan.multipliers.width, "r": plan.multipliers.resolution,
                "resolution": plan.resolution, "proxy_resolution": plan.proxy_resolution, "epochs": plan.epochs,
                "macs": plan.macs, "params": plan.params, "activations": plan.activations, "status": self.status,
                "seeds": len(self.seeds), "accuracy": self.accuracy, "accuracy_std": self.accuracy_std,
                "accuracy_min": self.accuracy_min, "objective": self.objective, "epochs_trained": self.epochs_trained,
                "wall_seconds": self.wall_seconds, "seconds_per_training": self.seconds_per_training}


def point_name(label: Mapping[str, Any]) -> str:
    return " ".join(f"{_SYMBOLS.get(k, k)}={v:g}" if isinstance(v, float) else f"{_SYMBOLS.get(k, k)}={v}"
                    for k, v in label.items())


def load_baselines(config: StudyConfig) -> dict[str | None, Baseline]:
    """The study's baseline (key None) and every baseline its points name, loaded once each."""
    names = (None, *config.point_baselines)
    return {name: resolve_baseline(config.baseline if name is None else name, config.resolution) for name in names}


def plan_networks(config: StudyConfig, baselines: Mapping[str | None, Baseline]) -> tuple[NetworkPlan, ...]:
    """The distinct networks of `config`'s points, each costed once, in the order of their first point.

    `baselines` maps each point's baseline name (None: the study's) to the loaded baseline.
    """
    groups: dict[tuple, list[int]] = {}
    placed: dict[int, tuple[Multipliers, int, int]] = {}
    for number, point in enumerate(config.points):
        baseline = baselines[point.baseline]
        resolution = baseline.resolution_for(point.multipliers)
        proxy = baseline.resolution_for(point.multipliers, config.proxy_resolution)
        key = (point.baseline, _architecture(baseline, point), resolution, proxy, point.epochs)
        groups.setdefault(key, []).append(number)
        placed[number] = (point.multipliers, resolution, proxy)
    plans = []
    for index, numbers in enumerate(groups.values()):
        first: Point = config.points[numbers[0]]
        multipliers, resolution, proxy = placed[numbers[0]]
        cost = baselines[first.baseline].cost(multipliers, resolution)
        plans.append(NetworkPlan(index=index, points=tuple(config.points[n].labels for n in numbers),
                                 multipliers=multipliers, resolution=resolution, proxy_resolution=proxy,
                                 epochs=first.epochs, macs=cost.macs, params=cost.params,
                                 activations=cost.activations, probe=config.noise_point in numbers,
                                 baseline=first.baseline))
    return tuple(plans)


def _architecture(baseline: Baseline, point: Point) -> str:
    """What decides the built network: the scaled spec, or a factory's (d, w)."""
    if isinstance(baseline, SpecBaseline):
        return baseline.scaled(point.multipliers).to_json(indent=None)
    return f"{baseline.name}:d={point.multipliers.depth!r}:w={point.multipliers.width!r}"

