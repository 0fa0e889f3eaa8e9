"""The MnasNet reward ACC·(MACs/T)^w, in its soft and hard forms, and how a study scores with it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.errors import UserError

SOFT_EXPONENT = -0.07  # MnasNet's soft constraint
EXPONENT_RANGE = (-1.0, 1.0)
TARGET_MACS_RANGE = (1.0, 1e15)


def reward(accuracy: float, macs: float, target_macs: float, w: float = SOFT_EXPONENT, hard: bool = False) -> float:
    """ACC·(MACs/T)^w; the hard form uses w = 0 within the target and w = -1 beyond it."""
    if macs <= 0 or target_macs <= 0:
        raise ValueError("MACs and the target must be positive")
    if hard:
        w = 0.0 if macs <= target_macs else -1.0
    return accuracy * math.pow(macs / target_macs, w)


@dataclass(frozen=True)
class Scoring:
    """How a network is scored: the MACs target T (nominal resolution), the exponent w, hard or soft."""

    target_macs: float
    w: float = SOFT_EXPONENT
    hard: bool = False

    def __post_init__(self) -> None:
        low, high = TARGET_MACS_RANGE
        if not (math.isfinite(self.target_macs) and low <= self.target_macs <= high):
            raise UserError(f"target MACs must be in {low:g}..{high:g}, got {self.target_macs}")
        low, high = EXPONENT_RANGE
        if not (math.isfinite(self.w) and low <= self.w <= high):
            raise UserError(f"reward exponent w must be in {low:g}..{high:g}, got {self.w}")

    def score(self, accuracy: float, macs: float) -> float:
        return reward(accuracy, macs, self.target_macs, self.w, self.hard)

    def factor(self, macs: float) -> float:
        """The reward's multiplier of accuracy for a network of `macs`."""
        return self.score(1.0, macs)
