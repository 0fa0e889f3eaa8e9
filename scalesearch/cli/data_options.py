"""The data options shared by `train` and `grid`: which dataset, where it lives, how much of it."""

from __future__ import annotations

import argparse

from scalesearch.data import DATASET_NAMES, DEFAULT_DATASET, ImageDataset, load_dataset


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
        type=_positive_int,
        default=64,
        help="imagefolder only: resize images to N x N once at load (default: %(default)s)",
    )
    for split in ("train", "test"):
        group.add_argument(
            f"--{split}-images", metavar="N", type=_positive_int, help=f"use a stratified subset of N {split} images"
        )


def dataset_from_args(args: argparse.Namespace) -> ImageDataset:
    """The dataset the parsed data options name, cut to the requested subset if any."""
    dataset = load_dataset(args.data, args.data_root, args.download, args.image_size)
    if args.train_images is None and args.test_images is None:
        return dataset
    return dataset.subset(train=args.train_images, test=args.test_images)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value
