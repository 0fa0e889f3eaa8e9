"""MNIST-style datasets from IDX files (optionally gzipped), parsed with numpy."""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalesearch.data.dataset import ImageDataset, make_dataset
from scalesearch.data.paths import require_directory
from scalesearch.errors import UserError

# IDX type codes: https://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT")
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


@dataclass(frozen=True)
class IdxSource:
    """A dataset shipped as the four MNIST-layout IDX files."""

    name: str
    default_root: str
    classes: tuple[str, ...]
    allow_hflip: bool


FASHION_MNIST = IdxSource("fashion-mnist", "/usr/share/datasets/fashion-mnist", FASHION_MNIST_CLASSES, True)
MNIST = IdxSource("mnist", "/usr/share/datasets/mnist", tuple("0123456789"), False)


def load_idx_dataset(source: IdxSource, data_root: str | os.PathLike | None) -> ImageDataset:
    """The official train and t10k splits of `source` from `data_root` (default: its Debian folder)."""
    root = require_directory(data_root or source.default_root, f"{source.name} data root")
    missing = [f"{name}[.gz]" for name in _file_names() if _find(root, name) is None]
    if missing:
        raise UserError(f"missing IDX files in {root}: {', '.join(missing)}")
    train_images, train_labels = read_idx_split(root, "train", len(source.classes))
    test_images, test_labels = read_idx_split(root, "test", len(source.classes))
    return make_dataset(
        source.name, train_images, train_labels, test_images, test_labels, source.classes, source.allow_hflip
    )


def read_idx_split(root: Path, split: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, H, W), labels uint8 (N,)) of the 'train' or 't10k' ('test') files in `root`."""
    prefix = _SPLIT_PREFIX[split]
    images_path = _find(root, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(root, f"{prefix}-labels-idx1-ubyte")
    if images_path is None or labels_path is None:
        raise UserError(f"missing {split} IDX files in {root}")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise UserError(f"{images_path} does not hold uint8 images (N, H, W), got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise UserError(f"{labels_path} does not hold {len(images)} uint8 labels, got {labels.dtype} {labels.shape}")
    if labels.max(initial=0) >= num_classes:
        raise UserError(f"{labels_path} has label {labels.max()}, expected fewer than {num_classes} classes")
    return images, labels


def read_idx(path: Path) -> np.ndarray:
    """The array stored in one IDX file, gzipped if its name ends in .gz, in native byte order."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            data = stream.read()
    except (OSError, EOFError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_TYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(shape) != ndim or len(data) != expected:
        raise UserError(f"{path} has {len(data)} bytes, its IDX header implies {expected}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _file_names() -> list[str]:
    kinds = ("images-idx3-ubyte", "labels-idx1-ubyte")
    return [f"{prefix}-{kind}" for prefix in _SPLIT_PREFIX.values() for kind in kinds]


def _find(root: Path, name: str) -> Path | None:
    return next((path for path in (root / name, root / f"{name}.gz") if path.is_file()), None)
