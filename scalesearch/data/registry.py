"""Dataset names and the one entry point that loads any of them."""

from __future__ import annotations

import os

from scalesearch.data.cifar import CIFAR_NAMES, load_cifar
from scalesearch.data.dataset import ImageDataset
from scalesearch.data.embedded import EMBEDDED_NAME, load_embedded
from scalesearch.data.idx import FASHION_MNIST, MNIST, load_idx_dataset
from scalesearch.data.imagefolder import IMAGEFOLDER_PREFIX, load_imagefolder
from scalesearch.data.synthetic import SYNTHETIC_NAME, load_synthetic
from scalesearch.errors import UserError

DEFAULT_DATASET = EMBEDDED_NAME
DATASET_NAMES: tuple[str, ...] = (
    EMBEDDED_NAME,
    FASHION_MNIST.name,
    MNIST.name,
    *CIFAR_NAMES,
    SYNTHETIC_NAME,
    f"{IMAGEFOLDER_PREFIX}PATH",
)
MAX_IMAGE_SIZE = 1024  # imagefolder's resize target, in px a side
_IDX_SOURCES = {source.name: source for source in (FASHION_MNIST, MNIST)}


def load_dataset(
    name: str, data_root: str | os.PathLike | None = None, download: bool = False, image_size: int = 64
) -> ImageDataset:
    """Load dataset `name` (one of DATASET_NAMES) into memory.

    `data_root` is where fashion-mnist, mnist and cifar files live; `download` lets cifar fetch
    missing files; `image_size` is the side imagefolder images are resized to (others keep theirs).
    """
    if name.startswith(IMAGEFOLDER_PREFIX):
        path = name[len(IMAGEFOLDER_PREFIX) :]
        if not path:
            raise UserError(f"{IMAGEFOLDER_PREFIX}PATH needs a folder path after the colon")
        if not 1 <= image_size <= MAX_IMAGE_SIZE:
            raise UserError(f"image size must be a positive number of pixels <= {MAX_IMAGE_SIZE}, got {image_size}")
        _reject_options(name, data_root=data_root, download=download)
        return load_imagefolder(path, image_size)
    if name in CIFAR_NAMES:
        return load_cifar(name, data_root, download)
    if name in _IDX_SOURCES:
        _reject_options(name, download=download)
        return load_idx_dataset(_IDX_SOURCES[name], data_root)
    loaders = {EMBEDDED_NAME: load_embedded, SYNTHETIC_NAME: load_synthetic}
    if name not in loaders:
        raise UserError(f"unknown dataset {name!r}; valid: {', '.join(DATASET_NAMES)}")
    _reject_options(name, data_root=data_root, download=download)
    return loaders[name]()


def _reject_options(name: str, data_root: str | os.PathLike | None = None, download: bool = False) -> None:
    """UserError for options that `name` would silently ignore."""
    if data_root is not None:
        raise UserError(f"{name} takes no data root (only fashion-mnist, mnist, cifar10 and cifar100 do)")
    if download:
        raise UserError(f"{name} cannot be downloaded (only cifar10 and cifar100 can)")
