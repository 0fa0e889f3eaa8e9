"""CUDA correctness of the proxy trainer: B0 trains on the embedded data with the grid's recipe.

Each run is `train_proxy` with TrainConfig's defaults (the short preset, 3 epochs, the grid's
budget until it became 4) in the layout `choose_layout` picks for the resolution, so 32 px runs the small-input
layout and 128 px the large-input one. It prints top-1 and the history per seed; the same
seed twice shows how far cuDNN's kernels leave a run from repeating exactly. For speed by
layout and resolution see benchmarks/gpu_layouts.py.

    python benchmarks/gpu_check.py                           # 32 and 128 px, seeds 0 0 1
    python benchmarks/gpu_check.py --resolutions 32 --seeds 0 1 2
"""

from __future__ import annotations

import argparse

import torch

from scalesearch.cli.numbers import RESOLUTION, bounded_int
from scalesearch.data import load_dataset
from scalesearch.nn import build
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.config import SEED
from scalesearch.training.layout import choose_layout
from scalesearch.zoo import get_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=bounded_int(*RESOLUTION), nargs="+", default=[32, 128],
                        help="px (default 32 128)")
    parser.add_argument("--seeds", type=bounded_int(*SEED), nargs="+", default=[0, 0, 1], help="(default 0 0 1)")
    args = parser.parse_args()
    data = load_dataset("fashion-mnist-mini")
    print("device:", torch.cuda.get_device_name(0), "; torch", torch.__version__)
    for resolution in args.resolutions:
        print(f"{resolution} px: {choose_layout('cuda', resolution).describe()}")
        for seed in args.seeds:
            model = build(get_spec("efficientnet-b0").with_classes(data.num_classes))
            result = train_proxy(model, data, resolution, TrainConfig(seed=seed, device="cuda", progress=False))
            print(f"  seed {seed}: status {result.status} top1 {result.top1:.4f} top5 {result.top5:.4f} "
                  f"{result.images_per_second:.0f} img/s {result.wall_seconds:.1f} s history "
                  + " ".join(f"{a:.4f}" for a in result.history), flush=True)


if __name__ == "__main__":
    main()
