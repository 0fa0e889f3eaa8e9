"""Scaling rules: channel rounding, compound multipliers, repeats, resolution, the released B1-B7."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torchvision
from torchvision.models._utils import _make_divisible

from scalesearch.baselines import SpecBaseline
from scalesearch.errors import UserError
from scalesearch.nn import build
from scalesearch.scaling import (Multipliers, check_phi, compound, make_divisible, scale_repeats, scale_resolution,
                                 scale_spec)
from scalesearch.zoo import EFFICIENTNET_RELEASES, get_spec


@pytest.mark.parametrize("value, expected", [
    (32, 32), (35.2, 32), (36, 40), (83, 80), (3, 8),
    (10, 16),  # 8 would be more than 10% below 10
    (11.9, 16), (12, 16), (1408, 1408), (1280 * 1.1, 1408),
])
def test_make_divisible_rounds_to_8_never_10_percent_down(value: float, expected: int) -> None:
    assert make_divisible(value) == expected


def test_make_divisible_with_another_divisor() -> None:
    assert make_divisible(47, 32) == 64  # 32 < 0.9 * 47
    assert make_divisible(52, 32) == 64
    assert make_divisible(5, 4) == 8  # halves round up: 5 + 2 = 7 -> 4 < 4.5 -> 8


def test_make_divisible_agrees_with_torchvision() -> None:
    for tenths in range(10, 8000, 7):
        value = tenths / 10
        assert make_divisible(value) == _make_divisible(value, 8), value


@pytest.mark.parametrize("phi, expected", [
    (0, (1.0, 1.0, 1.0)),
    (1, (1.2, 1.1, 1.15)),
    (2, (1.44, 1.21, 1.3225)),
    (-1, (1 / 1.2, 1 / 1.1, 1 / 1.15)),
    (0.5, (math.sqrt(1.2), math.sqrt(1.1), math.sqrt(1.15))),
])
def test_compound_multipliers(phi: float, expected: tuple[float, float, float]) -> None:
    m = compound(1.2, 1.1, 1.15, phi)
    assert (m.depth, m.width, m.resolution) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("repeats, depth, expected", [(1, 1.0, 1), (3, 1.1, 4), (4, 1.2, 5), (2, 2.0, 4),
                                                       (3, 0.5, 2), (1, 0.1, 1)])
def test_repeats_round_up(repeats: int, depth: float, expected: int) -> None:
    assert scale_repeats(repeats, depth) == expected


def test_scale_spec_scales_every_stage() -> None:
    scaled = scale_spec(get_spec("efficientnet-b0"), Multipliers(depth=1.1, width=1.1))
    assert [s.repeats for s in scaled.stages] == [2, 3, 3, 4, 4, 5, 2]
    assert [s.channels for s in scaled.stages] == [16, 24, 48, 88, 120, 208, 352]
    assert (scaled.stem.channels, scaled.head.channels) == (32, 1408)


@pytest.mark.parametrize("resolution, factor, expected", [
    (224, 1.15, 258), (224, 1.0, 224), (224, 1 / 1.15, 195),
    (9, 0.5, 5), (100, 2.125, 213),  # halves go up (round() would give 4 and 212)
])
def test_resolution_rounding(resolution: int, factor: float, expected: int) -> None:
    assert scale_resolution(resolution, factor) == expected


def test_baseline_resolution_follows_gamma() -> None:
    baseline = SpecBaseline(get_spec("efficientnet-b0"))
    assert [baseline.resolution_for(compound(1.2, 1.1, 1.15, phi)) for phi in (0, 1, 2, 3)] == [224, 258, 296, 341]


RELEASED = {"b1": (240, 0.2), "b2": (260, 0.3), "b3": (300, 0.3), "b4": (380, 0.4), "b5": (456, 0.4),
            "b6": (528, 0.5), "b7": (600, 0.5)}


@pytest.mark.parametrize("variant", RELEASED)
def test_named_efficientnets_use_the_released_resolution_and_dropout(variant: str) -> None:
    spec = get_spec(f"efficientnet-{variant}")
    release = EFFICIENTNET_RELEASES[variant]
    assert (spec.resolution, spec.head.dropout) == RELEASED[variant] == (release.resolution, release.dropout)
    with torch.device("meta"):
        theirs = torchvision.models.get_model(f"efficientnet_{variant}", weights=None)
        ours = build(spec)
    assert ours.classifier[0].p == theirs.classifier[0].p == spec.head.dropout


def test_negative_phi_gives_a_smaller_cheaper_model() -> None:
    baseline = SpecBaseline(get_spec("efficientnet-b0"))
    smaller = compound(1.2, 1.1, 1.15, -1)
    assert baseline.resolution_for(smaller) == 195
    small, base = baseline.cost(smaller), baseline.cost(Multipliers())
    assert small.params < base.params
    assert small.macs < base.macs


@pytest.mark.parametrize("alpha, beta, gamma, name", [
    (0.9, 1.1, 1.15, "alpha"), (1.2, 0.99, 1.15, "beta"), (1.2, 1.1, 0.5, "gamma"),
    (math.nan, 1.1, 1.15, "alpha"), (1.2, math.nan, 1.15, "beta"), (1.2, 1.1, math.inf, "gamma"),
])
def test_coefficients_below_one_or_not_finite_are_refused(alpha: float, beta: float, gamma: float,
                                                          name: str) -> None:
    with pytest.raises(UserError, match=rf"^{name} must be a finite number >= 1"):
        compound(alpha, beta, gamma, 1)


@pytest.mark.parametrize("phi", [100, 12.5, -8.5, math.nan, math.inf])
def test_phi_out_of_range_is_refused(phi: float) -> None:
    with pytest.raises(UserError, match=r"^phi must be in \[-8, 12\]"):
        compound(1.2, 1.1, 1.15, phi)


def test_phi_range_is_inclusive() -> None:
    assert check_phi(-8) == -8.0 and check_phi(12) == 12.0


@pytest.mark.parametrize("value", [0, -1.0, math.nan, "2"])
def test_multipliers_must_be_positive_numbers(value: object) -> None:
    with pytest.raises(UserError, match=r"^width multiplier must be a positive finite number"):
        Multipliers(width=value)  # type: ignore[arg-type]


def test_scale_spec_is_pure() -> None:
    spec = get_spec("efficientnet-b0")
    before = copy.deepcopy(spec.to_dict())
    scaled = scale_spec(spec, Multipliers(2.0, 2.0, 2.0))
    assert spec.to_dict() == before
    assert get_spec("efficientnet-b0") is spec
    assert scaled != spec and scaled.resolution == 448 and scaled.stages[0].channels == 32
    assert scale_spec(spec, Multipliers(2.0, 2.0, 2.0)) == scaled
