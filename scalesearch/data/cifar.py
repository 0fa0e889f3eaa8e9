"""cifar10 and cifar100 through torchvision.datasets; downloads only when asked."""

from __future__ import annotations

import os
from pathlib import Path

from scalesearch.data.dataset import ImageDataset, make_dataset
from scalesearch.data.paths import cache_root
from scalesearch.errors import UserError

CIFAR_NAMES = ("cifar10", "cifar100")


def load_cifar(name: str, data_root: str | os.PathLike | None, download: bool) -> ImageDataset:
    """CIFAR-10 or CIFAR-100 ('cifar10' / 'cifar100') from `data_root` (default: the scalesearch cache)."""
    from torchvision import datasets  # heavy import, only needed here

    loader = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    root = Path(data_root).expanduser().absolute() if data_root else cache_root() / "cifar"
    try:
        train, test = (loader(str(root), train=is_train, download=download) for is_train in (True, False))
    except (RuntimeError, OSError) as exc:
        if download:
            raise UserError(f"{name}: download into {root} failed: {exc}") from None
        raise UserError(f"{name} files not found under {root}; pass --download to fetch them") from None
    return make_dataset(
        name,
        train.data.transpose(0, 3, 1, 2),
        train.targets,
        test.data.transpose(0, 3, 1, 2),
        test.targets,
        train.classes,
        True,
    )
