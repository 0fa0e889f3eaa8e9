"""Which optimizer recipe scores best in a few epochs? Prints the Markdown rows of optimizer_choice.md.

Each trial trains a freshly initialised torchvision model (same init for every trial of a
model) on fashion-mnist-mini with scalesearch's trainer and reports held-out top-1.
Candidate recipes are registered as extra optimizer presets for the duration of the script.

    python benchmarks/optimizer_choice.py --only b0-1ep --only b0-3ep --only small-3ep   # on the CPU
    python benchmarks/optimizer_choice.py --only b0-sweep --device cuda                   # the wider sweep
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import torch
import torchvision
from torch import nn

from scalesearch.cli.numbers import RESOLUTION, bounded_int, in_range
from scalesearch.data import load_dataset
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.optimizers import PRESETS, Preset, cosine


def adamw(groups: list[dict], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with torch's default betas."""
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)


CANDIDATES = {
    "sgd-nesterov-cosine": PRESETS["short"],
    "adamw-cosine": Preset(lr_per_256=4e-3, weight_decay=0.05, make=adamw, decay=cosine, bn_momentum=0.1),
    "rmsprop-paper": PRESETS["paper"],
    "rmsprop-paper-bn0.1": replace(PRESETS["paper"], bn_momentum=0.1),
}

MODELS = {
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(num_classes=10),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(num_classes=10),
}

SGD, ADAMW, PAPER, PAPER_BN = CANDIDATES  # the recipes' names, in order
# group -> (model, recipe, lr per 256 images, epochs, batch size)
TRIALS: dict[str, list[tuple[str, str, float, float, int]]] = {
    "b0-1ep": [
        ("efficientnet_b0", SGD, 0.2, 1, 128),
        ("efficientnet_b0", SGD, 0.4, 1, 128),
        ("efficientnet_b0", SGD, 0.8, 1, 128),
        ("efficientnet_b0", ADAMW, 1e-3, 1, 128),
        ("efficientnet_b0", ADAMW, 4e-3, 1, 128),
        ("efficientnet_b0", PAPER, 0.016, 1, 128),
        ("efficientnet_b0", PAPER_BN, 0.016, 1, 128),
    ],
    "b0-sweep": [
        *[("efficientnet_b0", SGD, lr, 3, 64) for lr in (0.1, 0.2, 0.4, 0.8)],
        *[("efficientnet_b0", ADAMW, lr, 3, 64) for lr in (2e-3, 4e-3, 8e-3)],
        *[("efficientnet_b0", PAPER_BN, lr, 3, 64) for lr in (0.016, 0.048)],
        ("efficientnet_b0", PAPER, 0.016, 3, 64),
        ("efficientnet_b0", SGD, 0.4, 3, 128),
    ],
    "b0-3ep": [
        ("efficientnet_b0", SGD, 0.05, 3, 64),
        ("efficientnet_b0", SGD, 0.1, 3, 64),
        ("efficientnet_b0", PAPER_BN, 0.016, 3, 64),
        ("efficientnet_b0", ADAMW, 16e-3, 3, 64),
        ("efficientnet_b0", SGD, 0.1, 3, 32),
    ],
    "small-3ep": [
        ("mobilenet_v3_small", SGD, 0.1, 3, 64),
        ("mobilenet_v3_small", SGD, 0.4, 3, 64),
        ("mobilenet_v3_small", ADAMW, 16e-3, 3, 64),
        ("mobilenet_v3_small", PAPER_BN, 0.016, 3, 64),
        ("mobilenet_v3_small", PAPER, 0.016, 3, 64),
    ],
}


def fresh_model(name: str) -> nn.Module:
    """`name` initialised from seed 0, so every recipe starts from the same weights."""
    torch.manual_seed(0)
    return MODELS[name]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TRIALS), action="append", help="run only these groups")
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION), default=32,
                        help=f"training resolution in px, {in_range(RESOLUTION)} (default 32)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu; cuda runs without autocast)")
    args = parser.parse_args()
    PRESETS.update(CANDIDATES)
    data = load_dataset("fashion-mnist-mini")
    where = f"{torch.get_num_threads()} CPU threads" if args.device == "cpu" else torch.cuda.get_device_name()
    print(f"torch {torch.__version__}, {where}, {args.resolution} px, "
          f"{len(data.train_labels)} train / {len(data.test_labels)} test images")
    print("| model | optimizer | lr (per 256) | lr | batch | epochs | top-1 | wall s | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for group in args.only or list(TRIALS):
        for model_name, recipe, lr_per_256, epochs, batch in TRIALS[group]:
            config = TrainConfig(
                epochs=epochs, batch_size=batch, optimizer=recipe, lr=lr_per_256 * batch / 256,
                device=args.device, amp=False, progress=False,
                # measured with regularisation on, no zero-init, 0.3 epochs of warmup and a plain
                # shuffle, as the presets had it then (recipe_choice.md)
                augment=True, label_smoothing=0.1, model_dropout=True, zero_init_residual=False,
                warmup_epochs=0.3, balanced_batches=False,
            )
            started = time.perf_counter()
            result = train_proxy(fresh_model(model_name), data, args.resolution, config)
            wall = time.perf_counter() - started
            top1 = f"{result.top1:.3f}" if result.status == "ok" else result.status
            print(f"| {model_name} | {recipe} | {lr_per_256:g} | {config.lr:g} | {batch} | {epochs:g} | {top1} "
                  f"| {wall:.0f} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
