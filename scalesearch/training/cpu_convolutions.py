"""Exact, faster CPU paths for the small convolutions that dominate an EfficientNet step at low resolution.

On channels_last fp32 CPU tensors, oneDNN (torch's CPU convolution backend) is slow in two
cases that make up most of a B0 step at 32 px (benchmarks/cpu_convolutions.py measures both,
against torch's own path, on the layer shapes of B0):

- a pointwise (1×1) convolution over few positions (`MAX_POINTWISE_POSITIONS`): run instead as
  one matrix product on the NHWC view of the input, forward and backward;
- the weight gradient of a depthwise convolution whose feature map is no larger than twice its
  padding: oneDNN takes a generic path there (and for every 5×5 kernel). It is computed instead
  from 3×3 tiles of the kernel on an explicitly padded input, which oneDNN runs on its fast
  path; the forward pass and the input gradient stay oneDNN's.

A third path serves the squeeze-and-excitation blocks around them: a global average pool
(`adaptive_avg_pool2d` to 1×1) runs as a sum times 1/(height × width), whose backward is a
broadcast, where torch's mean divides the whole upstream gradient.

`FastCPUConvolutions` is a TorchFunctionMode that routes such `conv2d` and pooling calls; every
other call runs unchanged. Results equal torch's own up to float rounding
(tests/test_cpu_convolutions.py).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair
from torch.overrides import TorchFunctionMode

MAX_POINTWISE_POSITIONS = 256
"""Largest feature map (height × width) a pointwise convolution runs as a matrix product on. On B0's
layers at 32 px, batch 64 (benchmarks/cpu_convolutions.md) the product was faster than oneDNN on
every map up to 16×16 (1.1-4.7x, most on 1×1 maps); on 32×32 and larger maps (with a bias) it was
as often slower."""

_TILE = 3  # the kernel size whose weight gradient oneDNN computes fast at any padding


class FastCPUConvolutions(TorchFunctionMode):
    """Within this context, eligible `conv2d` and global-pooling calls take this module's faster exact paths."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        routed = None
        if func is torch.conv2d:
            routed = fast_conv2d(*args, **kwargs)
        elif func is F.adaptive_avg_pool2d:
            routed = fast_global_average_pool(*args, **kwargs)
        return func(*args, **kwargs) if routed is None else routed


def fast_cpu_convolutions(enabled: bool) -> contextlib.AbstractContextManager:
    """A `FastCPUConvolutions` context when `enabled`, else one that changes nothing."""
    return FastCPUConvolutions() if enabled else contextlib.nullcontext()


def fast_conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> torch.Tensor | None:
    """`F.conv2d` by a faster exact path where one applies, else None (the caller runs torch's own)."""
    if not _on_fast_layout(input) or weight.dtype != torch.float32 or isinstance(padding, str):
        return None
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    channels, height, width = input.shape[1:]
    kernel = tuple(weight.shape[2:])
    if (kernel == (1, 1) and groups == 1 and stride == (1, 1) and padding == (0, 0)
            and height * width <= MAX_POINTWISE_POSITIONS):
        return pointwise_conv2d(input, weight, bias)
    depthwise = groups == channels == weight.shape[0] and weight.shape[1] == 1
    if (depthwise and dilation == (1, 1) and kernel != (1, 1)
            and height <= 2 * padding[0] and width <= 2 * padding[1]):
        output = depthwise_conv2d(input, weight, stride, padding)
        return output if bias is None else output + bias.view(1, -1, 1, 1)
    return None


def depthwise_conv2d(
    input: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int]
) -> torch.Tensor:
    """A depthwise convolution (no bias) whose weight gradient comes from `depthwise_weight_grad`."""
    return _DepthwiseConv2d.apply(input, weight, stride, padding)


def fast_global_average_pool(input: torch.Tensor, output_size: Any) -> torch.Tensor | None:
    """`F.adaptive_avg_pool2d(input, 1)` as a sum times 1/(height × width), else None (torch's own runs)."""
    if _pair(output_size) != (1, 1) or not _on_fast_layout(input):
        return None
    return input.sum(dim=(2, 3), keepdim=True) * (1.0 / (input.shape[2] * input.shape[3]))


def pointwise_conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A 1×1 convolution of a channels_last `input` as a matrix product; the output is channels_last too."""
    output = F.linear(input.permute(0, 2, 3, 1), weight.flatten(1), bias)
    return output.permute(0, 3, 1, 2)


def depthwise_weight_grad(
    input: torch.Tensor, grad_output: torch.Tensor, kernel: tuple[int, int],
    stride: tuple[int, int], padding: tuple[int, int],
) -> torch.Tensor:
    """The weight gradient of a depthwise convolution, assembled from 3×3 tiles of the kernel.

    Each tile's gradient is a 3×3 depthwise weight gradient without padding, over the window of
    the (explicitly padded) input that the tile's taps read. Only the taps that read the map for
    some output position are tiled (`live_taps`); the others read padding only and stay zero, so a
    5×5 kernel on a 2×2 map is one tile, not four.
    """
    channels, height, width = input.shape[1:]
    spans = [step * (size - 1) + _TILE for step, size in zip(stride, grad_output.shape[2:])]
    (first_row, last_row), (first_col, last_col) = (
        live_taps(*args) for args in zip(kernel, stride, padding, (height, width), grad_output.shape[2:]))
    grad = input.new_zeros(channels, 1, *kernel)
    for row in range(first_row, last_row + 1, _TILE):
        top = row - padding[0]  # the window's first row, in input coordinates
        rows = min(_TILE, kernel[0] - row)
        for col in range(first_col, last_col + 1, _TILE):
            left = col - padding[1]
            cols = min(_TILE, kernel[1] - col)
            # F.pad with negative amounts crops: the window is input rows top .. top + span, padded with zeros.
            window = F.pad(input, (-left, left + spans[1] - width, -top, top + spans[0] - height))
            tile = tile_weight_grad(window, grad_output, stride)
            grad[:, :, row:row + rows, col:col + cols] = tile[:, :, :rows, :cols]
    return grad


def live_taps(kernel: int, stride: int, padding: int, size: int, output_size: int) -> tuple[int, int]:
    """(first, last) kernel tap along one dimension that reads the map (not padding) for some output position.

    Output position i reads input i·stride + tap − padding, so the taps that land inside [0, size)
    for some i in [0, output_size) run from padding − (output_size − 1)·stride to padding + size − 1.
    """
    return max(0, padding - (output_size - 1) * stride), min(kernel - 1, padding + size - 1)


def tile_weight_grad(window: torch.Tensor, grad_output: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """The weight gradient of a 3×3 depthwise convolution of `window` without padding (oneDNN's fast path)."""
    channels = window.shape[1]
    return torch.ops.aten.convolution_backward(
        grad_output, window, window.new_empty(channels, 1, _TILE, _TILE), None, stride, (0, 0), (1, 1), False,
        (0, 0), channels, (False, True, False))[1]


class _DepthwiseConv2d(torch.autograd.Function):
    """oneDNN's depthwise forward and input gradient; the weight gradient from `depthwise_weight_grad`."""

    @staticmethod
    def forward(ctx: Any, input: torch.Tensor, weight: torch.Tensor,
                stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(input, weight)
        ctx.stride, ctx.padding = stride, padding
        return F.conv2d(input, weight, None, stride, padding, 1, input.shape[1])

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None]:
        input, weight = ctx.saved_tensors
        grad_output = grad_output.contiguous(memory_format=torch.channels_last)
        grad_input = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_input = torch.ops.aten.convolution_backward(
                grad_output, input, weight, None, ctx.stride, ctx.padding, (1, 1), False, (0, 0), input.shape[1],
                (True, False, False))[0]
        if ctx.needs_input_grad[1]:
            grad_weight = depthwise_weight_grad(input, grad_output, tuple(weight.shape[2:]), ctx.stride, ctx.padding)
        return grad_input, grad_weight, None, None


def _on_fast_layout(input: torch.Tensor) -> bool:
    """Whether `input` is the kind these paths were measured on: a 4-D fp32 channels_last CPU tensor, no autocast."""
    return (input.device.type == "cpu" and input.dim() == 4 and input.dtype == torch.float32
            and input.is_contiguous(memory_format=torch.channels_last) and not torch.is_autocast_enabled("cpu"))
