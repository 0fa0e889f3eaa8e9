"""CUDA correctness of the proxy trainer: B0 trains on the embedded data in the layout choose_layout picks.

For speed by layout and resolution see benchmarks/gpu_layouts.py.

    python benchmarks/gpu_check.py   # on a machine with a CUDA GPU
"""

from __future__ import annotations

import torch

from scalesearch.data import load_dataset
from scalesearch.nn import build
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.zoo import get_spec


def main() -> None:
    data = load_dataset("fashion-mnist-mini")
    print("device:", torch.cuda.get_device_name(0))
    for seed in (0, 0, 1):
        model = build(get_spec("efficientnet-b0").with_classes(data.num_classes))
        result = train_proxy(model, data, 32, TrainConfig(epochs=5, seed=seed, device="cuda", progress=False))
        print(f"seed {seed}: status {result.status} top1 {result.top1:.4f} top5 {result.top5:.4f} "
              f"{result.images_per_second:.0f} img/s {result.wall_seconds:.1f} s history "
              + " ".join(f"{a:.3f}" for a in result.history))


if __name__ == "__main__":
    main()
