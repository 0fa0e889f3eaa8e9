"""ImageDataset: in-memory uint8 images with a fixed held-out split, and how to build one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from scalesearch.data.split import stratified_indices
from scalesearch.errors import UserError

Triple = tuple[float, float, float]
MIN_CLASSES = 2  # a classifier of one class learns nothing, yet scores 100%
_STATS_CHUNK = 4096  # images a step when computing channel statistics


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Train and held-out test images (uint8, (N, 3, H, W), square) with int64 labels.

    `mean` and `std` are per-channel statistics of `train_images / 255`.
    """

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    mean: Triple
    std: Triple
    allow_hflip: bool

    @property
    def num_classes(self) -> int:
        """How many classes the labels range over."""
        return len(self.classes)

    @property
    def image_size(self) -> int:
        """Side of the square images, in pixels."""
        return int(self.train_images.shape[-1])

    def subset(self, train: int | None = None, test: int | None = None, seed: int = 0) -> ImageDataset:
        """A stratified, deterministic subset; None keeps a split whole. Stats come from the new train split."""
        train_images, train_labels = _take(self.train_images, self.train_labels, train, seed, f"{self.name} training")
        test_images, test_labels = _take(self.test_images, self.test_labels, test, seed, f"{self.name} test")
        return make_dataset(
            self.name, train_images, train_labels, test_images, test_labels, self.classes, self.allow_hflip
        )


def make_dataset(
    name: str,
    train_images: np.ndarray | torch.Tensor,
    train_labels: np.ndarray | torch.Tensor,
    test_images: np.ndarray | torch.Tensor,
    test_labels: np.ndarray | torch.Tensor,
    classes: Sequence[str],
    allow_hflip: bool,
) -> ImageDataset:
    """An ImageDataset from uint8 images shaped (N, H, W) or (N, C, H, W); grayscale is repeated to RGB.

    UserError for fewer than MIN_CLASSES classes, or a training split whose labels cover fewer.
    """
    check_classes(name, len(classes))
    present = len(torch.unique(torch.as_tensor(train_labels)))
    if present < MIN_CLASSES:
        raise UserError(f"the {len(train_labels)} training image(s) of {name} cover {present} class{'' if present == 1 else 'es'}; "
                        f"a classifier needs at least {MIN_CLASSES}")
    train_rgb = _as_rgb(train_images)
    mean, std = channel_stats(train_rgb)
    return ImageDataset(
        name=name,
        train_images=train_rgb,
        train_labels=torch.as_tensor(train_labels).to(torch.int64),
        test_images=_as_rgb(test_images),
        test_labels=torch.as_tensor(test_labels).to(torch.int64),
        classes=tuple(classes),
        mean=mean,
        std=std,
        allow_hflip=allow_hflip,
    )


def check_classes(name: str, count: int) -> None:
    """UserError if a dataset of `count` classes cannot train a classifier."""
    if count < MIN_CLASSES:
        raise UserError(f"{name} has {count} class{'' if count == 1 else 'es'}; a classifier needs at least "
                        f"{MIN_CLASSES}")


def channel_stats(images: torch.Tensor) -> tuple[Triple, Triple]:
    """Per-channel (mean, std) of uint8 images (N, 3, H, W) scaled to [0, 1], exact via value histograms."""
    histogram = torch.zeros(3, 256, dtype=torch.int64)
    for chunk in images.split(_STATS_CHUNK):
        for channel in range(3):
            histogram[channel] += torch.bincount(chunk[:, channel].flatten(), minlength=256)
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    count = histogram.sum(dim=1).to(torch.float64)
    mean = (histogram * levels).sum(dim=1) / count
    variance = (histogram * (levels - mean[:, None]).square()).sum(dim=1) / count
    return _triple(mean), _triple(variance.sqrt())


def _triple(values: torch.Tensor) -> Triple:
    first, second, third = values.tolist()
    return first, second, third


def _as_rgb(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise TypeError(f"images must be uint8, got {tensor.dtype}")
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(1)
    if tensor.shape[1] == 1:
        tensor = tensor.expand(-1, 3, -1, -1)
    return tensor.contiguous()


def _take(
    images: torch.Tensor, labels: torch.Tensor, count: int | None, seed: int, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    if count is None:
        return images, labels
    if count < 1:
        raise UserError(f"a subset needs at least 1 {what} image, got {count}")
    if count > len(labels):
        raise UserError(f"subset of {count} {what} images is larger than the {len(labels)} available")
    index = torch.from_numpy(stratified_indices(labels.numpy(), count, seed))
    return images[index], labels[index]
