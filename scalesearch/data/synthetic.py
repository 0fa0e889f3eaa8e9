"""synthetic: a small, deterministic, learnable set for smoke tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scalesearch.data.dataset import ImageDataset, make_dataset

SYNTHETIC_NAME = "synthetic"
_CLASSES = 10
_SIZE = 32
_TRAIN, _TEST = 1000, 200
_MAX_SHIFT = 8  # pixels, each direction
_BRIGHTNESS = 0.1  # std of the per-image brightness offset, in [0, 1] units
_NOISE = 0.35  # std of the per-pixel noise, in [0, 1] units
_SEED = 0


def load_synthetic() -> ImageDataset:
    """10 classes of 32x32 images, 100 train and 20 test a class.

    Each class has a smooth random colour pattern; a sample is its pattern rolled by up to
    8 pixels each way, plus a random brightness offset and pixel noise. Always the same images.
    """
    generator = torch.Generator().manual_seed(_SEED)
    coarse = torch.rand(_CLASSES, 3, 4, 4, generator=generator)
    patterns = F.interpolate(coarse, size=(_SIZE, _SIZE), mode="bilinear", align_corners=False)
    train_images, train_labels = _sample(patterns, _TRAIN, generator)
    test_images, test_labels = _sample(patterns, _TEST, generator)
    classes = tuple(f"pattern-{index}" for index in range(_CLASSES))
    return make_dataset(SYNTHETIC_NAME, train_images, train_labels, test_images, test_labels, classes, False)


def _sample(patterns: torch.Tensor, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = (torch.arange(count) % len(patterns))[torch.randperm(count, generator=generator)]
    shifts = torch.randint(-_MAX_SHIFT, _MAX_SHIFT + 1, (count, 2), generator=generator).tolist()
    images = torch.stack([patterns[label].roll(shift, dims=(1, 2)) for label, shift in zip(labels.tolist(), shifts)])
    images = images + _BRIGHTNESS * torch.randn(count, 1, 1, 1, generator=generator)
    images = images + _NOISE * torch.randn(images.shape, generator=generator)
    return (images.clamp(0, 1) * 255).round().to(torch.uint8), labels
