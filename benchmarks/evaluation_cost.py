"""What scoring every epoch costs a proxy training: the paper's point, scored every epoch and last-only.

Trains EfficientNet-B0 scaled by compound(1.2, 1.1, 1.15, phi=1) on the demo's data (3,000 / 1,000
images of fashion-mnist-mini, 37 px, 3 epochs, the short recipe) with `evaluate_every_epoch` True
and False, in turns, and prints each training's wall time and top-1 (which must be the same: the
evaluations do not touch training).

    python benchmarks/evaluation_cost.py --rounds 1 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from scalesearch.baselines import SpecBaseline
from scalesearch.cli.numbers import bounded_int
from scalesearch.data import load_dataset
from scalesearch.scaling import compound
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.zoo import get_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=bounded_int(1, 10), default=1,
                        help="rounds of (every epoch, last only), 1 to 10 (default 1)")
    parser.add_argument("--threads", type=bounded_int(1, 256), default=1,
                        help="torch CPU threads, 1 to 256 (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist-mini").subset(train=3000, test=1000)
    baseline = SpecBaseline(get_spec("efficientnet-b0"))
    multipliers = compound(1.2, 1.1, 1.15, 1.0)
    resolution = baseline.resolution_for(multipliers, 32)
    print(f"{args.threads} thread(s), {resolution} px\n\n| round | every epoch | wall s | top-1 |\n|---|---|---|---|")
    for round_ in range(args.rounds):
        for every in (True, False):
            torch.manual_seed(0)
            model = baseline.build(multipliers, data.num_classes)
            config = TrainConfig(device="cpu", progress=False, evaluate_every_epoch=every)
            started = time.perf_counter()
            result = train_proxy(model, data, resolution, config)
            print(f"| {round_} | {every} | {time.perf_counter() - started:.1f} | {result.top1:.3f} |", flush=True)


if __name__ == "__main__":
    main()
