"""Scaling rules: pure functions spec x (d, w, r) -> spec, with the reference rounding.

- channels: `make_divisible(c * w, 8)`, never more than 10% below c * w (torchvision, TF);
- repeats: `ceil(L * d)`;
- resolution: `round(R * r)`, halves rounded up, to an integer pixel count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scalesearch.errors import UserError
from scalesearch.spec import MAX_RESOLUTION, NetworkSpec, SpecError

PHI_RANGE = (-8.0, 12.0)  # inclusive
MULTIPLIER_MAX = 16.0  # d, w and r are in (0, MULTIPLIER_MAX]
COEFFICIENT_RANGE = (1.0, 16.0)  # α, β, γ, inclusive


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of `divisor`, never going more than 10% below `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_repeats(repeats: int, depth: float) -> int:
    return int(math.ceil(repeats * depth))


def scale_resolution(resolution: int, factor: float) -> int:
    """Scaled input resolution in pixels: nearest integer, halves rounded up; UserError above MAX_RESOLUTION."""
    scaled = int(math.floor(resolution * factor + 0.5))
    if scaled > MAX_RESOLUTION:
        raise UserError(f"resolution {resolution} scaled by r={factor:g} is {scaled} px, above the limit of "
                        f"{MAX_RESOLUTION} px")
    return scaled


@dataclass(frozen=True)
class Multipliers:
    """Depth, width and resolution multipliers (d, w, r) relative to the baseline."""

    depth: float = 1.0
    width: float = 1.0
    resolution: float = 1.0

    def __post_init__(self) -> None:
        for name in ("depth", "width", "resolution"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                    and 0 < value <= MULTIPLIER_MAX):
                raise UserError(f"{name} multiplier must be a positive finite number <= {MULTIPLIER_MAX:g}, "
                                f"got {value!r}")


def check_phi(phi: float) -> float:
    """φ as a float inside the supported range, or a UserError."""
    low, high = PHI_RANGE
    if not (math.isfinite(phi) and low <= phi <= high):
        raise UserError(f"phi must be in [{low:g}, {high:g}], got {phi}")
    return float(phi)


def check_coefficient(value: float, name: str) -> float:
    low, high = COEFFICIENT_RANGE
    if not (math.isfinite(value) and low <= value <= high):
        raise UserError(f"{name} must be a finite number >= {low:g} and <= {high:g}, got {value}")
    return float(value)


def compound(alpha: float, beta: float, gamma: float, phi: float) -> Multipliers:
    """The paper's Eq. 3: d = α^φ, w = β^φ, r = γ^φ (α, β, γ >= 1; φ may be negative)."""
    alpha = check_coefficient(alpha, "alpha")
    beta = check_coefficient(beta, "beta")
    gamma = check_coefficient(gamma, "gamma")
    phi = check_phi(phi)
    return Multipliers(alpha**phi, beta**phi, gamma**phi)


def scale_spec(spec: NetworkSpec, multipliers: Multipliers) -> NetworkSpec:
    """Scale every stage's depth and every layer's width, and the base resolution."""
    d, w = multipliers.depth, multipliers.width
    try:
        return _scaled(spec, multipliers)
    except SpecError as exc:
        raise SpecError(f"{spec.name} scaled by d={d:g}, w={w:g}, r={multipliers.resolution:g} is out of "
                        f"bounds: {exc}") from None


def _scaled(spec: NetworkSpec, multipliers: Multipliers) -> NetworkSpec:
    d, w = multipliers.depth, multipliers.width
    stages = tuple(
        replace(stage, channels=make_divisible(stage.channels * w), repeats=scale_repeats(stage.repeats, d))
        for stage in spec.stages
    )
    head = replace(spec.head, channels=make_divisible(spec.head.channels * w)) if spec.head.channels else spec.head
    return replace(
        spec,
        stem=replace(spec.stem, channels=make_divisible(spec.stem.channels * w)),
        stages=stages,
        head=head,
        resolution=scale_resolution(spec.resolution, multipliers.resolution),
    )
