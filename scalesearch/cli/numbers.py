"""Bounded number types for argparse, and the bounds of every numeric flag.

Every numeric flag has an explicit lower and upper bound, so that a typo (`--w 1e9`, `--epochs 1e12`,
`--seed 2**70`) is refused in one line before anything runs, and zero never stands for "default":
a flag left out is None (or its stated default). A bound is a `(low, high)` tuple, inclusive unless
the flag's type says otherwise; commands (`grid` included) import them from here.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from scalesearch.data.registry import MAX_IMAGE_SIZE
from scalesearch.scaling import COEFFICIENT_RANGE, MULTIPLIER_MAX, PHI_RANGE
from scalesearch.spec import MAX_RESOLUTION
from scalesearch.training.config import (BATCH_SIZE, EPOCHS, IMAGES, LABEL_SMOOTHING, LR,  # noqa: F401
                                         SEED, WEIGHT_DECAY)

# training budget and recipe: the trainer's own bounds (EPOCHS, IMAGES, BATCH_SIZE, LR, WEIGHT_DECAY,
# LABEL_SMOOTHING, SEED), imported above
# models and scaling
MULTIPLIER = (0.0, MULTIPLIER_MAX)  # --d, --w, --r; low excluded
PHI = PHI_RANGE
COEFFICIENT = COEFFICIENT_RANGE  # --alpha, --beta, --gamma
RESOLUTION = (8, MAX_RESOLUTION)  # a model's base resolution (--resolution)
PROXY_RESOLUTION = (1, MAX_RESOLUTION)  # training resolution before scaling by r; the stride check follows
MAX_PHI_VALUES = 100  # values in one `scale --phi` list or range
# data
SUBSET_IMAGES = (1, 100_000_000)  # --train-images, --test-images
IMAGE_SIZE = (8, MAX_IMAGE_SIZE)  # imagefolder's --image-size


def _show(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def describe(bounds: tuple[float, float], *, low_open: bool = False, high_open: bool = False) -> str:
    """'[1, 10]', '(0, 16]' or '[0, 1)': the interval as a user reads it."""
    low, high = bounds
    return f"{'(' if low_open else '['}{_show(low)}, {_show(high)}{')' if high_open else ']'}"


def _check(value: float, text: str, bounds: tuple[float, float], low_open: bool, high_open: bool) -> None:
    low, high = bounds
    inside = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not inside:
        raise argparse.ArgumentTypeError(
            f"must be in {describe(bounds, low_open=low_open, high_open=high_open)}, got {text}")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high] ('1e3' and '2.0' are refused, not rounded)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        _check(value, text, (low, high), False, False)
        return value

    parse.__name__ = f"integer in {describe((low, high))}"
    parse.value_type = int  # type: ignore[attr-defined] - what an experiment file must give (experiment_file.py)
    return parse


def bounded_float(low: float, high: float, *, low_open: bool = False,
                  high_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in [low, high]; `low_open`/`high_open` exclude a bound."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        _check(value, text, (low, high), low_open, high_open)
        return value

    parse.__name__ = f"number in {describe((low, high), low_open=low_open, high_open=high_open)}"
    parse.value_type = float  # type: ignore[attr-defined]
    return parse


def in_range(bounds: tuple[float, float], *, low_open: bool = False, high_open: bool = False) -> str:
    """The help text fragment for a bound: 'in [1, 1000]'."""
    return f"in {describe(bounds, low_open=low_open, high_open=high_open)}"


def number_list(bounds: tuple[float, float], most: int, *, low_open: bool = False) -> Callable[[str], tuple[float, ...]]:
    """argparse type: comma-separated finite numbers, each within `bounds`, at most `most` of them."""
    low, high = bounds

    def parse(text: str) -> tuple[float, ...]:
        values = []
        for part in text.split(","):
            try:
                value = float(part)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
            inside = (low < value if low_open else low <= value) and value <= high
            if not (math.isfinite(value) and inside):
                raise argparse.ArgumentTypeError(f"each value must be {in_range(bounds, low_open=low_open)}, "
                                                 f"got {part}")
            values.append(value)
        if len(values) > most:
            raise argparse.ArgumentTypeError(f"at most {most} values, got {len(values)}")
        return tuple(values)

    return parse
