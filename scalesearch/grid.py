"""The constrained (α, β, γ) grid and the evaluation of one candidate by proxy training."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from scalesearch.baselines import Baseline
from scalesearch.data import ImageDataset
from scalesearch.errors import UserError
from scalesearch.objective import reward
from scalesearch.scaling import compound
from scalesearch.train import TrainConfig, train_proxy


@dataclass(frozen=True)
class GridSpace:
    """Ranges and step of α, β, γ, and the band |α·β²·γ² − target| <= tol that candidates must satisfy."""

    alpha: tuple[float, float] = (1.0, 2.0)
    beta: tuple[float, float] = (1.0, 1.5)
    gamma: tuple[float, float] = (1.0, 1.5)
    step: float = 0.05
    target: float = 2.0
    tol: float = 0.1

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and 1.0 <= low <= high):
                raise UserError(f"{name} range must satisfy 1 <= low <= high, got {low}..{high}")
        if not (math.isfinite(self.step) and self.step > 0):
            raise UserError(f"step must be a positive number, got {self.step}")
        if not (math.isfinite(self.target) and self.target > 1):
            raise UserError(f"target product must be > 1, got {self.target}")
        if not (math.isfinite(self.tol) and self.tol >= 0):
            raise UserError(f"tolerance must be >= 0, got {self.tol}")

    def axis(self, name: str) -> list[float]:
        low, high = getattr(self, name)
        count = int(math.floor((high - low) / self.step + 1e-9)) + 1
        return [round(low + i * self.step, 10) for i in range(count)]


@dataclass(frozen=True)
class Candidate:
    alpha: float
    beta: float
    gamma: float

    @property
    def product(self) -> float:
        return self.alpha * self.beta**2 * self.gamma**2


def candidate_grid(space: GridSpace) -> tuple[list[Candidate], int]:
    """The candidates inside the band, and how many grid points there were in all."""
    points = [Candidate(a, b, g) for a in space.axis("alpha") for b in space.axis("beta") for g in space.axis("gamma")]
    kept = [c for c in points if abs(c.product - space.target) <= space.tol + 1e-9]
    if not kept:
        nearest = min(abs(c.product - space.target) for c in points)
        raise UserError(f"no grid point has α·β²·γ² within {space.target:g} ± {space.tol:g} "
                        f"(the nearest is {nearest:.3f} away); try --tol {math.ceil((nearest - 1e-9) * 100) / 100:g} "
                        f"or a finer --step")
    return kept, len(points)


@dataclass(frozen=True)
class Scoring:
    """How a candidate is scored: φ, the MACs target T (nominal resolution), exponent w, hard or soft."""

    phi: float
    target_macs: float
    w: float
    hard: bool


def candidate_record(baseline: Baseline, candidate: Candidate, scoring: Scoring, proxy_resolution: int) -> dict:
    """Everything known about a candidate before training: multipliers, resolutions, cost.

    MACs are those of the nominal network (1000-class head, nominal resolution), comparable
    with the paper and with T.
    """
    multipliers = compound(candidate.alpha, candidate.beta, candidate.gamma, scoring.phi)
    resolution = baseline.resolution_for(multipliers)
    cost = baseline.cost(multipliers, resolution)
    return {**asdict(candidate), "product": candidate.product, "d": multipliers.depth, "w": multipliers.width,
            "r": multipliers.resolution, "resolution": resolution,
            "proxy_resolution": baseline.resolution_for(multipliers, proxy_resolution),
            "macs": cost.macs, "params": cost.params, "macs_ratio": cost.macs / scoring.target_macs}


def train_candidate(baseline: Baseline, record: dict, scoring: Scoring, data: ImageDataset, config: TrainConfig,
                    seeds: list[int], on_epoch: Callable[[int, float], bool] | None = None) -> dict:
    """Proxy-train the candidate once per seed; accuracy is the mean, the objective its reward.

    `on_epoch` sees the first seed's per-epoch accuracy and may prune the candidate.
    """
    started = time.perf_counter()
    accuracies, epochs, status = [], 0.0, "ok"
    multipliers = compound(record["alpha"], record["beta"], record["gamma"], scoring.phi)
    for index, seed in enumerate(seeds):
        torch.manual_seed(seed)  # initial weights from the seed alone, not from whatever trained before
        model = baseline.build(multipliers, data.num_classes)
        result = train_proxy(model, data, record["proxy_resolution"], replace(config, seed=seed),
                             on_epoch if index == 0 else None)
        accuracies.append(result.top1)
        epochs += result.epochs_completed
        if result.status != "ok":
            status = result.status
            break
    accuracy = float(np.mean(accuracies))
    return {"status": status, "accuracy": accuracy,
            "accuracy_std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else float("nan"),
            "accuracies": accuracies, "seeds": seeds[:len(accuracies)],
            "objective": reward(accuracy, record["macs"], scoring.target_macs, scoring.w, scoring.hard),
            "epochs_trained": epochs, "wall_seconds": time.perf_counter() - started}
