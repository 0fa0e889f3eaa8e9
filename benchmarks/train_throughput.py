"""Training throughput of scalesearch's trainer against a reference loop written the common way.

Both train torchvision's efficientnet_b0(num_classes=10) on fashion-mnist-mini with the same
batch size, resolution and number of images, interleaved (ref, ours, ref, ours, ...) after a
warm-up round of each, on the same machine. The reference keeps float images in a
TensorDataset behind a DataLoader, transforms each batch on the CPU with
torchvision.transforms.v2 (resize, padded random crop, flip, normalise), trains NCHW in fp32
with SGD and copies each batch to the device. Ours is `train_proxy`: uint8 data moved to the
device once, batches prepared there, channels_last, bf16 autocast on CUDA.

    python benchmarks/train_throughput.py --images 2560 --rounds 3
    python benchmarks/train_throughput.py --device cuda --images 51200 --rounds 5 --compile
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

from scalesearch.data import ImageDataset, load_dataset
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.device import resolve_device

LABEL_SMOOTHING = 0.1


def b0(device: torch.device) -> nn.Module:
    """efficientnet_b0 for 10 classes, initialised from seed 0."""
    torch.manual_seed(0)
    return torchvision.models.efficientnet_b0(num_classes=10).to(device)


class Reference:
    """The common loop: DataLoader over float images, CPU batch transforms, NCHW fp32, SGD."""

    def __init__(self, data: ImageDataset, resolution: int, batch_size: int, device: torch.device) -> None:
        images = data.train_images.float() / 255
        self.loader = DataLoader(TensorDataset(images, data.train_labels), batch_size, shuffle=True, drop_last=True)
        self.transform = v2.Compose([
            v2.Resize(resolution, antialias=True),
            v2.RandomCrop(resolution, padding=resolution // 8),
            v2.RandomHorizontalFlip(),
            v2.Normalize(data.mean, data.std),
        ])
        self.device = device
        self.model = b0(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    def train(self, images: int) -> float:
        """Train on `images` images; returns images per second."""
        self.model.train()
        seen = 0
        started = time.perf_counter()
        while seen < images:
            for batch, labels in self.loader:
                batch, labels = self.transform(batch).to(self.device), labels.to(self.device)
                loss = F.cross_entropy(self.model(batch), labels, label_smoothing=LABEL_SMOOTHING)
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
    parser.add_argument("--images", type=int, default=2560, help="training images a round (default 2560)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each, after a warm-up (default 3)")
    parser.add_argument("--batch-size", type=int, default=256, help="(default 256)")
    parser.add_argument("--resolution", type=int, default=32, help="training resolution in px (default 32)")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--no-amp", dest="amp", action="store_false", default=None,
                        help="ours without bf16 autocast (default: autocast on CUDA only)")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                        help="ours in NCHW instead of channels_last")
    args = parser.parse_args()

    device = resolve_device(args.device)
    data = load_dataset("fashion-mnist-mini")
    config = TrainConfig(
        batch_size=args.batch_size, device=str(device), compile=args.compile, amp=args.amp,
        channels_last=args.channels_last, progress=False,
    )
    contenders = {
        "ref": Reference(data, args.resolution, args.batch_size, device),
        "ours": Ours(data, args.resolution, config, device),
    }
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"efficientnet_b0, {args.resolution} px, batch {args.batch_size}, {args.images} images a round, "
          f"{args.rounds} rounds; {name}; torch {torch.__version__}; "
          f"ours: compile={args.compile} amp={args.amp} channels_last={args.channels_last}")
    for contender in contenders.values():
        contender.train(2 * args.batch_size)  # warm-up: allocator, kernels, compilation
    rates: dict[str, list[float]] = {key: [] for key in contenders}
    for round_index in range(args.rounds):
        for key, contender in contenders.items():
            rates[key].append(contender.train(args.images))
        print(f"round {round_index + 1}: ref {rates['ref'][-1]:.0f} img/s, ours {rates['ours'][-1]:.0f} img/s, "
              f"ratio {rates['ours'][-1] / rates['ref'][-1]:.2f}, load {os.getloadavg()[0]:.1f}", flush=True)
    ratios = [ours / ref for ref, ours in zip(rates["ref"], rates["ours"])]
    print(f"median: ref {statistics.median(rates['ref']):.0f} img/s, ours {statistics.median(rates['ours']):.0f} img/s, "
          f"ours/ref {statistics.median(ratios):.2f}x (median of the rounds' ratios)")


if __name__ == "__main__":
    main()
