"""The `models`, `flops` and `scale` commands, run in-process, and their one-line errors."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from scalesearch.cli import main
from scalesearch.zoo import MODEL_NAMES, get_spec

# conv 3x3 (no bias) to 8*w channels, global pool, linear: MACs and params in closed form below
FACTORY_MODULE = """
from torch import nn

def tiny(depth_mult, width_mult, num_classes):
    channels = round(8 * width_mult)
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(channels, num_classes))

def not_a_model(depth_mult, width_mult, num_classes):
    return 42
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `scalesearch argv` (argparse errors exit via SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run_ok(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, ""), err
    return out


def run_csv(argv: list[str], capsys: pytest.CaptureFixture[str]) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(run_ok([*argv, "--csv"], capsys)))


@pytest.fixture()
def factory_module(importable_module) -> str:
    """A fresh importable module holding the factories of FACTORY_MODULE; its name is returned."""
    return importable_module("factory", FACTORY_MODULE)


def test_models_lists_the_whole_zoo(capsys: pytest.CaptureFixture[str]) -> None:
    table = run_csv(["models"], capsys)
    assert list(table["model"]) == list(MODEL_NAMES)
    assert table.set_index("model").loc["efficientnet-b0", "stride"] == 32
    text = run_ok(["models"], capsys)
    assert all(name in text for name in MODEL_NAMES)


def test_flops_json_gives_the_exact_macs(capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = json.loads(run_ok(["flops", "efficientnet-b0", "--json"], capsys))
    assert (row["model"], row["resolution"], row["MACs"], row["params"]) == \
        ("efficientnet-b0", 224, 385_825_092, 5_288_548)


def test_flops_csv_of_a_wider_resnet(capsys: pytest.CaptureFixture[str]) -> None:
    base = run_csv(["flops", "resnet-50", "--resolution", "32"], capsys)
    wide = run_csv(["flops", "resnet-50", "--w", "2", "--resolution", "32"], capsys)
    assert list(wide.columns) == ["model", "d", "w", "r", "resolution", "params", "MACs", "activations"]
    assert (wide.loc[0, "d"], wide.loc[0, "w"], wide.loc[0, "r"], wide.loc[0, "resolution"]) == (1, 2, 1, 32)
    assert base.loc[0, "params"] == 25_557_032
    assert 3.5 < wide.loc[0, "MACs"] / base.loc[0, "MACs"] < 4.1  # doubling every layer: about 4x


def test_flops_with_phi_uses_the_coefficients(capsys: pytest.CaptureFixture[str]) -> None:
    row = run_csv(["flops", "efficientnet-b0", "--phi", "1", "--resolution", "32"], capsys).loc[0]
    assert (row["d"], row["w"], row["r"], row["resolution"]) == pytest.approx((1.2, 1.1, 1.15, 37))


def test_scale_rows_follow_the_ideal_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    table = run_csv(["scale", "efficientnet-b0", "--phi", "0..2", "--resolution", "32"], capsys)
    assert list(table["phi"]) == [0, 1, 2]
    assert list(table["resolution"]) == [32, 37, 42]
    assert table["MACs"].is_monotonic_increasing and table["MACs"].is_unique
    assert list(table["ideal ratio"]) == pytest.approx([(1.2 * 1.1**2 * 1.15**2) ** phi for phi in (0, 1, 2)])
    assert table.loc[0, "MACs ratio"] == 1


def test_scale_a_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "my-net.json"
    path.write_text(get_spec("mobilenet-v2").to_json().replace('"mobilenet-v2"', '"my-net"'))
    argv = ["--phi", "0,1", "--resolution", "32"]
    from_file = run_csv(["scale", str(path), *argv], capsys)
    from_zoo = run_csv(["scale", "mobilenet-v2", *argv], capsys)
    pd.testing.assert_frame_equal(from_file, from_zoo)
    assert len(from_file) == 2


def test_flops_of_a_factory(factory_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    table = run_csv(["flops", f"{factory_module}:tiny", "--w", "2", "--resolution", "32"], capsys)
    channels, pixels = 16, 32 * 32
    assert table.loc[0, "model"] == f"{factory_module}:tiny"
    assert table.loc[0, "params"] == 3 * 9 * channels + channels * 1000 + 1000
    assert table.loc[0, "MACs"] == 3 * 9 * channels * pixels + channels * 1000 + 1000
    assert table.loc[0, "activations"] == channels * pixels


def _spec_file(tmp_path: Path, edit: str) -> str:
    data = get_spec("efficientnet-b0").to_dict()
    if edit == "missing key":
        del data["stages"][1]["channels"]
    elif edit == "wrong type":
        data["stages"][1]["channels"] = "24"
    elif edit == "zero channels":
        data["stem"]["channels"] = 0
    elif edit == "stride 3":
        data["stages"][2]["stride"] = 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("edit, message", [
    ("missing key", r"stages\[1\] is missing key\(s\): channels"),
    ("wrong type", r"stages\[1\]\.channels must be an integer, got '24'"),
    ("zero channels", r"stem\.channels must be >= 1, got 0"),
    ("stride 3", r"stages\[2\]\.stride must be 1 or 2, got 3"),
])
def test_a_malformed_spec_file_is_a_one_line_error(edit: str, message: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(["flops", _spec_file(tmp_path, edit)], message, capsys)


@pytest.mark.parametrize("argv, message", [
    (["flops", "efficientnet-b9"], r"scalesearch flops: error: unknown model 'efficientnet-b9'; known models: "),
    (["scale", "efficientnet-b0", "--alpha", "0.9"], r"argument --alpha: must be in \[1, 16\], got 0\.9"),
    (["flops", "efficientnet-b0", "--phi", "1", "--gamma", "0.5"], r"argument --gamma: must be in \[1, 16\]"),
    (["scale", "efficientnet-b0", "--alpha", "nan"], r"argument --alpha: expected a finite number, got 'nan'"),
    (["scale", "efficientnet-b0", "--phi", "100"], r"phi must be in \[-8, 12\], got 100\.0"),
    (["flops", "efficientnet-b0", "--phi", "100"], r"argument --phi: must be in \[-8, 12\], got 100"),
    (["scale", "efficientnet-b0", "--phi", "a..b"], r"phi must be a number, a list"),
    (["flops", "efficientnet-b0", "--resolution", "4"], r"argument --resolution: must be in \[8, 4096\], got 4"),
    (["flops", "efficientnet-b0", "--resolution", "7.5"], r"argument --resolution: expected a whole number, "
                                                          r"got '7\.5'"),
    (["flops", "efficientnet-b0", "--resolution", "8"], r"resolution 8 is smaller than 16, half of "
                                                        r"efficientnet-b0's total stride"),
    (["flops", "efficientnet-b0", "--phi", "1", "--w", "2"], r"give either --phi or --d/--w/--r, not both"),
    (["flops", "no-such-file.json"], r"cannot read spec no-such-file\.json"),
])
def test_bad_input_is_a_one_line_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(argv, message, capsys)


def test_a_factory_that_cannot_be_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken_factory.py").write_text("import a_package_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "broken_factory", raising=False)
    _assert_one_line_error(["flops", "broken_factory:tiny"],
                           r"cannot import factory module 'broken_factory': ModuleNotFoundError: "
                           r"No module named 'a_package_that_does_not_exist'", capsys)


@pytest.mark.parametrize("function, message", [
    ("not_a_model", r"factory \S+:not_a_model returned int, not a torch\.nn\.Module"),
    ("missing", r"module '\S+' has no callable 'missing'"),
])
def test_a_factory_that_does_not_give_a_module(function: str, message: str, factory_module: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(["flops", f"{factory_module}:{function}", "--resolution", "32"], message, capsys)


def _assert_one_line_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"scalesearch {argv[0]}: error: ")
    assert "Traceback" not in err
    assert re.search(message, err), err
