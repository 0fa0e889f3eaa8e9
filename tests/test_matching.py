"""Single-dimension MACs matching on a tiny spec: the match is as close as any factor gets, and moves one multiplier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scalesearch.baselines import SpecBaseline
from scalesearch.errors import UserError
from scalesearch.matching import DIMENSIONS, MacsMatch, find_macs_match, match_macs, mismatch
from scalesearch.scaling import Multipliers, compound
from scalesearch.spec import NetworkSpec

torch.set_num_threads(1)

TINY_SPEC = {
    "name": "tiny",
    "stem": {"channels": 8, "stride": 2},
    "stages": [
        {"op": "mbconv", "channels": 8, "stride": 1, "expand": 2, "se": 0.25},
        {"op": "mbconv", "channels": 16, "stride": 2, "repeats": 2, "expand": 2, "se": 0.25},
    ],
    "head": {"channels": 32},
    "resolution": 32,
}
BASELINE = SpecBaseline(NetworkSpec.from_dict(TINY_SPEC))
BASE_MACS = BASELINE.cost(Multipliers()).macs
# Factors to scan for the best achievable mismatch: a dense log grid for depth and width (steps of whole
# repeats and of 8 channels), every whole-pixel resolution from 24 to 64 px (0.75x to 2x) for resolution.
SCAN = {"depth": np.geomspace(0.5, 3.0, 90).tolist(), "width": np.geomspace(0.5, 3.0, 90).tolist(),
        "resolution": [px / 32 for px in range(24, 65)]}


def best_achievable(dimension: str, target: float) -> float:
    """The smallest |MACs/target − 1| over the scanned factors of `dimension`."""
    return min(abs(mismatch(BASELINE.cost(Multipliers(**{dimension: factor})).macs, target))
               for factor in SCAN[dimension])


@pytest.mark.parametrize("dimension", DIMENSIONS)
@pytest.mark.parametrize("ratio", [1.5, 2.57])
def test_match_is_as_close_as_any_scanned_factor(dimension: str, ratio: float) -> None:
    target = ratio * BASE_MACS
    match = find_macs_match(BASELINE, dimension, target)
    assert isinstance(match, MacsMatch) and match.dimension == dimension
    # the reported MACs are those of the returned multipliers, and the mismatch is MACs/target − 1
    assert match.macs == BASELINE.cost(match.multipliers).macs
    assert match.mismatch == pytest.approx(match.macs / target - 1)
    assert abs(match.mismatch) <= best_achievable(dimension, target) + 1e-12
    # only this dimension moves
    others = {name: getattr(match.multipliers, name) for name in DIMENSIONS if name != dimension}
    assert others == {name: 1.0 for name in others}
    assert match.factor == getattr(match.multipliers, dimension) >= 1.0  # tiny width steps are coarse
    assert match_macs(BASELINE, dimension, target) == match.multipliers


def test_factor_is_written_short() -> None:
    """The returned factor is a short decimal inside its step, not a bisection end like 1.41421..."""
    match = find_macs_match(BASELINE, "resolution", 2 * BASE_MACS)
    assert len(repr(match.factor).split(".")[-1]) <= 4
    # the resolution-only network at φ = 1's MACs: round(32·r) pixels, close to the target
    target = BASELINE.cost(compound(1.2, 1.1, 1.15, 1.0)).macs
    match = find_macs_match(BASELINE, "r", target)
    assert match.dimension == "resolution" and abs(match.mismatch) < 0.05


def test_start_keeps_the_other_multipliers() -> None:
    start = Multipliers(depth=2.0, width=1.0, resolution=1.25)
    target = 2.5 * BASELINE.cost(start).macs
    match = find_macs_match(BASELINE, "width", target, start=start)
    assert (match.multipliers.depth, match.multipliers.resolution) == (2.0, 1.25)
    assert match.multipliers.width > 1.0
    assert match.macs == BASELINE.cost(match.multipliers).macs


def test_targets_beyond_reach_end_at_the_range() -> None:
    """Below the smallest network (1 repeat, 8 channels) or above the largest factor: the end of the range."""
    tiny = find_macs_match(BASELINE, "width", BASE_MACS / 100)
    assert tiny.mismatch > 0 and tiny.macs == min(BASELINE.cost(Multipliers(width=w)).macs for w in (0.1, 0.5))
    huge = find_macs_match(BASELINE, "depth", BASE_MACS * 1e6, high=3.0)
    assert huge.factor == 3.0 and huge.mismatch < 0
    # a resolution above the pixel limit cannot be costed: it counts as too large, not as an error
    far = find_macs_match(BASELINE, "resolution", BASE_MACS * 1e6)
    assert far.mismatch < 0 and far.macs == BASELINE.cost(far.multipliers).macs


@pytest.mark.parametrize("arguments, message", [
    (("height", 1e6), "unknown scaling dimension"),
    (("depth", 0.0), "MACs target must be a positive"),
    (("depth", float("nan")), "MACs target must be a positive"),
])
def test_bad_input(arguments: tuple, message: str) -> None:
    with pytest.raises(UserError, match=message):
        find_macs_match(BASELINE, *arguments)
    with pytest.raises(UserError, match="factor range"):
        find_macs_match(BASELINE, "depth", BASE_MACS, low=2.0, high=1.0)
