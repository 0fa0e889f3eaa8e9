"""Batch-1 CPU latency: our zoo models against torchvision's same architectures, and Table 4's pair.

    python benchmarks/latency.py [--runs 40] [--warmup 3] [--threads 1]

Each of our models gets the weights of its torchvision twin (same tensors, same ops), and the two
take turns round by round, so drift of the machine hits them alike. Then the Table 4 pair, our
EfficientNet-B1 at 240 px against our ResNet-152 at 224 px, takes turns the same way (paper: 5.7×).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from scalesearch.cli.latency_command import add_timing_options
from scalesearch.latency import TORCHVISION_PREFIX, TimedModel, resolve_model, summarize, time_rounds
from scalesearch.torchvision_compat import TORCHVISION_EQUIVALENTS, load_torchvision_state_dict

PAIRS = ("efficientnet-b1", "mobilenet-v2", "resnet-152")
PAPER_B1_OVER_RESNET152 = 5.7


def twins(name: str) -> list[TimedModel]:
    """Our `name` carrying the weights of torchvision's, then torchvision's."""
    theirs = resolve_model(TORCHVISION_PREFIX + TORCHVISION_EQUIVALENTS[name])
    ours = resolve_model(name)
    load_torchvision_state_dict(ours.model, theirs.model.state_dict())
    return [ours, theirs]


def parity(pair: list[TimedModel], runs: int, warmup: int, threads: int) -> dict[str, object]:
    """Time (ours, torchvision's) in turns: mean latencies, and ours / torchvision's by mean, by median,
    and paired (the median over rounds of the ratio within a round)."""
    seconds = time_rounds(pair, runs, warmup, threads)
    ours, theirs = summarize(pair, seconds).itertuples()
    return {"model": ours.model, "resolution": ours.resolution, "params": ours.params,
            "ours mean ms": ours.mean_ms, "torchvision mean ms": theirs.mean_ms,
            "ours IQR ms": ours.iqr_ms, "torchvision IQR ms": theirs.iqr_ms,
            "ours/tv mean": ours.mean_ms / theirs.mean_ms, "ours/tv median": ours.median_ms / theirs.median_ms,
            "ours/tv paired": float(np.median(np.divide(*seconds)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_options(parser, runs=40, warmup=3)
    args = parser.parse_args()
    counts = (args.runs, args.warmup, args.threads)
    print(f"batch 1, {args.threads} thread(s), {args.warmup} warm-up + {args.runs} timed rounds, interleaved\n")
    pairs = {name: twins(name) for name in PAIRS}
    rows = [parity(pair, *counts) for pair in pairs.values()]
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f", intfmt=","))
    table4 = [pairs["efficientnet-b1"][0], pairs["resnet-152"][0]]
    b1, r152 = summarize(table4, time_rounds(table4, *counts)).itertuples()
    print(f"\nTable 4: efficientnet-b1 ({b1.resolution} px, {b1.mean_ms:.1f} ms) is "
          f"{r152.mean_ms / b1.mean_ms:.1f}× faster than resnet-152 ({r152.resolution} px, {r152.mean_ms:.1f} ms) "
          f"by mean, {r152.median_ms / b1.median_ms:.1f}× by median; paper: {PAPER_B1_OVER_RESNET152}×")


if __name__ == "__main__":
    main()
