"""Datasets as in-memory uint8 tensors with a fixed held-out split; `load_dataset` is the entry point."""

from scalesearch.data.dataset import ImageDataset
from scalesearch.data.registry import DATASET_NAMES, DEFAULT_DATASET, load_dataset

__all__ = ["DATASET_NAMES", "DEFAULT_DATASET", "ImageDataset", "load_dataset"]
