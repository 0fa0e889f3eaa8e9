"""`scalesearch train`: one proxy training from the command line, and its bad input."""

from __future__ import annotations

import json

import pytest
import torch

from scalesearch.cli import main
from scalesearch.spec import Head, NetworkSpec, Stage, Stem

TINY = NetworkSpec("tiny", Stem(8, 3, 2, "silu"),
                   (Stage("mbconv", 8, 1, 3, 1, 2, 0.25), Stage("mbconv", 16, 1, 3, 2, 2, 0.25)),
                   Head(32, "silu", 0.1), resolution=32)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_spec(tmp_path):
    path = tmp_path / "tiny.json"
    TINY.save(path)
    return str(path)


def _train(spec: str, *extra: str) -> list[str]:
    return ["train", spec, "--data", "synthetic", "--train-images", "1000", "--test-images", "100",
            "--batch-size", "50", "--proxy-resolution", "16", "--quiet", *extra]


def test_train_prints_metrics_and_learns(tiny_spec, capsys) -> None:
    assert main(_train(tiny_spec, "--epochs", "3", "--json")) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["status"] == "ok"
    assert row["resolution"] == 16 and row["train images"] == 1000
    assert row["top1"] > 0.2  # 10 classes: chance is 0.1
    assert row["top5"] is not None and row["top5"] >= row["top1"]
    assert row["images/s"] > 0 and row["wall s"] > 0


def test_scaling_arguments_change_the_training_resolution(tiny_spec, capsys) -> None:
    assert main(_train(tiny_spec, "--epochs", "1", "--r", "1.5", "--csv")) == 0
    assert ",24," in capsys.readouterr().out.splitlines()[1]  # 16 px scaled by r = 1.5


@pytest.mark.parametrize("extra, complaint", [
    (["--data", "nosuchdata"], "unknown dataset"),
    (["--batch-size", "5000"], "batch size"),
    (["--proxy-resolution", "2"], "total stride"),
    (["--phi", "1", "--d", "2"], "either --phi or --d/--w/--r"),
])
def test_bad_input_is_one_line_and_exit_2(tiny_spec, capsys, extra, complaint) -> None:
    assert main(_train(tiny_spec, "--epochs", "1", *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and complaint in err[0] and err[0].startswith("scalesearch train: error:")
