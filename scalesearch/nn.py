"""Blocks (conv-bn-act, depthwise-separable, MBConv with SE, basic and bottleneck) and the builder.

Submodules are registered in the same order as torchvision's models, so a torchvision
state_dict maps onto ours position by position (see `torchvision_compat`).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor, nn
from torchvision.ops import SqueezeExcitation, StochasticDepth

from scalesearch.scaling import make_divisible
from scalesearch.spec import NetworkSpec, Stage

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
}


def activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name](inplace=True)


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) + BatchNorm2d + optional activation, 'same' padding."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: str | None = None) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act is not None:
            layers.append(activation(act))
        super().__init__(*layers)


class DropPath(StochasticDepth):
    """torchvision's stochastic depth in "row" mode (whole samples), made from the rate alone."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate, "row")

    @property
    def rate(self) -> float:
        """The probability of dropping a sample's branch (torchvision's `p`)."""
        return self.p

    @rate.setter
    def rate(self, value: float) -> None:
        self.p = value


class ResidualBlock(nn.Module):
    """`body(x)` plus a shortcut (identity or projection), with drop-path and a post-add activation.

    As in torchvision's blocks, the shortcut is added in place and eval mode runs no drop-path module.
    """

    def __init__(self, body: nn.Module, shortcut: nn.Module | None, residual: bool, drop_rate: float,
                 post_act: str | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.residual = residual
        self.drop_path = DropPath(drop_rate)  # kept even when unused, so every block shows its rate
        self.post_act = activation(post_act) if post_act else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        if self.residual:
            if self.training:
                out = self.drop_path(out)
            out += x if self.shortcut is None else self.shortcut(x)
        return out if self.post_act is None else self.post_act(out)


def _mbconv_body(cin: int, cout: int, stride: int, stage: Stage) -> nn.Sequential:
    hidden = make_divisible(cin * stage.expand)
    layers: list[nn.Module] = []
    if hidden != cin:
        layers.append(ConvBNAct(cin, hidden, 1, act=stage.act))
    layers.append(ConvBNAct(hidden, hidden, stage.kernel, stride, groups=hidden, act=stage.act))
    if stage.se > 0:
        layers.append(SqueezeExcitation(hidden, max(1, int(cin * stage.se)), partial(activation, stage.act)))
    layers.append(ConvBNAct(hidden, cout, 1))
    return nn.Sequential(*layers)


def build_block(stage: Stage, cin: int, stride: int, drop_rate: float) -> nn.Module:
    """One block of `stage` taking `cin` channels in."""
    cout, k, act = stage.channels, stage.kernel, stage.act
    same_shape = stride == 1 and cin == cout
    if stage.op == "conv":
        return ConvBNAct(cin, cout, k, stride, act=act)
    if stage.op == "dsconv":
        return nn.Sequential(ConvBNAct(cin, cin, k, stride, groups=cin, act=act), ConvBNAct(cin, cout, 1, act=act))
    if stage.op == "mbconv":
        return ResidualBlock(_mbconv_body(cin, cout, stride, stage), None, stage.skip and same_shape, drop_rate)
    projection = None if same_shape or not stage.skip else ConvBNAct(cin, cout, 1, stride)
    if stage.op == "basic":
        body = nn.Sequential(ConvBNAct(cin, cout, k, stride, act=act), ConvBNAct(cout, cout, k))
    else:  # bottleneck
        hidden = make_divisible(cout * stage.expand)
        body = nn.Sequential(ConvBNAct(cin, hidden, 1, act=act), ConvBNAct(hidden, hidden, k, stride, act=act),
                             ConvBNAct(hidden, cout, 1))
    return ResidualBlock(body, projection, stage.skip, drop_rate, post_act=act)


class ConvNet(nn.Module):
    """A network built from a `NetworkSpec`: stem, stages, head, pooling, dropout, classifier."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        stem_layers: list[nn.Module] = [
            ConvBNAct(spec.in_channels, spec.stem.channels, spec.stem.kernel, spec.stem.stride, act=spec.stem.act)]
        if spec.stem.pool:
            stem_layers.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem_layers)

        last_block = max(spec.num_blocks - 1, 1)
        channels, index = spec.stem.channels, 0
        stages = []
        for stage in spec.stages:
            blocks = []
            for repeat in range(stage.repeats):
                stride = stage.stride if repeat == 0 else 1
                blocks.append(build_block(stage, channels, stride, spec.drop_path * index / last_block))
                channels, index = stage.channels, index + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)

        if spec.head.channels:
            self.head = ConvBNAct(channels, spec.head.channels, 1, act=spec.head.act)
            channels = spec.head.channels
        else:
            self.head = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(spec.head.dropout), nn.Linear(channels, spec.num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.out_features)
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))


def zero_init_residual(model: nn.Module) -> int:
    """Zero the weight of the last BatchNorm in the branch of every `ResidualBlock` with a shortcut.

    Each such block then starts as its shortcut (Goyal et al., 2017). Returns how many were zeroed.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, ResidualBlock) and module.residual:
            norms = [m for m in module.body.modules() if isinstance(m, nn.BatchNorm2d)]
            if norms:
                nn.init.zeros_(norms[-1].weight)
                count += 1
    return count


def build(spec: NetworkSpec) -> ConvNet:
    """Turn any spec into an nn.Module."""
    return ConvNet(spec)
