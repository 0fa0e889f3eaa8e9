"""`scalesearch latency` and the blocks it compares with torchvision (run in-process, tiny inputs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.overrides import TorchFunctionMode
from torchvision.ops import SqueezeExcitation

from scalesearch.latency import latency_table, resolve_model, speedup_lines, time_rounds
from scalesearch.nn import ConvBNAct, ResidualBlock, build
from scalesearch.torchvision_compat import TORCHVISION_EQUIVALENTS
from scalesearch.zoo import get_spec
from test_cli_models import run

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = ["--resolution", "32", "--runs", "2", "--warmup", "1"]


def test_table_has_the_columns_and_the_first_model_is_the_reference(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "latency.csv"
    code, out, _ = run(["latency", "mnasnet-b1", "mobilenet-v2", *FAST, "--csv", str(csv)], capsys)
    assert code == 0
    table = pd.read_csv(csv)
    assert list(table.columns) == ["model", "resolution", "params", "mean_ms", "median_ms", "iqr_ms", "ratio"]
    assert list(table["model"]) == ["mnasnet-b1", "mobilenet-v2"]
    assert list(table["resolution"]) == [32, 32]
    assert table["params"].tolist() == [4_383_312, 3_504_872]
    assert table["ratio"].iloc[1] == pytest.approx(table["mean_ms"].iloc[1] / table["mean_ms"].iloc[0])
    assert (table[["mean_ms", "median_ms"]] > 0).all().all()
    last = out.strip().splitlines()[-1]
    assert last.endswith("× faster than mnasnet-b1") or last.startswith("mnasnet-b1 is ")
    assert "mobilenet-v2" in last


def test_speedup_lines_name_the_faster_model_first() -> None:
    table = pd.DataFrame({"model": ["a", "b", "c"], "mean_ms": [30.0, 6.0, 60.0]})
    table["ratio"] = table["mean_ms"] / 30.0
    assert speedup_lines(table) == ["b is 5.0× faster than a", "a is 2.0× faster than c"]


def test_models_take_turns_round_by_round_and_threads_are_restored() -> None:
    models = [resolve_model("mnasnet-b1", 32), resolve_model("mobilenet-v2", 32)]
    calls: list[str] = []
    for timed in models:
        timed.model.register_forward_hook(lambda module, args, output, name=timed.name: calls.append(name))
    torch.set_num_threads(2)
    try:
        seconds = time_rounds(models, runs=3, warmup=2, threads=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert calls == ["mnasnet-b1", "mobilenet-v2"] * 5
    assert [len(s) for s in seconds] == [3, 3]


def test_library_refuses_zero_runs() -> None:
    with pytest.raises(ValueError, match="runs must be at least 1"):
        latency_table([resolve_model("resnet-18", 32)], runs=0)


@pytest.mark.parametrize("model, named, choice", [("resnet-99", "'resnet-99'", "resnet-152"),
                                                   ("torchvision:resnet99", "'resnet99'", "resnet152"),
                                                   ("torchvision:efficientnet-b1", "'efficientnet-b1'",
                                                    "efficientnet_b1")])
def test_unknown_model_is_one_line_naming_it_and_choices(model: str, named: str, choice: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["latency", "resnet-18", model, *FAST], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and named in err and f"{choice}," in err


@pytest.mark.parametrize("flag, value", [("--runs", "0"), ("--runs", "1e3"), ("--threads", "0"), ("--warmup", "-1"),
                                         ("--resolution", "4")])
def test_bad_numbers_are_refused_in_one_line(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["latency", "resnet-18", flag, value], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and flag in err


def test_torchvision_prefix_builds_torchvision_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["latency", "torchvision:resnet18", "resnet-18", *FAST], capsys)
    assert code == 0
    assert "torchvision:resnet18" in out and "11,689,512" in out
    assert resolve_model("torchvision:efficientnet_b1").resolution == 240  # our release resolution
    assert resolve_model("torchvision:squeezenet1_0").resolution == 224  # no family in our zoo
    assert resolve_model("torchvision:efficientnet_b1", 64).resolution == 64


@pytest.mark.parametrize("name, act", [("efficientnet-b0", F.silu), ("mnasnet-a1", F.relu)])
def test_squeeze_excitation_gates_with_the_stage_activation(name: str, act) -> None:
    """x · sigmoid(fc2(act(fc1(mean(x))))), written out with the block's own weights."""
    blocks = [m for m in build(get_spec(name)).modules() if isinstance(m, SqueezeExcitation)]
    block = blocks[len(blocks) // 2].eval()
    assert list(block.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    x = torch.randn(2, block.fc1.in_channels, 5, 5, generator=torch.Generator().manual_seed(0))
    squeezed = act(F.conv2d(x.mean((2, 3), keepdim=True), block.fc1.weight, block.fc1.bias))
    expected = x * torch.sigmoid(F.conv2d(squeezed, block.fc2.weight, block.fc2.bias))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)


def _block(rate: float) -> ResidualBlock:
    torch.manual_seed(0)
    body = nn.Sequential(ConvBNAct(4, 4, 3, act="relu"), ConvBNAct(4, 4, 1))
    return ResidualBlock(body, None, True, rate)


def test_residual_block_drops_whole_branches_in_training_only() -> None:
    x = torch.randn(64, 4, 3, 3, generator=torch.Generator().manual_seed(1))
    block = _block(0.5)
    with torch.no_grad():
        branch = block.body.train()(x)
        out = block.train()(x)
        kept = ~torch.isclose(out, x).flatten(1).all(1)
        torch.testing.assert_close(out[kept], x[kept] + 2 * branch[kept])  # survivors scaled by 1 / (1 - 0.5)
        assert 0 < int(kept.sum()) < 64
        torch.testing.assert_close(block.eval()(x), block.body(x) + x)  # no drop, no scaling at eval
        assert torch.equal(_block(1.0).train()(x), x)


def test_in_place_shortcut_add_keeps_the_gradients() -> None:
    x = torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(2), requires_grad=True)
    block = _block(0.0).train()
    block(x).square().sum().backward()
    ours = [p.grad.clone() for p in block.parameters()] + [x.grad.clone()]
    block.zero_grad()
    x.grad = None
    (block.body(x) + x).square().sum().backward()
    theirs = [p.grad for p in block.parameters()] + [x.grad]
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


class _TorchCalls(TorchFunctionMode):
    """Records the name of every torch function and tensor method called inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def _torch_calls(model: nn.Module) -> list[str]:
    with torch.inference_mode(), _TorchCalls() as calls:
        model.eval()(torch.zeros(1, 3, 32, 32))
    return calls.names


def test_efficientnet_runs_the_same_torch_calls_as_torchvision() -> None:
    """Same ops in the same order at inference (in-place shortcut add, no drop-path call): the speed parity."""
    ours = _torch_calls(build(get_spec("efficientnet-b0")))
    theirs = _torch_calls(torchvision.models.get_model(TORCHVISION_EQUIVALENTS["efficientnet-b0"], weights=None))
    assert ours.count("add_") == 9 and "add" not in ours
    assert ours == theirs
