"""Batch-1 CPU inference latency, measured as in Table 4 of the EfficientNet paper.

Each model runs in eval mode under `torch.inference_mode` on one image, with a fixed number of
threads (one by default). The models take turns round by round (A B A B ...), warm-up rounds
first, so that drift of the machine (clock, cache, other load) hits all of them alike.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchvision
from torch import nn

from scalesearch.baselines import build_checked, one_line, resolve_baseline
from scalesearch.errors import UserError
from scalesearch.scaling import Multipliers
from scalesearch.torchvision_compat import TORCHVISION_EQUIVALENTS
from scalesearch.zoo import MODEL_NAMES, ZOO

TORCHVISION_PREFIX = "torchvision:"
TORCHVISION_DEFAULT_RESOLUTION = 224  # for a torchvision model with no family in our zoo
_ZOO_OF_TORCHVISION = {theirs: ours for ours, theirs in TORCHVISION_EQUIVALENTS.items()}


@dataclass(frozen=True)
class TimedModel:
    """A network to time, its name as given, and the side of its square input image."""

    name: str
    model: nn.Module
    resolution: int


def _torchvision_model(name: str, resolution: int | None) -> TimedModel:
    builder = name.removeprefix(TORCHVISION_PREFIX)
    choices = torchvision.models.list_models(module=torchvision.models)
    if builder not in choices:
        examples = get_close_matches(builder, choices, n=5, cutoff=0.5) or sorted(_ZOO_OF_TORCHVISION)
        raise UserError(f"unknown torchvision model {builder!r}; e.g. {', '.join(examples)} "
                        f"(all {len(choices)}: torchvision.models.list_models())")
    if resolution is None:
        zoo_name = _ZOO_OF_TORCHVISION.get(builder)
        resolution = ZOO[zoo_name].resolution if zoo_name else TORCHVISION_DEFAULT_RESOLUTION
    return TimedModel(name, torchvision.models.get_model(builder, weights=None), resolution)


def _names_a_baseline(name: str) -> bool:
    """Whether `resolve_baseline` can take `name`: a zoo name, inline JSON, a spec file or module:function."""
    return name in ZOO or ":" in name or name.lstrip().startswith("{") or name.endswith(".json") or Path(name).is_file()


def resolve_model(name: str, resolution: int | None = None) -> TimedModel:
    """A model by name: a zoo name, a spec .json, module:function, or `torchvision:BUILDER` (random weights).

    The resolution defaults to the model's own: the release resolution for a zoo model and for a
    torchvision model of a family in our zoo (`torchvision:efficientnet_b1` at 240 px), else 224.
    """
    if name.startswith(TORCHVISION_PREFIX):
        return _torchvision_model(name, resolution)
    if not _names_a_baseline(name):
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}, torchvision:BUILDER "
                        f"(e.g. torchvision:efficientnet_b1), a spec .json or module:function")
    baseline = resolve_baseline(name, resolution)
    resolution = resolution or baseline.resolution
    return TimedModel(name, build_checked(baseline, Multipliers(), 1000, resolution), resolution)


def _check_counts(models: int, runs: int, warmup: int, threads: int) -> None:
    for count, what, least in ((models, "models", 1), (runs, "runs", 1), (warmup, "warmup", 0),
                               (threads, "threads", 1)):
        if count < least:
            raise UserError(f"{what} must be at least {least}, got {count}")


def time_rounds(models: Sequence[TimedModel], runs: int, warmup: int, threads: int) -> list[list[float]]:
    """Seconds per forward pass of each model over `runs` rounds, after `warmup` untimed rounds.

    In every round each model runs once, in the order given. torch's thread count is restored after;
    a model that fails on its image is a UserError naming it.
    """
    _check_counts(len(models), runs, warmup, threads)
    generator = torch.Generator().manual_seed(0)
    images = [torch.randn(1, 3, m.resolution, m.resolution, generator=generator) for m in models]
    seconds: list[list[float]] = [[] for _ in models]
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for timed in models:
                timed.model.eval()
            for round_index in range(warmup + runs):
                for times, timed, image in zip(seconds, models, images):
                    start = time.perf_counter()
                    try:
                        timed.model(image)
                    except Exception as exc:  # a model of any origin can fail on its input; say which and why
                        raise UserError(f"{timed.name} failed on one {timed.resolution}x{timed.resolution} px "
                                        f"image: {one_line(exc)}") from None
                    elapsed = time.perf_counter() - start
                    if round_index >= warmup:
                        times.append(elapsed)
    finally:
        torch.set_num_threads(previous_threads)
    return seconds


def summarize(models: Sequence[TimedModel], seconds: Sequence[Sequence[float]]) -> pd.DataFrame:
    """One row a model from its `time_rounds` seconds: resolution, params, mean, median and interquartile
    range (q75 - q25) of the latency in ms, and `ratio`, its mean over the first model's mean (below 1:
    faster than the first)."""
    rows = []
    for timed, times in zip(models, seconds):
        ms = np.asarray(times) * 1000.0
        q25, q75 = np.percentile(ms, [25, 75])
        rows.append({"model": timed.name, "resolution": timed.resolution,
                     "params": sum(p.numel() for p in timed.model.parameters()),
                     "mean_ms": float(ms.mean()), "median_ms": float(np.median(ms)), "iqr_ms": float(q75 - q25)})
    table = pd.DataFrame(rows)
    table["ratio"] = table["mean_ms"] / table["mean_ms"].iloc[0]
    return table


def latency_table(models: Sequence[TimedModel], runs: int = 20, warmup: int = 5, threads: int = 1) -> pd.DataFrame:
    """Time `models` in turns (`time_rounds`) and `summarize` them."""
    return summarize(models, time_rounds(models, runs, warmup, threads))


def speedup_lines(table: pd.DataFrame) -> list[str]:
    """'X is N.N× faster than Y' for each model after the first, against the first (by mean latency)."""
    first = table.iloc[0]
    lines = []
    for _, row in table.iloc[1:].iterrows():
        fast, slow = (row, first) if row["ratio"] <= 1.0 else (first, row)
        lines.append(f"{fast['model']} is {slow['mean_ms'] / fast['mean_ms']:.1f}× faster than {slow['model']}")
    return lines
