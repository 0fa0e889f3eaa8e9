"""fashion-mnist-mini: a stratified Fashion-MNIST subset shipped inside the package (see LICENSE-fashion-mnist)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from scalesearch.data.dataset import ImageDataset, make_dataset
from scalesearch.data.idx import FASHION_MNIST_CLASSES

EMBEDDED_NAME = "fashion-mnist-mini"
EMBEDDED_FILE = f"{EMBEDDED_NAME}.npz"
_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def load_embedded() -> ImageDataset:
    """The packaged set: 10,000 train (1,000 a class) and 2,000 test (200 a class) 28x28 images."""
    with resources.files(__package__).joinpath(EMBEDDED_FILE).open("rb") as stream, np.load(stream) as arrays:
        train_images, train_labels, test_images, test_labels = (arrays[key] for key in _KEYS)
    return make_dataset(
        EMBEDDED_NAME, train_images, train_labels, test_images, test_labels, FASHION_MNIST_CLASSES, True
    )


def save_embedded(
    path: Path, train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray
) -> None:
    """Write the arrays (uint8 (N, 28, 28) images, uint8 labels) in the layout `load_embedded` reads."""
    np.savez_compressed(path, **dict(zip(_KEYS, (train_images, train_labels, test_images, test_labels))))
