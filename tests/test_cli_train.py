"""`scalesearch train`: one proxy training from the command line, and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from scalesearch.cli import main, train_command
from scalesearch.spec import Head, NetworkSpec, Stage, Stem

TINY = NetworkSpec("tiny", Stem(8, 3, 2, "silu"),
                   (Stage("mbconv", 8, 1, 3, 1, 2, 0.25), Stage("mbconv", 16, 1, 3, 2, 2, 0.25)),
                   Head(32, "silu", 0.1), resolution=32)


pytestmark = pytest.mark.usefixtures("one_thread")


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
    (["--proxy-resolution", "1"], "half of tiny's total stride"),
    (["--phi", "1", "--d", "2"], "either --phi or --d/--w/--r"),
])
def test_bad_input_is_one_line_and_exit_2(tiny_spec, capsys, extra, complaint) -> None:
    assert main(_train(tiny_spec, "--epochs", "1", *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and complaint in err[0] and err[0].startswith("scalesearch train: error:")


def test_the_same_seed_gives_the_same_weights_and_accuracy(tiny_spec, capsys, monkeypatch) -> None:
    initial: list[dict[str, torch.Tensor]] = []
    real = train_command.train_proxy

    def recording(model, *args, **kwargs):
        initial.append({k: v.clone() for k, v in model.state_dict().items()})
        return real(model, *args, **kwargs)

    monkeypatch.setattr(train_command, "train_proxy", recording)
    rows = []
    for seed in ("3", "3", "4"):
        torch.manual_seed(12345 + len(rows))  # whatever ran before must not matter
        assert main(_train(tiny_spec, "--images", "200", "--seed", seed, "--json")) == 0
        rows.append(json.loads(capsys.readouterr().out)[0])
    first, again, other = initial
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    assert rows[0]["top1"] == rows[1]["top1"] and rows[0]["top5"] == rows[1]["top5"]
    assert [row["seed"] for row in rows] == [3, 3, 4]


def test_fewer_than_ten_classes_prints_no_top5(tiny_spec, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SCALESEARCH_CACHE", str(tmp_path / "cache"))
    for label, colour in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200))):
        folder = tmp_path / "images" / f"class{label}"
        folder.mkdir(parents=True)
        for index in range(10):
            Image.new("RGB", (16, 16), colour).save(folder / f"{index}.png")
    argv = ["train", tiny_spec, "--data", f"imagefolder:{tmp_path / 'images'}", "--image-size", "16",
            "--batch-size", "8", "--images", "16", "--proxy-resolution", "16", "--quiet"]
    assert main([*argv, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["top5"] is None and 0 <= row["top1"] <= 1
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert "top5" in table[0] and "NA" in table[1]
