"""Memory format and precision of a training run, chosen by device and resolution from measurements.

`choose_layout` reads `LAYOUTS`: for each device type, rows of (smallest resolution in px,
channels_last, bf16 autocast, where the choice comes from). The row with the largest
threshold not above the run's resolution applies. An explicit setting (TrainConfig's
`channels_last` or `amp` not None) always wins over the table.

Measured with benchmarks/train_throughput.py and benchmarks/gpu_layouts.py on
efficientnet_b0 (the README's throughput section has the figures). To change a choice, rerun

    python benchmarks/gpu_layouts.py             # CUDA: B0 at 32/64/128/224 px, all four layouts
    python benchmarks/gpu_layouts.py --device cpu --resolutions 32 --threads 1 --layouts "NCHW fp32" "CL fp32"

and edit the row it names; each row states whether it was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch


@dataclass(frozen=True)
class Choice:
    """From `min_resolution` px up (until the next row): the layout to train in, and its evidence."""

    min_resolution: int
    channels_last: bool
    amp: bool
    source: str
    measured: bool


LAYOUTS: dict[str, tuple[Choice, ...]] = {
    "cpu": (
        # 2-core x86 CPU (loaded by other work), torch 2.14, B0 at 32 px, batch 64, 1 thread, 3 interleaved
        # rounds, 2026-11-29: channels_last fp32 80 img/s, NCHW fp32 42, channels_last bf16 34 (the common
        # loop 39). At batch 256, 2 threads, quiet (README): channels_last about 3.4x NCHW.
        Choice(0, channels_last=True, amp=False, measured=True, source=(
            "2-core CPU, B0 at 32 px, batch 64: channels_last fp32 80 img/s, NCHW fp32 42, channels_last bf16 34")),
    ),
    "cuda": (
        # H200, torch 2.11, B0, batch 64, 3 interleaved rounds (benchmarks/gpu_layouts.md): NCHW fp32 fastest
        # at 32, 64, 128 and 224 px (1,757 / 1,795 / 1,772 / 1,771 img/s); channels_last fp32 1,569 / 1,739 /
        # 1,515 / 1,592; NCHW bf16 1,493 / 1,468 / 1,415 / 1,520; channels_last bf16 955 / 909 / 1,319 / 1,380;
        # the common loop 1,172 / 1,345 / 1,102 / 1,033. The host bounds the step (a bare step: ~1,750 img/s
        # at every size), so autocast's casts and layout conversions, being extra launches, only cost.
        Choice(0, channels_last=False, amp=False, measured=True, source=(
            "H200, B0 at batch 64: NCHW fp32 the fastest layout at 32, 64, 128 and 224 px")),
    ),
}
"""Per device type, rows in increasing `min_resolution`, the first at 0."""

_FALLBACK = Choice(0, channels_last=False, amp=False, measured=False,
                   source="device type not in LAYOUTS: torch's defaults (NCHW, fp32)")


class Layout(NamedTuple):
    """How a run holds its activations and computes: unpack as `memory_format, amp = layout`."""

    memory_format: torch.memory_format
    amp: bool
    source: str = ""

    @property
    def channels_last(self) -> bool:
        return self.memory_format == torch.channels_last

    def describe(self) -> str:
        """One line, e.g. "channels_last fp32 (measured: ...)"."""
        return (f"{'channels_last' if self.channels_last else 'NCHW'} {'bf16 autocast' if self.amp else 'fp32'}"
                f" ({self.source})")


def table_choice(device_type: str, resolution: int) -> Choice:
    """The `LAYOUTS` row for a run on `device_type` at `resolution` px."""
    rows = LAYOUTS.get(device_type)
    if not rows:
        return _FALLBACK
    chosen = rows[0]
    for row in rows:
        if row.min_resolution <= resolution:
            chosen = row
    return chosen


def choose_layout(
    device: torch.device | str, resolution: int, channels_last: bool | None = None, amp: bool | None = None
) -> Layout:
    """Memory format and bf16 autocast for training on `device` at `resolution` px.

    `channels_last` and `amp` of None take the measured table's choice; True or False wins.
    """
    device_type = torch.device(device).type
    row = table_choice(device_type, resolution)
    use_channels_last = row.channels_last if channels_last is None else channels_last
    use_amp = row.amp if amp is None else amp
    if channels_last is not None and amp is not None:
        source = "set explicitly"
    else:
        evidence = "measured" if row.measured else "unmeasured"
        source = f"{device_type} from {row.min_resolution} px, {evidence}"
        if channels_last is not None or amp is not None:
            source += "; partly set explicitly"
    memory_format = torch.channels_last if use_channels_last else torch.contiguous_format
    return Layout(memory_format, use_amp, source)
