"""Which short-run recipe makes the demo's phi = 1 candidates learn? Prints the rows of recipe_choice.md.

Each row trains EfficientNet-B0 scaled by compound(alpha, beta, gamma, phi=1) from
`torch.manual_seed(seed)` with scalesearch's trainer on fashion-mnist-mini (a stratified
subset of the training split, 1,000 test images unless --test-images says otherwise) at the
proxy resolution 32 * gamma px, and
reports held-out top-1 after the last epoch for each seed. The same seed gives the same
accuracy on the CPU, so accuracies are exact; wall times depend on the machine's load.

    python benchmarks/recipe_choice.py --rows today,previous,recipe --seeds 0,1
    python benchmarks/recipe_choice.py --rows recipe-a,recipe-c --seeds 0,1,2
    python benchmarks/recipe_choice.py --rows adamw-0.004-p,adamw-0.004-d --seeds 2 --test-images 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace

import torch

from scalesearch.baselines import SpecBaseline
from scalesearch.cli.latency_command import THREADS
from scalesearch.cli.numbers import bounded_int, in_range
from scalesearch.data import load_dataset
from scalesearch.scaling import compound
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.batches import DeviceBatches
from scalesearch.training.evaluate import evaluate, recalibrate_batchnorm
from scalesearch.training.optimizers import PRESETS
from scalesearch.zoo import get_spec

PAPER_POINT = (1.2, 1.1, 1.15)
OLD_LR = 0.025  # 0.1 per 256 images at batch 64: the short preset's rate before the first change, and now
PREVIOUS_LR = 0.0125  # 0.05 per 256: the rate of the previous choice
SHORT_WARMUP = {"warmup_epochs": 0.3}  # the warmup of every row measured before the warm-up change
PLAIN = {"balanced_batches": False}  # every row measured before balanced batches: a plain shuffle per epoch
# the short preset before the first change (regularisation on, no zero-init) and without regularisation
TODAY = dict(augment=True, label_smoothing=0.1, model_dropout=True, zero_init_residual=False, lr=OLD_LR,
             **SHORT_WARMUP, **PLAIN)
NOREG = dict(zero_init_residual=False, lr=OLD_LR, **SHORT_WARMUP, **PLAIN)
ZERO = dict(lr=OLD_LR, **SHORT_WARMUP, **PLAIN)  # no regularisation, zero-init
PREVIOUS = dict(lr=PREVIOUS_LR, **SHORT_WARMUP, **PLAIN)  # the previous choice: ZERO at 0.05 per 256
RECIPE: dict = PLAIN  # the chosen recipe before balanced batches: ZERO with one epoch of warmup
BALANCED: dict = {}  # the short preset's defaults now: RECIPE with balanced batches
DEMO = {"a": (1.3, 1.1, 1.1), "b": (1.3, 1.15, 1.1), "c": (1.15, 1.15, 1.15), "d": (1.3, 1.1, 1.15),
        "e": (1.2, 1.15, 1.1)}  # the demo's other networks (the sixth is the paper's point)


def adamw(groups: list[dict], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW (betas 0.9/0.999), as optimizer_choice.py's adamw-cosine."""
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)


# the chosen recipe with AdamW and its usual weight decay of 0.05; measured here only
PRESETS["adamw-short"] = replace(PRESETS["short"], make=adamw, weight_decay=0.05)
EVERY_DEMO_NETWORK = {**DEMO, "p": PAPER_POINT}
# changes to the chosen recipe measured on every demo network: row prefix -> (what changes, TrainConfig fields)
VARIANTS = {
    "adamw-0.002": ("AdamW at 0.002 (weight decay 0.05)", {**RECIPE, "optimizer": "adamw-short", "lr": 0.002}),
    "adamw-0.004": ("AdamW at 0.004 (weight decay 0.05)", {**RECIPE, "optimizer": "adamw-short", "lr": 0.004}),
    "wd-5e-4": ("weight decay 5e-4 (10x)", {**RECIPE, "weight_decay": 5e-4}),
    "warmup-0.5": ("warmup 0.5 epoch", {**RECIPE, "warmup_epochs": 0.5}),
    "balanced": ("balanced batches (the default now)", BALANCED),
}

# row -> (what changes, (alpha, beta, gamma), training images, TrainConfig fields)
ROWS: dict[str, tuple[str, tuple[float, float, float], int, dict]] = {
    "today": ("before: crop/flip, label smoothing 0.1, dropout 0.2, drop-path 0.2", PAPER_POINT, 3000, TODAY),
    "noreg": ("no regularisation", PAPER_POINT, 3000, NOREG),
    "noreg-lr-0.2": ("no regularisation, lr 0.2 per 256", PAPER_POINT, 3000, {**NOREG, "lr": 0.05}),
    "noreg-batch-32": ("no regularisation, batch 32", PAPER_POINT, 3000, {**NOREG, "batch_size": 32, "lr": 0.0125}),
    "noreg-batch-32-2ep": ("no regularisation, batch 32, 2 epochs", PAPER_POINT, 3000,
                           {**NOREG, "batch_size": 32, "lr": 0.0125, "epochs": 2.0}),
    "zero-init": ("no regularisation, zero-init", PAPER_POINT, 3000, ZERO),
    "zero-init-4500": ("no regularisation, zero-init, 4,500 images, 2 epochs", PAPER_POINT, 4500,
                       {**ZERO, "epochs": 2.0}),
    "previous": ("no regularisation, zero-init, lr 0.05 per 256 (previous choice)", PAPER_POINT, 3000, PREVIOUS),
    "previous-4500": ("previous choice, 4,500 images, 2 epochs", PAPER_POINT, 4500, {**PREVIOUS, "epochs": 2.0}),
    **{f"previous-{key}": ("previous choice", point, 3000, PREVIOUS) for key, point in DEMO.items()},
    "zero-confirm-a": ("no regularisation, zero-init", DEMO["a"], 3000, ZERO),
    "zero-confirm-b": ("no regularisation, zero-init", DEMO["b"], 3000, ZERO),
    "warmup-1-c": ("previous, warmup 1 epoch", DEMO["c"], 3000, {**PREVIOUS, "warmup_epochs": 1.0}),
    "smooth-c": ("previous, label smoothing 0.1", DEMO["c"], 3000, {**PREVIOUS, "label_smoothing": 0.1}),
    "warmup-1-smooth-c": ("previous, warmup 1 epoch, label smoothing 0.1", DEMO["c"], 3000,
                          {**PREVIOUS, "warmup_epochs": 1.0, "label_smoothing": 0.1}),
    "recipe": ("zero-init, lr 0.1 per 256, warmup 1 epoch (chosen)", PAPER_POINT, 3000, RECIPE),
    **{f"recipe-{key}": ("chosen", point, 3000, RECIPE) for key, point in DEMO.items()},
    "recipe-smooth-c": ("chosen, label smoothing 0.1", DEMO["c"], 3000, {**RECIPE, "label_smoothing": 0.1}),
    **{f"{prefix}-{key}": (f"chosen, {change}", point, 3000, fields)
       for prefix, (change, fields) in VARIANTS.items() for key, point in EVERY_DEMO_NETWORK.items()},
}


def recalibrated_top1(model: torch.nn.Module, data, resolution: int, config: TrainConfig) -> float:
    """Top-1 of the trained model after re-estimating its BN statistics from 8 training batches.

    The re-estimation does not change training, so this is what `bn_recalibration_batches=8` scores.
    """
    device = next(model.parameters()).device
    batches = DeviceBatches(data, resolution, device, torch.Generator(device=device).manual_seed(config.seed))
    calibration = torch.Generator(device=device).manual_seed(config.seed + 1_000_003)
    recalibrate_batchnorm(model, batches, 8, config.batch_size, calibration)
    return evaluate(model, batches, config.eval_batch_size, False, False)[0]


def run_row(name: str, seeds: list[int], device: str, test_images: int) -> str:
    """Train the row's candidate once per seed; its Markdown table row."""
    change, (alpha, beta, gamma), train_images, fields = ROWS[name]
    data = load_dataset("fashion-mnist-mini").subset(train=train_images, test=test_images)
    baseline = SpecBaseline(get_spec("efficientnet-b0"))
    multipliers = compound(alpha, beta, gamma, 1.0)
    resolution = baseline.resolution_for(multipliers, 32)
    accuracies, recalibrated, rates, walls, cpu = [], [], [], [], []
    for seed in seeds:
        torch.manual_seed(seed)
        model = baseline.build(multipliers, data.num_classes)
        config = TrainConfig(seed=seed, device=device, progress=False, **fields)
        started, used = time.perf_counter(), time.process_time()
        result = train_proxy(model, data, resolution, config)
        walls.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        accuracies.append(result.top1 if result.status == "ok" else float("nan"))
        rates.append(result.images_per_second)
        recalibrated.append(recalibrated_top1(model, data, resolution, config))
        print(f"{name} seed {seed}: top-1 by epoch {[round(a, 3) for a in result.history]}, "
              f"BN re-estimated {recalibrated[-1]:.3f}, {walls[-1]:.0f} s wall, {cpu[-1]:.0f} s CPU",
              file=sys.stderr, flush=True)
    config = TrainConfig(**fields)
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else float("nan")
    return (f"| {name}: {change} | {alpha:g}/{beta:g}/{gamma:g} | {resolution} | {train_images} | {config.epochs:g} "
            f"| {config.batch_size} | {', '.join(map(str, seeds))} | {', '.join(f'{a:.4f}' for a in accuracies)} "
            f"| {statistics.mean(accuracies):.4f} | {spread:.4f} "
            f"| {', '.join(f'{a:.4f}' for a in recalibrated)} | {statistics.mean(rates):.0f} "
            f"| {statistics.mean(walls):.0f} | {statistics.mean(cpu):.0f} | {os.getloadavg()[0]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="today,noreg,previous,recipe,recipe-a,recipe-c",
                        help=f"comma-separated rows, from: {', '.join(ROWS)}")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1)")
    parser.add_argument("--threads", type=bounded_int(*THREADS), default=1,
                        help=f"torch CPU threads, {in_range(THREADS)} (default 1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--test-images", type=bounded_int(1, 2000), default=1000,
                        help="held-out images scored, 1 to 2000 (default 1000: the rows measured before the demo's "
                             "default became the whole split)")
    parser.add_argument("--no-header", action="store_true", help="print the rows only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = args.rows.split(",")
    unknown = [row for row in rows if row not in ROWS]
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    if not args.no_header:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), device {args.device}")
        print("| recipe change | α/β/γ | px | train images | epochs | batch | seeds | top-1 per seed | mean | std "
              "| BN re-estimated | img/s | wall s | CPU s | load |")
        print("|" + " --- |" * 15)
    for row in rows:
        print(run_row(row, seeds, args.device, args.test_images), flush=True)


if __name__ == "__main__":
    main()
