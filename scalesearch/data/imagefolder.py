"""imagefolder:PATH — class sub-folders of images, decoded and resized once, then cached.

Every image is converted to RGB and resized to image_size x image_size (bilinear, the aspect
ratio is not kept). Held-out split: PATH/train with PATH/val (or PATH/test) if both exist,
else a seeded stratified 20% of PATH. Files that do not decode are skipped with a warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from scalesearch.data.cache import cache_path, read_cache, write_cache
from scalesearch.data.dataset import ImageDataset, check_classes, make_dataset
from scalesearch.data.paths import require_directory
from scalesearch.data.split import held_out_split
from scalesearch.errors import UserError

IMAGEFOLDER_PREFIX = "imagefolder:"
_HELD_OUT_FRACTION = 0.2
_SPLIT_SEED = 0
_CACHE_FORMAT = 1  # bump when the cached entry's layout or decoding changes
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)

LabelledFiles = list[tuple[Path, int]]


def load_imagefolder(path: str | Path, image_size: int) -> ImageDataset:
    """The images under `path` as a dataset named imagefolder:<absolute path>; cached after the first load."""
    root = require_directory(path, "imagefolder")
    train_folder, held_out_folder = _split_folders(root)
    classes = [folder.name for folder in _class_folders(train_folder)]
    check_classes(f"imagefolder {train_folder}", len(classes))  # before anything is decoded or cached
    train_files = _labelled_files(train_folder, classes)
    test_files = _labelled_files(held_out_folder, classes) if held_out_folder else []
    fingerprint = [_file_fingerprint(root, file) for file, _ in train_files + test_files]
    entry_path = cache_path("imagefolder", (_CACHE_FORMAT, str(root), image_size, fingerprint))
    entry = read_cache(entry_path)
    if entry is None:
        entry = _decode_folder(root, classes, train_files, test_files, image_size)
        write_cache(entry_path, entry)
    if entry["skipped"]:
        warnings.warn(
            f"imagefolder {root}: skipped {len(entry['skipped'])} non-image or corrupt file(s), "
            f"e.g. {entry['skipped'][0]}",
            stacklevel=2,
        )
    return make_dataset(
        f"{IMAGEFOLDER_PREFIX}{root}",
        entry["train_images"],
        entry["train_labels"],
        entry["test_images"],
        entry["test_labels"],
        entry["classes"],
        True,
    )


def _file_fingerprint(root: Path, path: Path) -> tuple[str, int, int]:
    status = path.stat()
    return str(path.relative_to(root)), status.st_size, status.st_mtime_ns


def _split_folders(root: Path) -> tuple[Path, Path | None]:
    held_out = next((root / name for name in ("val", "test") if (root / name).is_dir()), None)
    if (root / "train").is_dir() and held_out is not None:
        return root / "train", held_out
    return root, None


def _class_folders(folder: Path) -> list[Path]:
    folders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise UserError(f"imagefolder {folder} has no class sub-folders")
    return folders


def _labelled_files(folder: Path, classes: list[str]) -> LabelledFiles:
    files: LabelledFiles = []
    for class_folder in _class_folders(folder):
        if class_folder.name not in classes:
            raise UserError(f"class folder {class_folder} has no counterpart among the training classes")
        found = sorted(p for p in class_folder.rglob("*") if p.is_file())
        if not found:
            raise UserError(f"class folder {class_folder} is empty")
        files += [(p, classes.index(class_folder.name)) for p in found]
    return files


def _decode_folder(
    root: Path, classes: list[str], train_files: LabelledFiles, test_files: LabelledFiles, image_size: int
) -> dict:
    train_images, train_labels, skipped = _decode_files(train_files, image_size)
    test_images, test_labels, skipped_test = _decode_files(test_files, image_size)
    skipped += skipped_test
    if len(train_labels) + len(test_labels) == 0:
        raise UserError(f"no readable images in {root}: all {len(skipped)} files are non-image or corrupt")
    if not test_files:
        split = held_out_split(train_labels.numpy(), _HELD_OUT_FRACTION, _SPLIT_SEED)
        train_part, test_part = (torch.from_numpy(part) for part in split)
        test_images, test_labels = train_images[test_part], train_labels[test_part]
        train_images, train_labels = train_images[train_part], train_labels[train_part]
    unreadable = sorted(set(range(len(classes))) - set(train_labels.tolist()))
    if unreadable:
        raise UserError(f"class {classes[unreadable[0]]!r} in {root} has no readable training images")
    if len(test_labels) == 0:
        raise UserError(f"imagefolder {root} leaves no readable images for the held-out split")
    return {
        "classes": classes,
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "skipped": [str(path.relative_to(root)) for path in skipped],
    }


def _decode_files(files: LabelledFiles, image_size: int) -> tuple[torch.Tensor, torch.Tensor, list[Path]]:
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[Path] = []
    for path, label in tqdm(files, desc="decoding images", unit="img", disable=None, leave=False):
        pixels = _decode(path, image_size)
        if pixels is None:
            skipped.append(path)
        else:
            images.append(pixels)
            labels.append(label)
    stacked = np.stack(images) if images else np.zeros((0, image_size, image_size, 3), np.uint8)
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels, dtype=torch.int64), skipped


def _decode(path: Path, image_size: int) -> np.ndarray | None:
    """(H, W, 3) uint8 pixels of the image at `path`, or None if it is not a readable image."""
    try:
        with Image.open(path) as image:
            resized = image.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR)
    except _DECODE_ERRORS:
        return None
    return np.asarray(resized)
