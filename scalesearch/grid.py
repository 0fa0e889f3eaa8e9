"""The constrained (α, β, γ) grid: a producer of points for the runner, and the grid study's configuration."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scalesearch.baselines import portable_baseline, resolve_baseline
from scalesearch.errors import UserError
from scalesearch.objective import SOFT_EXPONENT, Scoring
from scalesearch.scaling import Multipliers, check_phi, compound
from scalesearch.study_config import DataConfig, Point, Pruning, StudyConfig
from scalesearch.train import TrainConfig

PAPER_POINT = (1.2, 1.1, 1.15)  # the paper's α, β, γ: the noise probe when it is a candidate
COEFFICIENT_MAX = 4.0
STEP_RANGE = (0.005, 1.0)
MAX_GRID_POINTS = 100_000


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
            if not (math.isfinite(low) and math.isfinite(high) and 1.0 <= low <= high <= COEFFICIENT_MAX):
                raise UserError(f"{name} range must satisfy 1 <= low <= high <= {COEFFICIENT_MAX:g}, "
                                f"got {low:g}..{high:g}")
        low, high = STEP_RANGE
        if not (math.isfinite(self.step) and low <= self.step <= high):
            raise UserError(f"step must be in {low:g}..{high:g}, got {self.step:g}")
        if not (math.isfinite(self.target) and 1 < self.target <= 64):
            raise UserError(f"target product must be in (1, 64], got {self.target:g}")
        if not (math.isfinite(self.tol) and 0 <= self.tol <= self.target):
            raise UserError(f"tolerance must be in 0..{self.target:g}, got {self.tol:g}")
        size = math.prod(len(self.axis(name)) for name in ("alpha", "beta", "gamma"))
        if size > MAX_GRID_POINTS:
            raise UserError(f"the grid has {size:,} points, more than {MAX_GRID_POINTS:,}; use a larger --step "
                            f"or narrower ranges")

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


def grid_points(space: GridSpace, phi: float) -> tuple[tuple[Point, ...], int]:
    """The points of the candidates inside the band, scaled at φ, and how many grid points there were."""
    candidates, total = candidate_grid(space)
    points = tuple(Point.of({"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma}, compound(c.alpha, c.beta, c.gamma,
                                                                                          phi))
                   for c in candidates)
    return points, total


def grid_study(baseline: str, *, phi: float = 1.0, space: GridSpace = GridSpace(), target_macs: float | None = None,
               w: float = SOFT_EXPONENT, hard: bool = False, data: DataConfig = DataConfig(),
               training: TrainConfig = TrainConfig(), seeds: tuple[int, ...] = (0,), proxy_resolution: int = 32,
               resolution: int | None = None, pruning: Pruning = Pruning(), noise_seeds: int = 3) -> StudyConfig:
    """The configuration of a coefficient search of `baseline` at φ.

    T defaults to product^φ × the baseline's MACs. The noise probe is the paper's point when it
    is a candidate, else the first candidate.
    """
    phi = check_phi(phi)
    if phi <= 0:
        raise UserError(f"phi must be > 0 for the grid search (the paper uses 1), got {phi:g}")
    points, total = grid_points(space, phi)
    if target_macs is None:
        target_macs = space.target**phi * resolve_baseline(baseline, resolution).cost(Multipliers()).macs
    labels = [tuple(p.labels.values()) for p in points]
    probe = labels.index(PAPER_POINT) if PAPER_POINT in labels else 0
    return StudyConfig(kind="grid", baseline=portable_baseline(baseline), points=points, scoring=Scoring(float(target_macs), w, hard),
                       data=data, training=training, seeds=seeds, proxy_resolution=proxy_resolution,
                       resolution=resolution, pruning=pruning, noise_seeds=noise_seeds, noise_point=probe,
                       settings=(("phi", phi), ("space", asdict(space)), ("grid_points", total)))
