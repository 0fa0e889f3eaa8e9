"""Training throughput of scalesearch's trainer against a reference loop written the common way.

Both train torchvision's efficientnet_b0(num_classes=10) on fashion-mnist-mini with the same
batch size, resolution, number of images and recipe, interleaved (ref, ours, ref, ours, ...)
after a warm-up round of each, on the same machine. The reference keeps float images in a
TensorDataset behind a DataLoader, transforms each batch on the CPU with
torchvision.transforms.v2 (resize, normalise; with --augment also a padded random crop and
a flip), trains NCHW in fp32 with SGD and copies each batch to the device. Ours is
`train_proxy`: uint8 data moved to the device once, batches prepared there, memory format
and precision from `choose_layout` (scalesearch/training/layout.py) unless forced.

The recipe by default is the "short" preset's: no augmentation, label smoothing, dropout or
stochastic depth, in both loops. --augment gives both the regularised recipe (crop + flip,
label smoothing 0.1, the model's dropout and stochastic depth), the comparison the README
quoted before the short recipe changed. The ratio is the median of the rounds' ratios;
interleaving keeps it meaningful on a machine that other work is loading, the absolute
figures are not.

    python benchmarks/train_throughput.py --batch-size 64 --resolution 32 --rounds 5
    python benchmarks/train_throughput.py --device cuda --images 51200 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.transforms import v2

from scalesearch.cli.latency_command import THREADS
from scalesearch.cli.numbers import RESOLUTION, bounded_int
from scalesearch.data import ImageDataset, load_dataset
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.config import BATCH_SIZE, IMAGES
from scalesearch.training.device import resolve_device
from scalesearch.training.layout import choose_layout

LABEL_SMOOTHING = 0.1


def b0(device: torch.device) -> nn.Module:
    """efficientnet_b0 for 10 classes, initialised from seed 0."""
    torch.manual_seed(0)
    return torchvision.models.efficientnet_b0(num_classes=10).to(device)


def without_dropout(model: nn.Module) -> nn.Module:
    """`model` with every dropout and stochastic-depth rate set to 0 (as the short recipe runs it)."""
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = 0.0
        elif isinstance(module, torchvision.ops.StochasticDepth):
            module.p = 0.0
    return model


class Reference:
    """The common loop: DataLoader over float images, CPU batch transforms, NCHW fp32, SGD."""

    def __init__(
        self, data: ImageDataset, resolution: int, batch_size: int, device: torch.device, augment: bool
    ) -> None:
        images = data.train_images.float() / 255
        self.loader = DataLoader(TensorDataset(images, data.train_labels), batch_size, shuffle=True, drop_last=True)
        crop_and_flip = [v2.RandomCrop(resolution, padding=resolution // 8), v2.RandomHorizontalFlip()]
        self.transform = v2.Compose([
            v2.Resize(resolution, antialias=True),
            *(crop_and_flip if augment else []),
            v2.Normalize(data.mean, data.std),
        ])
        self.label_smoothing = LABEL_SMOOTHING if augment else 0.0
        self.device = device
        self.model = b0(device) if augment else without_dropout(b0(device))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    def train(self, images: int) -> float:
        """Train on `images` images; returns images per second."""
        self.model.train()
        seen = 0
        started = time.perf_counter()
        while seen < images:
            for batch, labels in self.loader:
                batch, labels = self.transform(batch).to(self.device), labels.to(self.device)
                loss = F.cross_entropy(self.model(batch), labels, label_smoothing=self.label_smoothing)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                seen += len(labels)
                if seen >= images:
                    break
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return seen / (time.perf_counter() - started)


class Ours:
    """scalesearch's `train_proxy`, continuing to train one model round after round."""

    def __init__(self, data: ImageDataset, resolution: int, config: TrainConfig, device: torch.device) -> None:
        self.data = data.subset(test=config.batch_size)  # keep the end-of-run evaluation short
        self.resolution = resolution
        self.config = config
        self.model = b0(device)

    def train(self, images: int) -> float:
        """Train on `images` images; returns the trainer's images per second (evaluation excluded)."""
        result = train_proxy(self.model, self.data, self.resolution, replace(self.config, images=images))
        if result.status != "ok":
            raise RuntimeError(f"our run ended {result.status}: {result.message}")
        return result.images_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--images", type=bounded_int(*IMAGES), default=2560,
                        help="training images a round, at least one batch (default 2560)")
    parser.add_argument("--rounds", type=bounded_int(1, 100), default=3,
                        help="timed rounds of each, after a warm-up, 1 to 100 (default 3)")
    parser.add_argument("--batch-size", type=bounded_int(*BATCH_SIZE), default=256, help="(default 256)")
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION), default=32,
                        help="training resolution in px (default 32)")
    parser.add_argument("--threads", type=bounded_int(*THREADS),
                        help="torch CPU threads, 1 to 1024 (default: torch's own choice; the demo uses all cores)")
    parser.add_argument("--augment", action="store_true",
                        help="both loops with the regularised recipe (crop+flip, label smoothing, dropout)")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--fast-convolutions", action=argparse.BooleanOptionalAction, default=True,
                        help="ours with the faster exact CPU convolution paths (default on, as the trainer)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="force bf16 autocast on or off for ours (default: choose_layout's choice)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="force channels_last on or off for ours (default: choose_layout's choice)")
    args = parser.parse_args()
    if args.images < args.batch_size:
        parser.error(f"--images ({args.images}) must hold at least one batch (--batch-size {args.batch_size})")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = load_dataset("fashion-mnist-mini")
    config = TrainConfig(
        batch_size=args.batch_size, device=str(device), compile=args.compile, amp=args.amp,
        channels_last=args.channels_last, progress=False, fast_cpu_convolutions=args.fast_convolutions,
        augment=args.augment, label_smoothing=LABEL_SMOOTHING if args.augment else 0.0, model_dropout=args.augment,
    )
    layout = choose_layout(device, args.resolution, args.channels_last, args.amp)
    contenders = {
        "ref": Reference(data, args.resolution, args.batch_size, device, args.augment),
        "ours": Ours(data, args.resolution, config, device),
    }
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"efficientnet_b0, {args.resolution} px, batch {args.batch_size}, {args.images} images a round, "
          f"{args.rounds} rounds, recipe {'regularised' if args.augment else 'short (no augmentation)'}; "
          f"{name}; torch {torch.__version__}; ours: compile={args.compile} "
          f"fast_convolutions={args.fast_convolutions} {layout.describe()}")
    for contender in contenders.values():
        contender.train(2 * args.batch_size)  # warm-up: allocator, kernels, compilation
    rates: dict[str, list[float]] = {key: [] for key in contenders}
    for round_index in range(args.rounds):
        for key, contender in contenders.items():
            rates[key].append(contender.train(args.images))
        print(f"round {round_index + 1}: ref {rates['ref'][-1]:.0f} img/s, ours {rates['ours'][-1]:.0f} img/s, "
              f"ratio {rates['ours'][-1] / rates['ref'][-1]:.2f}, load {os.getloadavg()[0]:.1f}", flush=True)
    ratios = [ours / ref for ref, ours in zip(rates["ref"], rates["ours"])]
    print(f"median: ref {statistics.median(rates['ref']):.0f} img/s "
          f"({min(rates['ref']):.0f}-{max(rates['ref']):.0f}), ours {statistics.median(rates['ours']):.0f} img/s "
          f"({min(rates['ours']):.0f}-{max(rates['ours']):.0f}), ours/ref {statistics.median(ratios):.2f}x "
          f"({min(ratios):.2f}-{max(ratios):.2f}; median and range of the rounds' ratios)")


if __name__ == "__main__":
    main()
