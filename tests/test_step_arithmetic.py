"""benchmarks/cpu_convolutions.py's count of the depthwise multiply-adds that read padding."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from torch import nn

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "cpu_convolutions.py"


@pytest.fixture(scope="module")
def benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cpu_convolutions_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_padding_by_position(layer: Any) -> int:
    """The same count, output position by output position and tap by tap."""
    conv, (height, width) = layer.conv, layer.input_shape[2:]
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w) = conv.kernel_size, conv.stride, conv.padding
    out_h, out_w = (height + 2 * pad_h - kernel_h) // stride_h + 1, (width + 2 * pad_w - kernel_w) // stride_w + 1
    return conv.out_channels * sum(
        not (0 <= i * stride_h + a - pad_h < height and 0 <= j * stride_w + b - pad_w < width)
        for i in range(out_h) for j in range(out_w) for a in range(kernel_h) for b in range(kernel_w))


@pytest.mark.parametrize(("kernel", "stride", "size", "per_channel"), [
    (3, 1, 2, 4 * 5),    # 2×2 outputs, each reads 4 of 9 taps
    (5, 1, 1, 24),       # 1 output, its centre tap alone reads the pixel
    (3, 2, 4, 5 + 3 + 3 + 0),  # output (0, 0) reads 4 of 9 taps, (0, 1) and (1, 0) 6, (1, 1) all 9
])
def test_padding_taps_by_hand(benchmark: ModuleType, kernel: int, stride: int, size: int, per_channel: int) -> None:
    conv = nn.Conv2d(4, 4, kernel, stride, kernel // 2, groups=4, bias=False)
    layer = benchmark.Layer((1, 4, size, size), conv)
    assert benchmark.padding_taps(layer) == on_padding_by_position(layer) == 4 * per_channel


def test_padding_taps_of_every_b0_depthwise_layer_at_37_px(benchmark: ModuleType) -> None:
    layers = [layer for layer in benchmark.layers_of_b0(1, 37, distinct=False) if layer.kind == "depthwise"]
    assert len(layers) == 16  # B0's sixteen blocks, each with one depthwise convolution
    assert [benchmark.padding_taps(layer) for layer in layers] == [on_padding_by_position(layer) for layer in layers]
