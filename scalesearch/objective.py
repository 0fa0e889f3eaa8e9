"""The MnasNet reward ACC·(MACs/T)^w, in its soft and hard forms."""

from __future__ import annotations

import math

SOFT_EXPONENT = -0.07  # MnasNet's soft constraint


def reward(accuracy: float, macs: float, target_macs: float, w: float = SOFT_EXPONENT, hard: bool = False) -> float:
    """ACC·(MACs/T)^w; the hard form uses w = 0 within the target and w = -1 beyond it."""
    if macs <= 0 or target_macs <= 0:
        raise ValueError("MACs and the target must be positive")
    if hard:
        w = 0.0 if macs <= target_macs else -1.0
    return accuracy * math.pow(macs / target_macs, w)
