"""How much of the proxy's seed noise is the test split's size: the demo grid scored on 2,000 and 10,000 images.

The grid scores each network on the embedded test split, 2,000 Fashion-MNIST test images. Two
seeds of one network disagree on some of those images, and with few images that disagreement
is a large share of the accuracy's spread. This trains the demo grid's distinct networks (the
grid's recipe and 3,000 training images) with several seeds, keeps each trained network's
right/wrong on all 10,000 Fashion-MNIST test images (the embedded 2,000 are among them), and
reports the pooled seed noise σ and the spread between networks scored on the embedded 2,000,
on random 2,000-image subsets and on all 10,000.

Three steps, so that the training can run where the grid's planning libraries are not installed:

    python benchmarks/test_set_noise.py plan --data-root /usr/share/datasets/fashion-mnist --out nets.pt
    python benchmarks/test_set_noise.py train nets.pt --epochs 8 --seeds 0 1 2 3 --out runs-8.npz
    python benchmarks/test_set_noise.py report runs-8.npz
"""

from __future__ import annotations

import argparse
import itertools
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from scalesearch.cli.numbers import bounded_int
from scalesearch.data import ImageDataset
from scalesearch.data.dataset import make_dataset
from scalesearch.nn import build
from scalesearch.scaling import Multipliers, scale_spec
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.batches import DeviceBatches
from scalesearch.training.config import SEED
from scalesearch.training.evaluate import test_logits
from scalesearch.training.layout import choose_layout
from scalesearch.zoo import get_spec

DEMO_TRAIN_IMAGES = 3000
EMBEDDED_TEST_IMAGES = 2000
SUBSET_DRAWS = 200


def plan(args: argparse.Namespace) -> None:
    """Write the demo grid's distinct networks, its training split and all 10,000 test images to `args.out`."""
    from scalesearch.cli.grid_command import DEFAULT_ALPHA_RANGE, DEFAULT_BETA_RANGE, DEFAULT_GAMMA_RANGE
    from scalesearch.data.idx import FASHION_MNIST, load_idx_dataset
    from scalesearch.grid import GridSpace, grid_study
    from scalesearch.runner import prepare
    from scalesearch.study_config import DataConfig

    space = GridSpace(DEFAULT_ALPHA_RANGE, DEFAULT_BETA_RANGE, DEFAULT_GAMMA_RANGE)
    config = grid_study("efficientnet-b0", space=space, data=DataConfig(train_images=DEMO_TRAIN_IMAGES,
                                                           test_images=EMBEDDED_TEST_IMAGES))
    prepared = prepare(config)
    full = load_idx_dataset(FASHION_MNIST, args.data_root)
    rows = {image.numpy().tobytes(): index for index, image in enumerate(full.test_images)}
    embedded = [rows[image.numpy().tobytes()] for image in prepared.data.test_images]
    networks = [dict(name=p.name, proxy_resolution=p.proxy_resolution, **asdict(p.multipliers))
                for p in prepared.plans]
    torch.save(dict(networks=networks, train_images=prepared.data.train_images,
                    train_labels=prepared.data.train_labels, test_images=full.test_images,
                    test_labels=full.test_labels, embedded=torch.tensor(embedded), classes=full.classes), args.out)
    print(f"{len(networks)} distinct networks, {len(embedded)} embedded test images found among "
          f"{len(full.test_labels)}; written to {args.out}")


def train(args: argparse.Namespace) -> None:
    """Train every (network, seed) of this worker's share; save right/wrong per test image."""
    saved = torch.load(args.plan, weights_only=False)
    data = make_dataset("fashion-mnist-mini+test", saved["train_images"], saved["train_labels"],
                        saved["test_images"], saved["test_labels"], saved["classes"], False)
    jobs = list(itertools.product(range(len(saved["networks"])), args.seeds))[args.worker::args.workers]
    config = TrainConfig(epochs=args.epochs, device=args.device, progress=False, evaluate_every_epoch=False)
    correct = np.zeros((len(jobs), len(data.test_labels)), dtype=bool)
    for row, (index, seed) in enumerate(jobs):
        network = saved["networks"][index]
        multipliers = Multipliers(network["depth"], network["width"], network["resolution"])
        torch.manual_seed(seed)
        model = build(scale_spec(get_spec("efficientnet-b0"), multipliers).with_classes(data.num_classes))
        result = train_proxy(model, data, network["proxy_resolution"], replace(config, seed=seed))
        correct[row] = right_or_wrong(model, data, network["proxy_resolution"], config)
        print(f"{network['name']} seed {seed}: top-1 {result.top1:.4f} (per image {correct[row].mean():.4f}), "
              f"{result.wall_seconds:.1f} s", flush=True)
    np.savez_compressed(args.out, correct=correct, network=[j[0] for j in jobs], seed=[j[1] for j in jobs],
                        names=[n["name"] for n in saved["networks"]], embedded=saved["embedded"].numpy(),
                        labels=saved["test_labels"].numpy(), epochs=args.epochs)


def right_or_wrong(model: torch.nn.Module, data: ImageDataset, resolution: int, config: TrainConfig) -> np.ndarray:
    """Whether `model` (trained) gets each test image right, in the split's order, scored as the trainer scores."""
    device = torch.device(config.device)
    memory_format, amp, _ = choose_layout(device, resolution)
    batches = DeviceBatches(data, resolution, device, torch.Generator(device=device), False, memory_format)
    hits = [(logits.argmax(dim=1) == labels).cpu()
            for logits, labels in test_logits(model, batches, config.eval_batch_size, amp)]
    return torch.cat(hits).numpy()


def report(args: argparse.Namespace) -> None:
    """Pooled seed σ, the spread between networks and its F-test, scored on the embedded 2,000, random 2,000s
    and all 10,000."""
    from scalesearch.noise import pooled_seed_std, spread_test

    runs = [np.load(path) for path in args.runs]
    correct = np.concatenate([r["correct"] for r in runs])
    network = np.concatenate([r["network"] for r in runs])
    names, embedded = runs[0]["names"], runs[0]["embedded"]
    everything = np.arange(correct.shape[1])
    rng = np.random.default_rng(0)
    draws = [rng.choice(everything, EMBEDDED_TEST_IMAGES, replace=False) for _ in range(SUBSET_DRAWS)]

    def noise(images: np.ndarray) -> tuple[float, int, float, str]:
        accuracy = correct[:, images].mean(axis=1)
        groups = [accuracy[network == n] for n in np.unique(network)]
        estimate = pooled_seed_std(groups)
        means = [g.mean() for g in groups]
        spread = spread_test(means, [len(g) for g in groups], estimate)
        return estimate.sigma, estimate.dof, float(np.std(means, ddof=1)), spread.line() if spread else "-"

    print(f"{len(np.unique(network))} networks, {correct.shape[0]} trainings, {int(runs[0]['epochs'])} epochs")
    for n in np.unique(network):
        mine = correct[network == n]
        print(f"  {names[n]}: {len(mine)} seeds, all 10,000: " + " ".join(f"{a:.4f}" for a in mine.mean(axis=1))
              + "; embedded 2,000: " + " ".join(f"{a:.4f}" for a in mine[:, embedded].mean(axis=1)))
    print("| test images | seed σ | dof | spread between networks (std of means) |")
    print("|---|---|---|---|")
    sigma, dof, spread, embedded_test = noise(embedded)
    print(f"| the embedded 2,000 | {sigma:.4f} | {dof} | {spread:.4f} |")
    random = np.array([noise(d)[:3:2] for d in draws])
    print(f"| random 2,000 (root mean square of {SUBSET_DRAWS} draws) | {math.sqrt(np.mean(random[:, 0] ** 2)):.4f} "
          f"| {dof} | {math.sqrt(np.mean(random[:, 1] ** 2)):.4f} |")
    sigma, dof, spread, everything_test = noise(everything)
    print(f"| all 10,000 | {sigma:.4f} | {dof} | {spread:.4f} |")
    print(f"the embedded 2,000: {embedded_test}\nall 10,000: {everything_test}")
    disagreement = np.mean([np.mean(a != b) for n in np.unique(network)
                            for a, b in itertools.combinations(correct[network == n], 2)])
    print(f"two seeds of one network disagree on {disagreement:.3f} of the test images; were those disagreements "
          f"independent coin flips, σ would be about sqrt({disagreement:.3f}/2/n): "
          f"{math.sqrt(disagreement / 2 / 2000):.4f} on 2,000 images, {math.sqrt(disagreement / 2 / 10000):.4f} "
          f"on 10,000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    planning = steps.add_parser("plan", help="the demo grid's networks and the data, to one file")
    planning.add_argument("--data-root", required=True, help="folder with Fashion-MNIST's idx files")
    planning.add_argument("--out", type=Path, required=True)
    planning.set_defaults(func=plan)
    training = steps.add_parser("train", help="train a share of (network, seed) and keep right/wrong per image")
    training.add_argument("plan", type=Path)
    training.add_argument("--epochs", type=bounded_int(1, 64), default=8, help="in [1, 64] (default 8)")
    training.add_argument("--seeds", type=bounded_int(*SEED), nargs="+", default=[0, 1, 2, 3])
    training.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    training.add_argument("--workers", type=bounded_int(1, 64), default=1, help="shares in all, in [1, 64]")
    training.add_argument("--worker", type=bounded_int(0, 63), default=0, help="this share, from 0")
    training.add_argument("--out", type=Path, required=True)
    training.set_defaults(func=train)
    reporting = steps.add_parser("report", help="σ and spread by test split size, from one or more train outputs")
    reporting.add_argument("runs", type=Path, nargs="+")
    reporting.set_defaults(func=report)
    args = parser.parse_args()
    if args.step == "train" and args.worker >= args.workers:
        parser.error(f"--worker must be below --workers ({args.workers}), got {args.worker}")
    args.func(args)


if __name__ == "__main__":
    main()
