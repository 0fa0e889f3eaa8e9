"""Does averaging lift the short run's floor? The final weights against an EMA of them, and against flip at test time.

Each (network, seed) trains once with the trainer's defaults (the demo's recipe and budget:
3,000 images × 3 epochs at batch 64, 32·γ px), built and seeded as the grid builds it, so the
final weights score what `scalesearch grid --phi 1 --seeds 3` records (`--plain-shuffle`: as the
recipe trained before balanced batches, how recipe_choice.md's table was measured). Meanwhile a
global optimizer-step hook keeps exponential moving averages of the weights and BN statistics
(`torch.optim.swa_utils.AveragedModel`, one per decay); training itself is untouched. After
the last epoch it scores, on the 2,000 test images: the final weights, each EMA, and the final
weights on each image and its mirror image (softmax averaged).

    python benchmarks/weight_averaging.py --networks p,d,a,e,c,b --seeds 2 --plain-shuffle
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from scalesearch.baselines import SpecBaseline
from scalesearch.cli.latency_command import THREADS
from scalesearch.cli.numbers import bounded_int, in_range
from scalesearch.data import ImageDataset, load_dataset
from scalesearch.scaling import compound
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.batches import DeviceBatches
from scalesearch.training.evaluate import evaluate
from scalesearch.training.config import SEED
from scalesearch.zoo import get_spec

sys.path.insert(0, str(Path(__file__).parent))
from recipe_choice import EVERY_DEMO_NETWORK as DEMO  # noqa: E402  (the demo's six networks; p: the paper's point)


def flip_top1(model: nn.Module, batches: DeviceBatches) -> float:
    """Top-1 of the softmax averaged over each test image and its horizontal mirror."""
    model.eval()
    hits = 0
    with torch.inference_mode():
        for images, labels in batches.test_batches(256):
            probabilities = model(images).softmax(1) + model(images.flip(3)).softmax(1)
            hits += (probabilities.argmax(1) == labels).sum().item()
    return hits / len(batches.test_labels)


def run(network: str, seed: int, decays: list[float], data: ImageDataset, balanced: bool) -> list[float]:
    """[final, EMA per decay..., flip] top-1 of one training."""
    baseline = SpecBaseline(get_spec("efficientnet-b0"))
    multipliers = compound(*DEMO[network], 1.0)
    resolution = baseline.resolution_for(multipliers, 32)
    torch.manual_seed(seed)
    model = baseline.build(multipliers, data.num_classes)
    averages: list[AveragedModel] = []

    def update(_optimizer: torch.optim.Optimizer, _args: tuple, _kwargs: dict) -> None:
        if not averages:  # the first step: the trainer has set up the model (layout, zero-init)
            averages.extend(AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
                            for decay in decays)
        for average in averages:
            average.update_parameters(model)

    handle = register_optimizer_step_post_hook(update)
    try:
        config = TrainConfig(seed=seed, progress=False, balanced_batches=balanced, evaluate_every_epoch=False)
        result = train_proxy(model, data, resolution, config)
    finally:
        handle.remove()
    batches = DeviceBatches(data, resolution, torch.device("cpu"), torch.Generator().manual_seed(seed), False)
    emas = [evaluate(average.module, batches, 256, False, False)[0] for average in averages]
    return [result.top1, *emas, flip_top1(model, batches)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="p,d,a,e,c,b", help=f"comma-separated, from {', '.join(DEMO)}")
    parser.add_argument("--seeds", default="2", help="comma-separated seeds (default 2)")
    parser.add_argument("--decays", default="0.8,0.9,0.95,0.98", help="EMA decays per step")
    parser.add_argument("--plain-shuffle", action="store_true", help="train without balanced batches")
    parser.add_argument("--threads", type=bounded_int(*THREADS), default=1,
                        help=f"torch CPU threads, {in_range(THREADS)} (default 1, as a demo worker)")
    args = parser.parse_args()
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
        decays = [float(decay) for decay in args.decays.split(",")]
    except ValueError as error:
        parser.error(f"--seeds takes integers and --decays numbers, comma-separated: {error}")
    if not all(SEED[0] <= seed <= SEED[1] for seed in seeds):
        parser.error(f"every seed must be in [{SEED[0]}, {SEED[1]}]")
    torch.set_num_threads(args.threads)
    networks = args.networks.split(",")
    unknown = [name for name in networks if name not in DEMO]
    if unknown:
        parser.error(f"unknown networks: {', '.join(unknown)}")
    if not all(0.0 < decay < 1.0 for decay in decays):
        parser.error("every decay must be in (0, 1)")
    data = load_dataset("fashion-mnist-mini").subset(train=3000, test=2000)
    columns = ["final", *(f"EMA {decay:g}" for decay in decays), "flip at test"]
    print("| network | seed | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    scores = []
    for network in networks:
        for seed in seeds:
            scores.append(run(network, seed, decays, data, not args.plain_shuffle))
            print(f"| {network} | {seed} | " + " | ".join(f"{score:.4f}" for score in scores[-1]) + " |", flush=True)
    means = [statistics.mean(column) for column in zip(*scores)]
    lowest = [min(column) for column in zip(*scores)]
    print("| mean | | " + " | ".join(f"{mean:.4f}" for mean in means) + " |")
    print("| lowest | | " + " | ".join(f"{low:.4f}" for low in lowest) + " |")


if __name__ == "__main__":
    main()
