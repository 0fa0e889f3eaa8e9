"""Which memory format and precision trains fastest, by resolution: the evidence for scalesearch/training/layout.py.

For efficientnet_b0 on fashion-mnist-mini at each resolution, it times our trainer
(`train_proxy`) in the four layouts {NCHW, channels_last} x {fp32, bf16 autocast} and the
common-way reference loop of benchmarks/train_throughput.py, interleaved over --rounds
rounds of about --seconds each after a warm-up, with the short recipe (no augmentation).
It prints img/s (median over rounds; "bare" is forward, backward and SGD on one fixed
device batch in NCHW fp32, a loop with no overhead), the fastest layout, the layout
`choose_layout` picks and its speed against the fastest and against the reference, then
the LAYOUTS rows the measurement supports. One run on a GPU takes about 2-4 minutes:

    python benchmarks/gpu_layouts.py                                   # cuda, 32 64 128 224 px, batch 64
    python benchmarks/gpu_layouts.py --batch-size 256
    python benchmarks/gpu_layouts.py --device cpu --resolutions 32 --threads 1 --seconds 4 \
        --layouts "NCHW fp32" "CL fp32"          # bf16 on a CPU without native bf16 is slow
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import Ours, Reference, b0, without_dropout  # noqa: E402

from scalesearch.cli.latency_command import THREADS  # noqa: E402
from scalesearch.cli.numbers import RESOLUTION, bounded_float, bounded_int  # noqa: E402
from scalesearch.data import load_dataset  # noqa: E402
from scalesearch.train import TrainConfig  # noqa: E402
from scalesearch.training.config import BATCH_SIZE  # noqa: E402
from scalesearch.training.device import resolve_device  # noqa: E402
from scalesearch.training.layout import choose_layout, table_choice  # noqa: E402

LAYOUTS = {  # name: (channels_last, amp)
    "NCHW fp32": (False, False),
    "NCHW bf16": (False, True),
    "CL fp32": (True, False),
    "CL bf16": (True, True),
}


class Bare:
    """The floor of any loop: forward, backward and a plain SGD step on one fixed device batch, NCHW fp32.

    No data path, scheduler or loss read-back; ours in NCHW fp32 well below this means the
    overhead is in our loop, not in the layout.
    """

    def __init__(self, resolution: int, batch_size: int, device: torch.device) -> None:
        self.model = without_dropout(b0(device))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        generator = torch.Generator(device=device).manual_seed(0)
        self.images = torch.randn(batch_size, 3, resolution, resolution, device=device, generator=generator)
        self.labels = torch.randint(0, 10, (batch_size,), device=device, generator=generator)
        self.device = device

    def train(self, images: int) -> float:
        """Train on `images` images (whole batches); returns images per second."""
        steps = max(1, images // len(self.labels))
        self.model.train()
        started = time.perf_counter()
        for _ in range(steps):
            loss = F.cross_entropy(self.model(self.images), self.labels)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return steps * len(self.labels) / (time.perf_counter() - started)


def layout_name(channels_last: bool, amp: bool) -> str:
    return next(name for name, value in LAYOUTS.items() if value == (channels_last, amp))


def measure(
    device: torch.device, resolution: int, batch_size: int, rounds: int, seconds: float, layouts: list[str]
) -> dict[str, float]:
    """Median img/s of the reference and of each of `layouts` of ours at `resolution`."""
    data = load_dataset("fashion-mnist-mini")
    contenders = {"ref": Reference(data, resolution, batch_size, device, augment=False),
                  "bare": Bare(resolution, batch_size, device)}
    for name in layouts:
        channels_last, amp = LAYOUTS[name]
        config = TrainConfig(batch_size=batch_size, device=str(device), channels_last=channels_last, amp=amp,
                             progress=False, augment=False, label_smoothing=0.0, model_dropout=False)
        contenders[name] = Ours(data, resolution, config, device)
    images = {}
    for name, contender in contenders.items():
        contender.train(2 * batch_size)  # warm-up: kernels, allocator, cuDNN heuristics
        rate = contender.train(4 * batch_size)
        images[name] = max(4, round(rate * seconds / batch_size)) * batch_size
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, contender in contenders.items():
            rates[name].append(contender.train(images[name]))
    del contenders
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {name: statistics.median(values) for name, values in rates.items()}


def suggested_rows(best: dict[int, str]) -> list[str]:
    """LAYOUTS rows ("from N px: layout") where the measured fastest layout changes."""
    rows, previous = [], None
    for resolution in sorted(best):
        if best[resolution] != previous:
            rows.append(f"from {0 if previous is None else resolution} px: {best[resolution]}")
            previous = best[resolution]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda[:N] or cpu (default cuda)")
    parser.add_argument("--resolutions", type=bounded_int(*RESOLUTION), nargs="+", default=[32, 64, 128, 224])
    parser.add_argument("--batch-size", type=bounded_int(*BATCH_SIZE), default=64, help="(default 64, the proxy's)")
    parser.add_argument("--rounds", type=bounded_int(1, 100), default=3, help="interleaved timed rounds (default 3)")
    parser.add_argument("--seconds", type=bounded_float(0.0, 600.0, low_open=True), default=1.0,
                        help="about how long each timed run lasts (default 1)")
    parser.add_argument("--threads", type=bounded_int(*THREADS), default=None, help="torch CPU threads (default torch's)")
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="let cuDNN time its algorithms per shape (torch.backends.cudnn.benchmark), for every loop")
    parser.add_argument("--layouts", nargs="+", choices=list(LAYOUTS), default=list(LAYOUTS), metavar="LAYOUT",
                        help=f"layouts of ours to time (default all: {', '.join(map(repr, LAYOUTS))})")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"efficientnet_b0, batch {args.batch_size}, short recipe, {args.rounds} rounds of ~{args.seconds:g} s; "
          f"{name}; torch {torch.__version__}; cudnn.benchmark {args.cudnn_benchmark}; img/s, median over rounds", flush=True)
    layouts = args.layouts
    header = f"{'px':>4} {'ref':>7} {'bare':>7} " + " ".join(f"{n:>10}" for n in layouts) + "  fastest    chosen     chosen/fastest chosen/ref"
    print(header, flush=True)
    started = time.perf_counter()
    best: dict[int, str] = {}
    verdicts = []
    for resolution in args.resolutions:
        chosen_layout = choose_layout(device, resolution)
        chosen = layout_name(chosen_layout.channels_last, chosen_layout.amp)
        timed = layouts if chosen in layouts else [*layouts, chosen]
        rates = measure(device, resolution, args.batch_size, args.rounds, args.seconds, timed)
        fastest = max(layouts, key=lambda n: rates[n])
        best[resolution] = fastest
        print(f"{resolution:>4} {rates['ref']:>7.0f} {rates['bare']:>7.0f} " + " ".join(f"{rates[n]:>10.0f}" for n in layouts)
              + f"  {fastest:<10} {chosen:<10} {rates[chosen] / rates[fastest]:>14.2f} {rates[chosen] / rates['ref']:>10.2f}",
              flush=True)
        row = table_choice(device.type, resolution)
        verdicts.append(f"{resolution} px: table row from {row.min_resolution} px "
                        f"({'measured' if row.measured else 'unmeasured'}) picks {chosen}; "
                        f"{'confirmed' if chosen == fastest or rates[chosen] >= 0.95 * rates[fastest] else 'CHANGE to ' + fastest}")
    print("\n".join(verdicts))
    print("rows the measurement supports (scalesearch/training/layout.py LAYOUTS[%r]): %s"
          % (device.type, "; ".join(suggested_rows(best))))
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
