"""The data options shared by `train` and `grid`: which dataset, where it lives, how much of it."""

from __future__ import annotations

import argparse

from scalesearch.cli.numbers import IMAGE_SIZE, SUBSET_IMAGES, bounded_int, in_range
from scalesearch.data import DATASET_NAMES, DEFAULT_DATASET, ImageDataset
from scalesearch.study_config import DataConfig


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --data, --data-root, --download, --image-size, --train-images and --test-images."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data", metavar="NAME", default=DEFAULT_DATASET, help=f"{', '.join(DATASET_NAMES)} (default: %(default)s)"
    )
    group.add_argument(
        "--data-root",
        metavar="PATH",
        help="folder of the dataset's files: IDX files for fashion-mnist and mnist (default: "
        "/usr/share/datasets/NAME), torchvision's layout for cifar10 and cifar100 (default: the scalesearch cache)",
    )
    group.add_argument("--download", action="store_true", help="let cifar10/cifar100 download missing files")
    group.add_argument(
        "--image-size",
        metavar="N",
        type=bounded_int(*IMAGE_SIZE),
        default=64,
        help=f"imagefolder only: resize images to N x N once at load, N {in_range(IMAGE_SIZE)} (default: %(default)s)",
    )
    for split in ("train", "test"):
        group.add_argument(
            f"--{split}-images", metavar="N", type=bounded_int(*SUBSET_IMAGES),
            help=f"use a stratified subset of N {split} images, N {in_range(SUBSET_IMAGES)}"
        )


def data_config(args: argparse.Namespace) -> DataConfig:
    """The DataConfig the parsed data options describe."""
    return DataConfig(name=args.data, root=args.data_root, download=args.download, image_size=args.image_size,
                      train_images=args.train_images, test_images=args.test_images)


def dataset_from_args(args: argparse.Namespace) -> ImageDataset:
    """The dataset the parsed data options name, cut to the requested subset if any."""
    return data_config(args).load()

