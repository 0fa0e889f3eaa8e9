"""The paper's comparisons as producers of points: Figures 3, 4 and 8 and Table 3.

Each sweep turns its factors into `Point`s (labelled by series and factor); `ablation_study`
wraps them in a `StudyConfig` of kind "ablation" that the same runner as the grid trains,
with its resume, workers, storage, duplicate merge and noise probe (the baseline network).

    fig3: the baseline scaled in width, depth or resolution alone (Figure 3);
    fig4: width sweeps under several (d, r) (Figure 4);
    fig8: compound scaling at φ = 1…N against depth-, width-, resolution-only and Dollár et al.'s
          dWr scaling, each matched to the compound network's counted MACs (Figure 8);
    table3: the same at one φ for several baselines (Table 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scalesearch.baselines import Baseline, baseline_name, portable_baseline, resolve_baseline
from scalesearch.errors import UserError
from scalesearch.family import PAPER_COEFFICIENTS
from scalesearch.matching import DIMENSIONS, find_macs_match, find_rule_match
from scalesearch.objective import Scoring
from scalesearch.scaling import MULTIPLIER_MAX, Multipliers, check_coefficient, compound
from scalesearch.study_config import DataConfig, Point, Pruning, StudyConfig
from scalesearch.train import TrainConfig

KINDS = ("fig3", "fig4", "fig8", "table3")
MATCHED_KINDS = ("fig8", "table3")
DWR = "dWr"
RULES = (*DIMENSIONS, DWR)
# Dollár et al. 2021, fast compound scaling with α = 0.8: for a MACs factor s, d = s^0.1, w = s^0.4, r = s^0.05.
DWR_EXPONENTS = Multipliers(0.1, 0.4, 0.05)
MAX_MISMATCH = 0.05  # a matched network further than this from the compound's MACs is not compared
MAX_FACTORS = 50
PHI_MAX = 8.0

# The paper's sweeps (Figures 3 and 4) and smaller CPU defaults (minutes on a 2-core CPU).
PAPER_WIDTHS = (1.0, 1.4, 1.8, 2.2, 2.6, 3.0, 3.8, 5.0)
PAPER_DEPTHS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
PAPER_RESOLUTIONS = (1.0, 1.3, 1.5, 1.7, 2.0, 2.5)
PAPER_FIG4_SETTINGS = ((1.0, 1.0), (2.0, 1.0), (1.0, 1.3), (2.0, 1.3))
PAPER_FIG8_PHIS = (1.0, 2.0, 3.0, 4.0)
PAPER_TABLE3_BASELINES = ("mobilenet-v1", "mobilenet-v2", "resnet-50")
CPU_WIDTHS = (1.0, 1.4, 1.8)
CPU_DEPTHS = (1.0, 2.0, 3.0)
CPU_RESOLUTIONS = (1.0, 1.3, 1.5)
CPU_FIG4_WIDTHS = (1.0, 1.8)
CPU_FIG8_PHIS = (1.0,)
CPU_TABLE3_BASELINES = ("resnet-18",)


def check_factors(name: str, values: Sequence[float], *, minimum: float = 1.0) -> tuple[float, ...]:
    """`values` as a tuple: not empty, strictly increasing, each in [minimum, MULTIPLIER_MAX] (UserError)."""
    values = tuple(float(v) for v in values)
    if not values:
        raise UserError(f"the {name} sweep is empty; give at least one factor")
    if len(values) > MAX_FACTORS:
        raise UserError(f"the {name} sweep has {len(values)} factors, more than {MAX_FACTORS}")
    for value in values:
        if not (math.isfinite(value) and minimum <= value <= MULTIPLIER_MAX):
            raise UserError(f"{name} factor {value:g} is outside [{minimum:g}, {MULTIPLIER_MAX:g}]"
                            + (": these sweeps only scale up" if value < minimum else ""))
    for low, high in zip(values, values[1:]):
        if high <= low:
            raise UserError(f"the {name} sweep must be increasing, but {high:g} follows {low:g}")
    return values


def _check_phis(phis: Sequence[float]) -> tuple[float, ...]:
    phis = tuple(float(p) for p in phis)
    if not phis:
        raise UserError("the φ sweep is empty; give at least one φ")
    for phi in phis:
        if not (math.isfinite(phi) and 0 < phi <= PHI_MAX):
            raise UserError(f"φ = {phi:g} is outside (0, {PHI_MAX:g}]: these sweeps only scale up")
    for low, high in zip(phis, phis[1:]):
        if high <= low:
            raise UserError(f"the φ sweep must be increasing, but {high:g} follows {low:g}")
    return phis


def _check_rules(rules: Sequence[str]) -> tuple[str, ...]:
    aliases = {"d": "depth", "w": "width", "r": "resolution", "dwr": DWR}
    chosen = tuple(aliases.get(rule.lower(), rule) if rule.lower() != DWR.lower() else DWR for rule in rules)
    for rule in chosen:
        if rule not in RULES:
            raise UserError(f"unknown scaling rule {rule!r}; choose from {', '.join(RULES)}")
    if not chosen or len(set(chosen)) != len(chosen):
        raise UserError(f"give each scaling rule once, at least one of {', '.join(RULES)}")
    return chosen


def _point(series: str, factor: float, multipliers: Multipliers, *, phi: float | None = None,
           model: str | None = None) -> Point:
    """A labelled point; `model` (a baseline in portable form) also names the point's own baseline."""
    label = ({"model": baseline_name(model)} if model is not None else {}) | {"series": series}
    label |= ({"phi": phi} if phi is not None else {}) | {"factor": factor}
    return Point.of(label, multipliers, baseline=model)


@dataclass(frozen=True)
class Fig3Sweep:
    """Single-dimension scaling: each factor list scales one dimension of the baseline alone."""

    widths: tuple[float, ...] = CPU_WIDTHS
    depths: tuple[float, ...] = CPU_DEPTHS
    resolutions: tuple[float, ...] = CPU_RESOLUTIONS
    kind: str = "fig3"

    def __post_init__(self) -> None:
        for name in ("widths", "depths", "resolutions"):
            object.__setattr__(self, name, check_factors(name[:-1], getattr(self, name)))

    def points(self, baseline: Baseline, resolution: int | None = None) -> tuple[Point, ...]:
        return tuple(_point(dimension, factor, Multipliers(**{dimension: factor}))
                     for dimension, factors in (("width", self.widths), ("depth", self.depths),
                                                ("resolution", self.resolutions))
                     for factor in factors)


@dataclass(frozen=True)
class Fig4Sweep:
    """Width sweeps, one per (d, r) setting."""

    widths: tuple[float, ...] = CPU_FIG4_WIDTHS
    settings: tuple[tuple[float, float], ...] = PAPER_FIG4_SETTINGS
    kind: str = "fig4"

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", check_factors("width", self.widths))
        if not self.settings:
            raise UserError("give at least one (d, r) setting")
        settings = tuple((check_factors("depth", (d,))[0], check_factors("resolution", (r,))[0])
                         for d, r in self.settings)
        if len(set(settings)) != len(settings):
            raise UserError("each (d, r) setting must be given once")
        object.__setattr__(self, "settings", settings)

    def points(self, baseline: Baseline, resolution: int | None = None) -> tuple[Point, ...]:
        return tuple(_point(f"d={d:g}, r={r:g}", w, Multipliers(d, w, r))
                     for d, r in self.settings for w in self.widths)


@dataclass(frozen=True)
class CompoundSweep:
    """Compound scaling at each φ against `rules` matched to its counted MACs; the baseline at φ = 0.

    With several baselines (Table 3) every baseline gets the same sweep.
    """

    phis: tuple[float, ...] = CPU_FIG8_PHIS
    coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS
    rules: tuple[str, ...] = RULES
    baselines: tuple[str, ...] = ()
    kind: str = "fig8"

    def __post_init__(self) -> None:
        if self.kind not in MATCHED_KINDS:
            raise UserError(f"a compound sweep is one of {', '.join(MATCHED_KINDS)}, not {self.kind!r}")
        object.__setattr__(self, "phis", _check_phis(self.phis))
        object.__setattr__(self, "rules", _check_rules(self.rules))
        coefficients = tuple(check_coefficient(float(c), name)
                             for c, name in zip(self.coefficients, ("alpha", "beta", "gamma")))
        if len(coefficients) != 3:
            raise UserError("give three compound coefficients α, β, γ")
        object.__setattr__(self, "coefficients", coefficients)
        if self.kind == "table3" and not self.baselines:
            raise UserError("table3 needs at least one baseline")
        if len(set(self.baselines)) != len(self.baselines):
            raise UserError("each baseline must be given once")

    def points(self, baseline: Baseline, resolution: int | None = None) -> tuple[Point, ...]:
        if not self.baselines:
            return self._points_of(baseline, None)
        portable = [portable_baseline(name) for name in self.baselines]
        short = [baseline_name(text) for text in portable]
        if len(set(short)) != len(short):
            raise UserError(f"two baselines have the same name ({', '.join(short)}); give each spec its own name")
        return tuple(point for name, text in zip(self.baselines, portable)
                     for point in self._points_of(resolve_baseline(name, resolution), text))

    def _points_of(self, baseline: Baseline, model: str | None) -> tuple[Point, ...]:
        points = [_point(rule, 1.0, Multipliers(), phi=0.0, model=model) for rule in ("compound", *self.rules)]
        for phi in self.phis:
            scaled = compound(*self.coefficients, phi)
            points.append(_point("compound", phi, scaled, phi=phi, model=model))
            target = baseline.cost(scaled).macs
            for rule in self.rules:
                match = (find_rule_match(baseline, DWR, dwr_multipliers, target) if rule == DWR
                         else find_macs_match(baseline, rule, target))
                points.append(_point(rule, match.factor, match.multipliers, phi=phi, model=model))
        return tuple(points)


def dwr_multipliers(factor: float) -> Multipliers:
    """Dollár et al.'s dWr scaling for a MACs factor s: d = s^0.1, w = s^0.4, r = s^0.05."""
    return Multipliers(factor**DWR_EXPONENTS.depth, factor**DWR_EXPONENTS.width, factor**DWR_EXPONENTS.resolution)


AnySweep = Fig3Sweep | Fig4Sweep | CompoundSweep


def ablation_study(sweep: AnySweep, baseline: str, *, data: DataConfig = DataConfig(),
                   training: TrainConfig = TrainConfig(), seeds: tuple[int, ...] = (0,), proxy_resolution: int = 32,
                   resolution: int | None = None, noise_seeds: int = 3) -> StudyConfig:
    """The configuration of a sweep of `baseline` (for table3: of the sweep's baselines).

    The noise probe is the baseline network (the first point); the objective is the accuracy
    (w = 0, T = the baseline's MACs). Pruning is off: every point of a figure is needed.
    """
    if isinstance(sweep, CompoundSweep) and sweep.baselines:
        baseline = sweep.baselines[0]
    base = resolve_baseline(baseline, resolution)
    points = sweep.points(base, resolution)
    settings = {"ablation": sweep.kind, **{k: v for k, v in asdict(sweep).items() if k != "kind"}}
    return StudyConfig(kind="ablation", baseline=portable_baseline(baseline), points=points,
                       scoring=Scoring(float(base.cost(Multipliers()).macs), 0.0, False), data=data,
                       training=training, seeds=seeds, proxy_resolution=proxy_resolution, resolution=resolution,
                       pruning=Pruning("none"), noise_seeds=noise_seeds, noise_point=0,
                       settings=tuple(settings.items()))
