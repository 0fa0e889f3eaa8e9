"""What a network costs: MACs (the paper's FLOPS), parameters and activations, counted with fvcore.

MACs are the multiply-adds of convolutions and linear layers; a bias adds one per
output element (so EfficientNet-B0 at 224 px is 385,825,092 MACs). BatchNorm, pooling and
element-wise operations count as zero unless `include_elementwise=True`. Activations
are the output elements of convolutions (Dollár et al., 2021).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import warnings

import torch

# fvcore imports a helper that calls the deprecated torch.jit.script; the warning says nothing to users.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)

from fvcore.nn import FlopCountAnalysis  # noqa: E402
from fvcore.nn.jit_handles import conv_flop_jit, elementwise_flop_counter, get_shape, linear_flop_jit  # noqa: E402
from torch import nn  # noqa: E402

from scalesearch.nn import build
from scalesearch.spec import NetworkSpec

# fvcore skips an op whose handle is None only in some versions; a handle returning 0 always works.
_ZERO = lambda inputs, outputs: 0  # noqa: E731

_NORM_AND_POOL_OPS = ("aten::batch_norm", "aten::group_norm", "aten::layer_norm", "aten::instance_norm",
                      "aten::adaptive_avg_pool2d", "aten::upsample_nearest2d", "aten::upsample_bilinear2d")
_ELEMENTWISE_OPS = ("aten::add", "aten::add_", "aten::mul", "aten::mul_", "aten::div", "aten::div_",
                    "aten::sigmoid", "aten::sigmoid_", "aten::silu", "aten::silu_", "aten::relu", "aten::relu_",
                    "aten::hardtanh", "aten::hardtanh_", "aten::hardswish", "aten::hardswish_",
                    "aten::max_pool2d", "aten::mean")
# Conv output elements are counted in the same trace as the MACs, under a key of their own.
_ACTIVATIONS = "conv activations"


@dataclass(frozen=True)
class Cost:
    """Counts for one network at one input resolution (batch of one image)."""

    macs: int
    params: int
    activations: int


def _bias_adds(bias: torch._C.Value, output: torch._C.Value) -> int:
    """One add per output element when the layer has a bias."""
    return 0 if bias.type().kind() == "NoneType" else math.prod(get_shape(output))


def _conv_with_bias(inputs: list, outputs: list) -> Counter:
    return Counter({"conv": conv_flop_jit(inputs, outputs)["conv"] + _bias_adds(inputs[2], outputs[0]),
                    _ACTIVATIONS: math.prod(get_shape(outputs[0]))})


def _linear_with_bias(inputs: list, outputs: list) -> int:
    return linear_flop_jit(inputs, outputs) + _bias_adds(inputs[2], outputs[0])


def _flop_handles(include_elementwise: bool) -> dict:
    handles = {"aten::_convolution": _conv_with_bias, "aten::linear": _linear_with_bias}
    if include_elementwise:
        handles.update({op: elementwise_flop_counter(0, 1) for op in _ELEMENTWISE_OPS})
    else:
        handles.update({op: _ZERO for op in _NORM_AND_POOL_OPS})
    return handles


def count_cost(model: nn.Module, resolution: int, *, in_channels: int = 3,
               include_elementwise: bool = False) -> Cost:
    """Count MACs, parameters and conv activations of `model` on one `resolution`² image."""
    was_training = model.training
    model.eval()
    image = torch.zeros(1, in_channels, resolution, resolution, device=next(model.parameters()).device)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            counts = FlopCountAnalysis(model, image).set_op_handle(**_flop_handles(include_elementwise))
            counts.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            activations = int(counts.by_operator()[_ACTIVATIONS])
            macs = int(counts.total()) - activations
    finally:
        model.train(was_training)
    return Cost(macs=macs, params=sum(p.numel() for p in model.parameters()), activations=activations)


@lru_cache(maxsize=512)
def spec_cost(spec: NetworkSpec, resolution: int | None = None, include_elementwise: bool = False) -> Cost:
    """The cost of `spec` at `resolution` (default: its own), cached by (spec, resolution)."""
    return count_cost(build(spec), resolution or spec.resolution, in_channels=spec.in_channels,
                      include_elementwise=include_elementwise)
