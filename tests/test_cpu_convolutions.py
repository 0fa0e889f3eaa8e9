"""The faster exact CPU convolution paths: the same outputs and gradients as torch's own, taken only
where they were measured to pay, and used by the trainer."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import scalesearch.training.cpu_convolutions as cpu_convolutions
from scalesearch.data import load_dataset
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training.cpu_convolutions import FastCPUConvolutions, fast_conv2d
from scalesearch.training.config import plan_budget
from scalesearch.training.optimizers import PRESETS, build_optimizer

CL = torch.channels_last


def gradients_both_ways(
    shape: tuple[int, ...], weight_shape: tuple[int, ...], with_bias: bool, **conv: object
) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """(torch's output and gradients, the mode's output and gradients, the mode's output) for one conv2d."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(shape, generator=generator).contiguous(memory_format=CL).requires_grad_(True)
    weight = torch.randn(weight_shape, generator=generator).requires_grad_(True)
    bias = torch.randn(weight_shape[0], generator=generator).requires_grad_(True) if with_bias else None
    inputs = [t for t in (images, weight, bias) if t is not None]
    expected = F.conv2d(images, weight, bias, **conv)
    upstream = torch.randn(expected.shape, generator=generator)
    with FastCPUConvolutions():
        routed = F.conv2d(images, weight, bias, **conv)
    return ([expected, *torch.autograd.grad(expected, inputs, upstream)],
            [routed, *torch.autograd.grad(routed, inputs, upstream)], routed)


@pytest.mark.parametrize("size", [1, 2, 4])
def test_a_small_pointwise_conv_is_a_matrix_product_with_torchs_results(size: int) -> None:
    expected, routed, output = gradients_both_ways((4, 24, size, size), (40, 24, 1, 1), True)
    assert output.grad_fn.name() != "ConvolutionBackward0"  # it took the matrix product
    assert output.is_contiguous(memory_format=CL)
    for want, got in zip(expected, routed):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("kernel", "stride", "size"), [
    (3, 1, 1), (3, 2, 2), (5, 1, 2), (5, 2, 4), (5, 1, 4), (7, 2, 3), (5, 1, 3), (5, 2, 3), (7, 1, 2),
])
def test_a_depthwise_conv_on_a_small_map_has_torchs_output_and_gradients(kernel: int, stride: int, size: int) -> None:
    channels = 12
    expected, routed, output = gradients_both_ways(
        (4, channels, size, size), (channels, 1, kernel, kernel), True,
        stride=stride, padding=kernel // 2, groups=channels)
    assert output.grad_fn.name() != "ConvolutionBackward0"
    for want, got in zip(expected, routed):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_global_average_pool_is_a_scaled_sum_with_torchs_results() -> None:
    images = torch.randn(4, 12, 3, 5).contiguous(memory_format=CL).requires_grad_(True)
    upstream = torch.randn(4, 12, 1, 1)
    expected = F.adaptive_avg_pool2d(images, 1)
    with FastCPUConvolutions():
        routed = F.adaptive_avg_pool2d(images, (1, 1))
        assert F.adaptive_avg_pool2d(images, 2).grad_fn.name() == "AdaptiveAvgPool2DBackward0"  # not global
    assert routed.grad_fn.name() == "MulBackward0"
    torch.testing.assert_close(routed, expected)
    torch.testing.assert_close(torch.autograd.grad(routed, images, upstream)[0],
                               torch.autograd.grad(expected, images, upstream)[0])


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[int, ...]]:
    """Spy on cpu_convolutions.`name`: the shape of each call's first argument."""
    original = getattr(cpu_convolutions, name)
    calls: list[tuple[int, ...]] = []

    def spy(*args: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(args[0].shape))
        return original(*args)

    monkeypatch.setattr(cpu_convolutions, name, spy)
    return calls


def test_the_weight_gradient_skips_tiles_that_read_only_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5×5 kernel is four 3×3 tiles; on a 1×1 map only the tile holding the centre tap reads the pixel."""
    tiles = count_calls(monkeypatch, "tile_weight_grad")
    images = torch.randn(2, 8, 1, 1)
    weight = torch.randn(8, 1, 5, 5, requires_grad=True)
    upstream = torch.randn(2, 8, 1, 1)
    (expected,) = torch.autograd.grad(F.conv2d(images, weight, padding=2, groups=8), weight, upstream)
    grad = cpu_convolutions.depthwise_weight_grad(images, upstream, (5, 5), (1, 1), (2, 2))
    assert tiles == [(2, 8, 3, 3)]
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize(("kernel", "stride", "size", "tiles"), [(5, 1, 2, 1), (7, 1, 2, 1), (5, 1, 3, 4), (5, 2, 3, 4)])
def test_the_weight_gradient_tiles_only_the_taps_that_read_the_map(
        monkeypatch: pytest.MonkeyPatch, kernel: int, stride: int, size: int, tiles: int) -> None:
    """On a 2×2 map a 5×5 or 7×7 kernel's outer taps read padding only: one 3×3 tile holds every tap that
    reads a pixel. On a 3×3 map every tap of a 5×5 kernel reads one, so four tiles are needed."""
    calls = count_calls(monkeypatch, "tile_weight_grad")
    images = torch.randn(2, 8, size, size)
    weight = torch.randn(8, 1, kernel, kernel, requires_grad=True)
    output = F.conv2d(images, weight, stride=stride, padding=kernel // 2, groups=8)
    upstream = torch.randn(output.shape)
    (expected,) = torch.autograd.grad(output, weight, upstream)
    pair = (stride, stride), (kernel // 2, kernel // 2)
    grad = cpu_convolutions.depthwise_weight_grad(images, upstream, (kernel, kernel), *pair)
    assert len(calls) == tiles
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize(("shape", "weight_shape", "conv", "why"), [
    ((2, 8, 2, 2), (16, 8, 1, 1), {}, "NCHW input"),
    ((2, 8, 17, 16), (16, 8, 1, 1), {}, "272 positions, above MAX_POINTWISE_POSITIONS"),
    ((2, 8, 2, 2), (16, 8, 1, 1), {"stride": 2}, "strided pointwise"),
    ((2, 8, 8, 8), (8, 1, 5, 5), {"padding": 2, "groups": 8}, "map larger than twice the padding"),
    ((2, 8, 2, 2), (8, 1, 3, 3), {"padding": 2, "dilation": 2, "groups": 8}, "dilated"),
    ((2, 8, 2, 2), (8, 1, 3, 3), {"padding": "same", "groups": 8}, "padding given as a string"),
    ((2, 8, 2, 2), (16, 4, 3, 3), {"padding": 1, "groups": 2}, "grouped, not depthwise"),
])
def test_other_convolutions_are_left_to_torch(shape, weight_shape, conv, why) -> None:
    images = torch.randn(shape)
    if why != "NCHW input":
        images = images.contiguous(memory_format=CL)
    assert fast_conv2d(images, torch.randn(weight_shape), None, **conv) is None, why


def test_half_precision_and_autocast_are_left_to_torch() -> None:
    images = torch.randn(2, 8, 2, 2).contiguous(memory_format=CL)
    weight = torch.randn(16, 8, 1, 1)
    assert fast_conv2d(images.bfloat16(), weight.bfloat16()) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fast_conv2d(images, weight) is None
    assert fast_conv2d(images, weight) is not None


def small_map_net() -> nn.Module:
    """At 16 px: a stride-4 stem to 4×4, a depthwise 5×5 down to 2×2, pointwise and depthwise 3×3 there."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 4, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU(),
        nn.Conv2d(16, 16, 5, 2, 2, groups=16, bias=False), nn.BatchNorm2d(16), nn.SiLU(),
        nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.SiLU(),
        nn.Conv2d(32, 32, 3, 1, 1, groups=32, bias=False), nn.BatchNorm2d(32), nn.SiLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def test_the_trainer_takes_the_fast_paths_and_trains_as_torchs_own(monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dataset("fashion-mnist-mini").subset(train=128, test=64)
    config = TrainConfig(images=128, batch_size=32, device="cpu", progress=False, channels_last=True, amp=False)
    pointwise = count_calls(monkeypatch, "pointwise_conv2d")
    tiles = count_calls(monkeypatch, "tile_weight_grad")
    fast, plain = small_map_net(), small_map_net()
    fast_result = train_proxy(fast, data, 16, config)
    plain_result = train_proxy(plain, data, 16, replace(config, fast_cpu_convolutions=False))
    steps = 128 // 32
    assert len(pointwise) == steps + 1  # the 1×1 conv on the 2×2 map, in every step and the evaluation
    assert len(tiles) == steps * (4 + 1)  # the 5×5 kernel's four tiles, the 3×3 kernel's one
    assert fast_result.status == plain_result.status == "ok"
    for (name, got), want in zip(fast.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=name)


def test_sgd_uses_torchs_fused_step_on_the_cpu() -> None:
    model = nn.Linear(4, 2)
    optimizer, _ = build_optimizer(model, PRESETS["short"], TrainConfig(), plan_budget(TrainConfig(), 64))
    assert optimizer.defaults["fused"] is True
