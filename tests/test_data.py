"""scalesearch.data: every source, the split and subset rules, the errors, and the CLI options."""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scalesearch.cli.data_options import add_data_arguments, dataset_from_args
from scalesearch.data import DATASET_NAMES, DEFAULT_DATASET, ImageDataset, load_dataset
from scalesearch.data import imagefolder
from scalesearch.data.dataset import make_dataset
from scalesearch.data.idx import FASHION_MNIST_CLASSES, read_idx
from scalesearch.data.split import held_out_split, stratified_indices
from scalesearch.errors import UserError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
CLASS_COLOURS = {"cat": (200, 30, 30), "dog": (30, 200, 30), "owl": (30, 30, 200)}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SCALESEARCH_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def embedded() -> ImageDataset:
    return load_dataset(DEFAULT_DATASET)


def _pixel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = images.to(torch.float64) / 255
    return pixels.mean(dim=(0, 2, 3)), pixels.std(dim=(0, 2, 3), unbiased=False)


def _assert_well_formed(dataset: ImageDataset, size: int) -> None:
    for images, labels in ((dataset.train_images, dataset.train_labels), (dataset.test_images, dataset.test_labels)):
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64
        assert images.shape == (len(labels), 3, size, size)
        assert images.is_contiguous()
    assert dataset.image_size == size
    mean, std = _pixel_stats(dataset.train_images)
    assert dataset.mean == pytest.approx(mean.tolist(), abs=1e-9)
    assert dataset.std == pytest.approx(std.tolist(), abs=1e-9)


def _raises(match: str):
    """pytest.raises for a UserError whose one-line message contains `match`."""
    return pytest.raises(UserError, match=match)


# --- the embedded default ---------------------------------------------------------------


def test_embedded_is_balanced_fashion_mnist(embedded: ImageDataset) -> None:
    assert embedded.name == DEFAULT_DATASET == "fashion-mnist-mini"
    _assert_well_formed(embedded, 28)
    assert len(embedded.train_labels) == 10_000 and len(embedded.test_labels) == 2_000
    assert torch.bincount(embedded.train_labels).tolist() == [1000] * 10
    assert torch.bincount(embedded.test_labels).tolist() == [200] * 10
    assert embedded.classes == FASHION_MNIST_CLASSES and embedded.num_classes == 10
    assert embedded.allow_hflip
    assert torch.equal(embedded.train_images[:, 0], embedded.train_images[:, 2])  # grayscale repeated


def test_embedded_stats_come_from_the_train_split(embedded: ImageDataset) -> None:
    test_mean, _ = _pixel_stats(embedded.test_images)
    assert embedded.mean[0] == pytest.approx(0.28694509, abs=1e-8)
    assert embedded.std[0] == pytest.approx(0.35305243, abs=1e-8)
    assert abs(embedded.mean[0] - test_mean[0].item()) > 1e-4


def test_embedded_loads_fast() -> None:
    timings = []
    for _ in range(3):  # the best of three, so a busy machine does not fail it
        start = time.perf_counter()
        load_dataset("fashion-mnist-mini")
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.5


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_files_contains_the_embedded_subset(embedded: ImageDataset) -> None:
    full = load_dataset("fashion-mnist")
    assert full.train_images.shape == (60_000, 3, 28, 28) and full.test_images.shape == (10_000, 3, 28, 28)
    assert full.mean[0] == pytest.approx(0.2860406, abs=1e-7)  # the well-known Fashion-MNIST train stats
    assert full.std[0] == pytest.approx(0.3530242, abs=1e-7)
    assert torch.bincount(full.train_labels).tolist() == [6000] * 10
    assert torch.bincount(full.test_labels).tolist() == [1000] * 10
    official = set(zip(map(bytes, full.test_images[:, 0].numpy()), full.test_labels.tolist()))
    chosen = set(zip(map(bytes, embedded.test_images[:, 0].numpy()), embedded.test_labels.tolist()))
    assert len(chosen) == 2000 and chosen <= official


# --- IDX files -----------------------------------------------------------------------------


def _write_idx(path: Path, array: np.ndarray, type_code: int = 0x08) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def _write_mnist_layout(root: Path, train: int = 20, test: int = 10, gzipped: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (train, 6, 6), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 6, 6), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(test) % 10).astype(np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        _write_idx(root / (f"{name}.gz" if gzipped else name), array)
    return arrays


@pytest.mark.parametrize("name, gzipped", [("mnist", True), ("fashion-mnist", False)])
def test_idx_datasets_round_trip(tmp_path: Path, name: str, gzipped: bool) -> None:
    arrays = _write_mnist_layout(tmp_path, gzipped=gzipped)
    dataset = load_dataset(name, data_root=tmp_path)
    _assert_well_formed(dataset, 6)
    for channel in range(3):
        assert np.array_equal(dataset.train_images[:, channel].numpy(), arrays["train-images-idx3-ubyte"])
        assert np.array_equal(dataset.test_images[:, channel].numpy(), arrays["t10k-images-idx3-ubyte"])
    assert dataset.train_labels.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert dataset.num_classes == 10
    assert dataset.allow_hflip == (name == "fashion-mnist")
    assert dataset.classes[0] == ("0" if name == "mnist" else "T-shirt/top")


def test_read_idx_decodes_big_endian_types(tmp_path: Path) -> None:
    values = np.array([[1, -2, 70000], [0, 2**31 - 1, -(2**31)]], dtype=np.int32)
    _write_idx(tmp_path / "ints.idx", values, type_code=0x0C)
    decoded = read_idx(tmp_path / "ints.idx")
    assert decoded.dtype == np.int32 and decoded.dtype.isnative
    assert decoded.tolist() == values.tolist()


def test_idx_errors_name_the_problem(tmp_path: Path) -> None:
    with _raises(r"mnist data root .*nowhere does not exist"):
        load_dataset("mnist", data_root=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with _raises(r"data root .*empty is empty"):
        load_dataset("mnist", data_root=tmp_path / "empty")
    _write_mnist_layout(tmp_path / "partial")
    (tmp_path / "partial" / "t10k-labels-idx1-ubyte.gz").unlink()
    with _raises(r"missing IDX files in .*partial: t10k-labels-idx1-ubyte\[\.gz\]$"):
        load_dataset("fashion-mnist", data_root=tmp_path / "partial")
    _write_mnist_layout(tmp_path / "bad", gzipped=False)
    (tmp_path / "bad" / "t10k-images-idx3-ubyte").write_bytes(b"\x12\x34\x08\x03")
    with _raises("t10k-images-idx3-ubyte is not an IDX file"):
        load_dataset("mnist", data_root=tmp_path / "bad")
    (tmp_path / "bad" / "t10k-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 10, 6, 6))
    with _raises(r"t10k-images-idx3-ubyte has 16 bytes, its IDX header implies 376"):
        load_dataset("mnist", data_root=tmp_path / "bad")


# --- imagefolder ---------------------------------------------------------------------------


def _write_class_folders(root: Path, per_class: int, mode: str = "RGB") -> None:
    for name, colour in CLASS_COLOURS.items():
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            image = Image.new("RGB", (10 + index, 14), colour)  # sizes differ, colour is the class
            image.convert(mode).save(folder / f"{index:02d}.png")


def _load_quietly(name: str, **options) -> ImageDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(name, **options)


def test_imagefolder_skips_bad_files_splits_and_caches(
    tmp_path: Path, _private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pets"
    _write_class_folders(root, per_class=10)
    (root / "cat" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "dog" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped 2 non-image or corrupt file"):
        first = load_dataset(f"imagefolder:{root}", image_size=8)
    assert first.name == f"imagefolder:{root}"
    assert first.classes == ("cat", "dog", "owl") and first.allow_hflip
    _assert_well_formed(first, 8)
    assert torch.bincount(first.train_labels).tolist() == [8, 8, 8]
    assert torch.bincount(first.test_labels).tolist() == [2, 2, 2]
    for label, colour in enumerate(CLASS_COLOURS.values()):
        assert first.train_images[first.train_labels == label].unique(dim=0).tolist() == [
            [[[value] * 8] * 8 for value in colour]
        ]
    assert len(list((_private_cache / "imagefolder").glob("*.pt"))) == 1

    def no_decoding(path: Path, image_size: int) -> None:
        raise AssertionError(f"decoded {path} despite the cache")

    monkeypatch.setattr(imagefolder, "_decode", no_decoding)
    with pytest.warns(UserWarning, match="skipped 2 "):
        second = load_dataset(f"imagefolder:{root}", image_size=8)
    assert torch.equal(second.train_images, first.train_images)
    assert torch.equal(second.test_labels, first.test_labels)
    with pytest.raises(AssertionError, match="despite the cache"):
        _load_quietly(f"imagefolder:{root}", image_size=9)  # another size is another cache entry


def test_imagefolder_cache_notices_changed_files(tmp_path: Path) -> None:
    root = tmp_path / "pets"
    _write_class_folders(root, per_class=5)
    before = load_dataset(f"imagefolder:{root}", image_size=4)
    Image.new("RGB", (4, 4), (255, 255, 255)).save(root / "owl" / "00.png")
    os.utime(root / "owl" / "00.png", ns=(1, 1))
    after = load_dataset(f"imagefolder:{root}", image_size=4)
    assert max(before.train_images.max(), before.test_images.max()) == 200
    assert max(after.train_images.max(), after.test_images.max()) == 255


def test_imagefolder_train_val_layout_converts_to_rgb(tmp_path: Path) -> None:
    _write_class_folders(tmp_path / "train", per_class=4, mode="L")
    _write_class_folders(tmp_path / "val", per_class=3, mode="RGBA")
    dataset = load_dataset(f"imagefolder:{tmp_path}", image_size=5)
    _assert_well_formed(dataset, 5)
    assert torch.bincount(dataset.train_labels).tolist() == [4, 4, 4]
    assert torch.bincount(dataset.test_labels).tolist() == [3, 3, 3]
    grey = dataset.train_images[0]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    assert dataset.test_images[0, :, 0, 0].tolist() == list(CLASS_COLOURS["cat"])


def test_imagefolder_errors_name_the_problem(tmp_path: Path) -> None:
    with _raises("imagefolder:PATH needs a folder path"):
        load_dataset("imagefolder:")
    with _raises(r"imagefolder .*missing does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'missing'}")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    with _raises("has no class sub-folders"):
        load_dataset(f"imagefolder:{tmp_path / 'flat'}")
    _write_class_folders(tmp_path / "holes", per_class=3)
    (tmp_path / "holes" / "yak").mkdir()
    with _raises(r"class folder .*holes/yak is empty"):
        load_dataset(f"imagefolder:{tmp_path / 'holes'}")
    for index, name in enumerate(("a", "b")):
        (tmp_path / "junk" / name).mkdir(parents=True)
        (tmp_path / "junk" / name / f"{index}.jpg").write_bytes(b"garbage")
    with _raises(r"no readable images in .*junk: all 2 files are non-image or corrupt"):
        load_dataset(f"imagefolder:{tmp_path / 'junk'}")
    (tmp_path / "holes" / "yak" / "bad.png").write_bytes(b"garbage")
    with _raises(r"class 'yak' in .*holes has no readable training images"):
        load_dataset(f"imagefolder:{tmp_path / 'holes'}")
    with _raises("image size must be a positive number"):
        load_dataset(f"imagefolder:{tmp_path / 'holes'}", image_size=0)


# --- synthetic -------------------------------------------------------------------------------


def test_synthetic_is_deterministic_balanced_and_learnable() -> None:
    dataset = load_dataset("synthetic")
    _assert_well_formed(dataset, 32)
    assert torch.bincount(dataset.train_labels).tolist() == [100] * 10
    assert torch.bincount(dataset.test_labels).tolist() == [20] * 10
    assert not dataset.allow_hflip
    assert torch.equal(load_dataset("synthetic").train_images, dataset.train_images)
    train = dataset.train_images.flatten(1).float()
    centroids = torch.stack([train[dataset.train_labels == label].mean(0) for label in range(10)])
    predicted = torch.cdist(dataset.test_images.flatten(1).float(), centroids).argmin(1)
    accuracy = (predicted == dataset.test_labels).float().mean().item()
    assert 0.5 < accuracy < 1.0  # far above chance (0.1), yet not trivial


# --- subsets and splits ----------------------------------------------------------------------


def test_subset_is_stratified_deterministic_and_restates_stats(embedded: ImageDataset) -> None:
    small = embedded.subset(train=1000, test=200)
    assert torch.bincount(small.train_labels).tolist() == [100] * 10
    assert torch.bincount(small.test_labels).tolist() == [20] * 10
    _assert_well_formed(small, 28)
    assert small.mean != embedded.mean
    again = embedded.subset(train=1000, test=200)
    assert torch.equal(again.train_images, small.train_images)
    other = embedded.subset(train=1000, test=200, seed=1)
    assert not torch.equal(other.train_images, small.train_images)
    only_train = embedded.subset(train=50)
    assert len(only_train.train_labels) == 50 and only_train.test_images is embedded.test_images


def test_stratified_indices_keep_class_shares() -> None:
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    chosen = stratified_indices(labels, 11, seed=3)
    assert np.bincount(labels[chosen]).tolist() == [6, 3, 2]  # 5.5, 3.3, 2.2: the .5 gets the spare slot
    assert np.array_equal(chosen, stratified_indices(labels, 11, seed=3))
    train, test = held_out_split(labels, 0.2, seed=0)
    assert np.bincount(labels[test]).tolist() == [10, 6, 4]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))


def test_subset_errors_name_the_problem(embedded: ImageDataset) -> None:
    with _raises("subset of 10001 fashion-mnist-mini training images is larger than the 10000 available"):
        embedded.subset(train=10_001)
    with _raises("subset of 2001 fashion-mnist-mini test images is larger than the 2000 available"):
        embedded.subset(test=2001)
    with _raises("a subset needs at least 1 fashion-mnist-mini test image, got 0"):
        embedded.subset(test=0)


# --- names, options, CIFAR -------------------------------------------------------------------


def test_unknown_name_lists_the_valid_ones() -> None:
    with _raises(r"unknown dataset 'imagenet'; valid: fashion-mnist-mini, .*imagefolder:PATH$") as caught:
        load_dataset("imagenet")
    assert all(name in str(caught.value) for name in DATASET_NAMES)
    assert "\n" not in str(caught.value)


def test_options_a_dataset_would_ignore_are_errors(tmp_path: Path) -> None:
    with _raises("synthetic takes no data root"):
        load_dataset("synthetic", data_root=tmp_path)
    with _raises("mnist cannot be downloaded"):
        load_dataset("mnist", data_root=tmp_path, download=True)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_without_files_asks_for_download(tmp_path: Path, name: str) -> None:
    with _raises(rf"{name} files not found under .*; pass --download to fetch them"):
        load_dataset(name, data_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    return parser


def test_data_options_defaults_and_subset() -> None:
    defaults = _parser().parse_args([])
    assert (defaults.data, defaults.data_root, defaults.download, defaults.image_size) == (
        "fashion-mnist-mini", None, False, 64,
    )  # fmt: skip
    assert all(name in _parser().format_help() for name in DATASET_NAMES)
    args = _parser().parse_args(["--data", "synthetic", "--train-images", "100", "--test-images", "30"])
    dataset = dataset_from_args(args)
    assert torch.bincount(dataset.train_labels).tolist() == [10] * 10
    assert torch.bincount(dataset.test_labels).tolist() == [3] * 10


@pytest.mark.parametrize("flag, value, message", [
    ("--image-size", "0", "must be in [8, 1024], got 0"),
    ("--image-size", "100000", "must be in [8, 1024], got 100000"),
    ("--train-images", "-3", "must be in [1, 100000000], got -3"),
    ("--train-images", "1e9", "expected a whole number, got '1e9'"),
    ("--test-images", "x", "expected a whole number, got 'x'"),
])
def test_data_options_reject_out_of_range_numbers(flag: str, value: str, message: str,
                                                  capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args([flag, value])
    assert f"argument {flag}: {message}" in capsys.readouterr().err


# --- fewer than two classes ------------------------------------------------------------------


def test_a_one_class_imagefolder_is_refused_before_decoding(tmp_path: Path, _private_cache: Path) -> None:
    _write_class_folders(tmp_path / "all", per_class=3)
    only = tmp_path / "one"
    only.mkdir()
    (tmp_path / "all" / "cat").rename(only / "cat")
    with _raises(r"^imagefolder .*one has 1 class; a classifier needs at least 2$"):
        load_dataset(f"imagefolder:{only}")
    assert not _private_cache.exists()  # nothing decoded, nothing cached


def test_a_dataset_or_subset_of_one_class_is_refused(embedded: ImageDataset) -> None:
    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    with _raises(r"^one has 1 class; a classifier needs at least 2$"):
        make_dataset("one", images, [0] * 4, images, [0] * 4, ["a"], True)
    with _raises(r"^the 4 training image\(s\) of two cover 1 class; a classifier needs at least 2$"):
        make_dataset("two", images, [1] * 4, images, [0, 1, 0, 1], ["a", "b"], True)
    with _raises(r"^the 1 training image\(s\) of fashion-mnist-mini cover 1 class"):
        embedded.subset(train=1)
    assert embedded.subset(train=2).num_classes == 10
