"""Build scalesearch/data/fashion-mnist-mini.npz from the Fashion-MNIST IDX files.

Takes 1,000 images a class from the official train split and 200 a class from t10k,
chosen with a fixed seed, so rerunning it reproduces the same file.

    python scripts/build_fashion_mnist_mini.py [--source DIR] [--output FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import scalesearch.data
from scalesearch.data.embedded import EMBEDDED_FILE, save_embedded
from scalesearch.data.idx import FASHION_MNIST, read_idx_split
from scalesearch.data.split import stratified_indices

SEED = 0
TRAIN_PER_CLASS = 1000
TEST_PER_CLASS = 200


def build(source: Path, output: Path) -> None:
    """Select the stratified subsets from `source` and write them to `output`."""
    num_classes = len(FASHION_MNIST.classes)
    splits = []
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        images, labels = read_idx_split(source, split, num_classes)
        chosen = stratified_indices(labels, per_class * num_classes, SEED)
        counts = np.bincount(labels[chosen], minlength=num_classes)
        if not (counts == per_class).all():
            raise SystemExit(f"{split}: expected {per_class} images a class, got {counts.tolist()}")
        splits += [images[chosen], labels[chosen]]
    save_embedded(output, *splits)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(FASHION_MNIST.default_root), help="folder of IDX files")
    parser.add_argument(
        "--output", type=Path, default=Path(scalesearch.data.__file__).parent / EMBEDDED_FILE, help="the .npz to write"
    )
    args = parser.parse_args()
    build(args.source, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
