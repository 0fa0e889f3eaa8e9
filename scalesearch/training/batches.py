"""Device-resident data: uint8 images moved once, served as resized, augmented, normalised batches."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from scalesearch.data import ImageDataset


class DeviceBatches:
    """Both splits of `data` on `device`; every batch is prepared there.

    Preparation: float, bilinear resize to `resolution` (antialiased when shrinking),
    then for training batches a random crop from a zero-padded image and, when the data
    allows it, a horizontal flip, then per-channel normalisation and `memory_format`.
    Shuffling (`balanced_order` when `balanced`, else a plain random permutation) and
    augmentation draw from `generator`, which lives on `device`.
    """

    def __init__(
        self,
        data: ImageDataset,
        resolution: int,
        device: torch.device,
        generator: torch.Generator,
        augment: bool = True,
        memory_format: torch.memory_format = torch.channels_last,
        balanced: bool = False,
    ) -> None:
        self.train_images = data.train_images.to(device)
        self.train_labels = data.train_labels.to(device)
        self.test_images = data.test_images.to(device)
        self.test_labels = data.test_labels.to(device)
        self.resolution = resolution
        self.generator = generator
        self.augment = augment
        self.balanced = balanced
        self.flip = data.allow_hflip
        self.memory_format = memory_format
        std = torch.tensor(data.std, device=device).clamp_min(1e-6).view(1, 3, 1, 1)
        mean = torch.tensor(data.mean, device=device).view(1, 3, 1, 1)
        self._scale = 1.0 / (255.0 * std)
        self._shift = -mean / std

    def train_batches(self, steps: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """`steps` full batches from one fresh shuffle of the training split."""
        if self.balanced:
            order = balanced_order(self.train_labels, self.generator)
        else:
            order = torch.randperm(len(self.train_labels), device=self.train_labels.device, generator=self.generator)
        for start in range(0, steps * batch_size, batch_size):
            index = order[start : start + batch_size]
            yield self._prepare(self.train_images[index], self.augment), self.train_labels[index]

    def calibration_batches(
        self, steps: int, batch_size: int, generator: torch.Generator
    ) -> Iterator[torch.Tensor]:
        """`steps` un-augmented batches of training images, drawn with `generator` (not the training one)."""
        count = len(self.train_labels)
        order = torch.randperm(count, device=self.train_labels.device, generator=generator)
        for start in range(0, min(steps * batch_size, count), batch_size):
            yield self._prepare(self.train_images[order[start : start + batch_size]], False)

    def test_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The held-out split in order, without augmentation."""
        for start in range(0, len(self.test_labels), batch_size):
            stop = start + batch_size
            yield self._prepare(self.test_images[start:stop], False), self.test_labels[start:stop]

    def _prepare(self, images: torch.Tensor, augment: bool) -> torch.Tensor:
        pixels = images.float()
        size = pixels.shape[-1]
        if size != self.resolution:
            pixels = F.interpolate(
                pixels, size=(self.resolution, self.resolution), mode="bilinear",
                align_corners=False, antialias=self.resolution < size,
            )
        if augment:
            pixels = self._shift_and_flip(pixels)
        pixels = pixels * self._scale + self._shift
        return pixels.contiguous(memory_format=self.memory_format)

    def _shift_and_flip(self, pixels: torch.Tensor) -> torch.Tensor:
        """Random crop of the zero-padded (black-bordered) images, mirrored at random when allowed.

        Both are one gather: each output pixel reads a source row and column of the padded image.
        """
        count, channels, height, width = pixels.shape
        pad = max(1, height // 8)
        device = pixels.device
        padded = F.pad(pixels, (pad, pad, pad, pad))
        offsets = torch.randint(0, 2 * pad + 1, (2, count, 1, 1), device=device, generator=self.generator)
        cols = torch.arange(width, device=device).view(1, 1, width)
        if self.flip:
            mirror = torch.rand(count, 1, 1, device=device, generator=self.generator) < 0.5
            cols = torch.where(mirror, width - 1 - cols, cols)
        rows = offsets[0] + torch.arange(height, device=device).view(1, height, 1)
        source = (rows * (width + 2 * pad) + offsets[1] + cols).view(count, 1, height * width)
        gathered = padded.flatten(2).gather(2, source.expand(count, channels, height * width))
        return gathered.view(count, channels, height, width)


def balanced_order(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random order of the indices of `labels` that spreads every class evenly over it.

    Each class is shuffled, and its k-th of n members goes to the relative position (k + u) / n,
    u uniform in [0, 1) drawn once per class; sorting the positions interleaves the classes, so
    every batch holds each class in proportion (±1 image) instead of a multinomial draw's
    ±√(batch · share). Ties are broken at random. Draws from `generator` (on the labels' device).
    """
    device = labels.device
    tie_break = torch.rand(len(labels), device=device, generator=generator)
    position = torch.empty(len(labels), device=device)
    for label in labels.unique():
        members = (labels == label).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), device=device, generator=generator)]
        offset = torch.rand((), device=device, generator=generator)
        position[members] = (torch.arange(len(members), device=device) + offset) / len(members)
    return torch.argsort(position + 1e-7 * tie_break)
