"""Scaling matched to a MACs target: the depth, width or resolution factor (or the factor of a
scaling rule such as Dollár et al.'s dWr) closest in counted MACs.

Depth rounds each stage's repeats up, width rounds channels to multiples of 8 and resolution
rounds to whole pixels, so a network's MACs are a step function of each factor. `match_macs`
bisects on the counted MACs (nominal resolution, 1000-class head: the paper's numbers) to the
two steps around the target and returns the factor of the closer one, written as short as it
can be without leaving its step. `find_macs_match` also says how far off the match is;
`find_rule_match` does the same for any monotone rule factor -> Multipliers.

    match_macs(baseline, "width", 2 * baseline.cost(Multipliers()).macs)   # Multipliers(1, w, 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from scalesearch.baselines import Baseline
from scalesearch.errors import UserError
from scalesearch.scaling import MULTIPLIER_MAX, Multipliers

DIMENSIONS = ("depth", "width", "resolution")
_ALIASES = {"d": "depth", "w": "width", "r": "resolution"}
MIN_FACTOR = 2.0**-6  # below this every dimension has long reached its floor (1 repeat, 8 channels)
RELATIVE_TOLERANCE = 1e-4  # bisection stops when the two factors differ by less than this, relatively
_MAX_DECIMALS = 6


@dataclass(frozen=True)
class MacsMatch:
    """The network of a rule closest to `target_macs`: the rule's factor, its multipliers and counted MACs.

    `dimension` names the rule: depth, width or resolution for single-dimension scaling.
    """

    dimension: str
    factor: float
    multipliers: Multipliers
    macs: int
    target_macs: float

    @property
    def mismatch(self) -> float:
        """MACs/target − 1: signed, 0.03 means 3 % more MACs than the target."""
        return mismatch(self.macs, self.target_macs)


def mismatch(macs: float, target_macs: float) -> float:
    """Relative MACs mismatch MACs/target − 1."""
    return macs / target_macs - 1.0


def check_dimension(dimension: str) -> str:
    """The dimension's Multipliers field name (depth, width, resolution; d, w, r accepted), or a UserError."""
    name = _ALIASES.get(dimension, dimension)
    if name not in DIMENSIONS:
        raise UserError(f"unknown scaling dimension {dimension!r}; choose from {', '.join(DIMENSIONS)}")
    return name


def find_macs_match(baseline: Baseline, dimension: str, target_macs: float, *, start: Multipliers = Multipliers(),
                    low: float = MIN_FACTOR, high: float = MULTIPLIER_MAX) -> MacsMatch:
    """The factor of `dimension` in [low, high] whose network's counted MACs are closest to `target_macs`.

    Only `dimension` moves; the other two multipliers keep their values in `start`. MACs are
    counted at the nominal resolution the multipliers give (`baseline.cost`). The search
    assumes MACs do not decrease as the factor grows (true of every spec baseline); of all
    the factors it counted it returns the one with the smallest |MACs/target − 1|. A factor
    whose network cannot be built or costed (a resolution below the total stride or above the
    limit, a spec beyond the size limits) counts as too small below `start` and too large above it.
    UserError for an unknown dimension, a non-positive target or an empty range.
    """
    dimension = check_dimension(dimension)
    origin = min(max(getattr(start, dimension), low), high)
    return find_rule_match(baseline, dimension, lambda factor: replace(start, **{dimension: factor}), target_macs,
                           origin=origin, low=low, high=high)


def find_rule_match(baseline: Baseline, name: str, rule: Callable[[float], Multipliers], target_macs: float, *,
                    origin: float = 1.0, low: float = MIN_FACTOR, high: float = MULTIPLIER_MAX) -> MacsMatch:
    """The factor in [low, high] of `rule` whose network's counted MACs are closest to `target_macs`.

    `rule` maps a factor to multipliers, with MACs not decreasing in the factor; the search
    starts at `origin`. A factor whose multipliers are out of bounds or whose network cannot be
    built or costed counts as too small below `origin` and too large above it.
    """
    if not (math.isfinite(target_macs) and target_macs > 0):
        raise UserError(f"the MACs target must be a positive number, got {target_macs}")
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high <= MULTIPLIER_MAX):
        raise UserError(f"the factor range must satisfy 0 < low <= high <= {MULTIPLIER_MAX:g}, got {low:g}..{high:g}")
    search = _Search(baseline, rule, origin, target_macs)
    below, above = search.bracket(low, high)
    if below is not None and above is not None:
        below, above = search.bisect(below, above)
    best = search.best()
    if best is None:
        raise UserError(f"no {name} factor in {low:g}..{high:g} gives a network of {baseline.name} that can be "
                        f"built and costed")
    direction = "down" if below is not None and best == below else "up" if best == above else "near"
    factor = search.tidy(best, direction, low, high)
    return MacsMatch(name, factor, search.rule(factor), search.macs(factor), float(target_macs))


def match_macs(baseline: Baseline, dimension: str, target_macs: float, *, start: Multipliers = Multipliers(),
               low: float = MIN_FACTOR, high: float = MULTIPLIER_MAX) -> Multipliers:
    """The multipliers of `find_macs_match`: `start` with only `dimension` moved to the closest-MACs factor."""
    return find_macs_match(baseline, dimension, target_macs, start=start, low=low, high=high).multipliers


class _Search:
    """Counted MACs by factor (None: cannot be built or costed), remembered, and the search over them."""

    def __init__(self, baseline: Baseline, rule: Callable[[float], Multipliers], origin: float, target: float
                 ) -> None:
        self.baseline, self.rule = baseline, rule
        self.origin, self.target = origin, target
        self.counted: dict[float, int | None] = {}

    def macs(self, factor: float) -> int | None:
        if factor not in self.counted:
            try:
                self.counted[factor] = self.baseline.cost(self.rule(factor)).macs
            except UserError:
                self.counted[factor] = None
        return self.counted[factor]

    def reaches(self, factor: float) -> bool:
        """At or above the target (an uncountable factor above the origin is taken as above)."""
        macs = self.macs(factor)
        return factor > self.origin if macs is None else macs >= self.target

    def bracket(self, low: float, high: float) -> tuple[float | None, float | None]:
        """(a factor below the target, a factor at or above it); None where the range ends first."""
        factor = self.origin
        if self.reaches(factor):
            while factor > low:
                smaller = max(low, factor / 2)
                if not self.reaches(smaller):
                    return smaller, factor
                factor = smaller
            return None, factor
        while factor < high:
            larger = min(high, factor * 2)
            if self.reaches(larger):
                return factor, larger
            factor = larger
        return factor, None

    def bisect(self, below: float, above: float) -> tuple[float, float]:
        while above / below > 1 + RELATIVE_TOLERANCE:
            middle = math.sqrt(below * above)
            if self.reaches(middle):
                above = middle
            else:
                below = middle
        return below, above

    def best(self) -> float | None:
        valid = [(abs(mismatch(macs, self.target)), factor) for factor, macs in self.counted.items()
                 if macs is not None]
        return min(valid)[1] if valid else None

    def tidy(self, factor: float, direction: str, low: float, high: float) -> float:
        """The shortest decimal of `factor` (rounded towards the inside of its step) with the same MACs."""
        macs = self.macs(factor)
        for decimals in range(1, _MAX_DECIMALS + 1):
            scale = 10.0**decimals
            options = {"up": (math.ceil(factor * scale) / scale,), "down": (math.floor(factor * scale) / scale,),
                       "near": (round(factor, decimals),)}[direction]
            for option in options:
                option = round(option, decimals)
                if low <= option <= high and option > 0 and self.macs(option) == macs:
                    return option
        return factor
