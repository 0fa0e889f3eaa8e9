"""The network description: a stem, a list of stages and a head (the paper's Eq. 1).

Specs are immutable, hashable values that validate themselves on construction and
round-trip through JSON. Every other part of the package reads or writes them.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from scalesearch.errors import UserError

OPERATORS = ("conv", "dsconv", "mbconv", "basic", "bottleneck")
ACTIVATIONS = ("relu", "relu6", "silu", "hardswish")

# Upper bounds of a spec: far above any published ConvNet (EfficientNet-L2: 5,504 head channels,
# 22 repeats a stage, 800 px, about 480M parameters), low enough that a typo fails at once
# instead of in a MemoryError or an hour of counting.
MAX_CHANNELS = 32_768
MAX_REPEATS = 1_024
MAX_STAGES = 64
MAX_BLOCKS = 4_096
MAX_KERNEL = 31
MAX_RESOLUTION = 4_096
MAX_CLASSES = 100_000
MAX_IN_CHANNELS = 64
MAX_WEIGHTS = 2_000_000_000  # convolution and classifier weights, estimated from the spec
MAX_MACS = 10_000_000_000_000  # multiply-adds of one image at the spec's resolution, estimated


class SpecError(UserError):
    """A network description that does not make sense."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SpecError(message)


def _check_int(value: Any, name: str, minimum: int, maximum: int) -> None:
    _require(isinstance(value, int) and not isinstance(value, bool), f"{name} must be an integer, got {value!r}")
    _require(value >= minimum, f"{name} must be >= {minimum}, got {value}")
    _require(value <= maximum, f"{name} must be <= {maximum:,}, got {value:,}")


def _check_number(value: Any, name: str, low: float, high: float, *, high_open: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    _require(ok, f"{name} must be a finite number, got {value!r}")
    _require(low <= value and (value < high if high_open else value <= high),
             f"{name} must be in [{low}, {high}{')' if high_open else ']'}, got {value}")


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    _require(value in choices, f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _check_kernel_stride(kernel: Any, stride: Any, where: str) -> None:
    _check_int(kernel, f"{where}.kernel", 1, MAX_KERNEL)
    _require(kernel % 2 == 1, f"{where}.kernel must be odd, got {kernel}")
    _require(stride in (1, 2) and not isinstance(stride, bool), f"{where}.stride must be 1 or 2, got {stride!r}")


@dataclass(frozen=True)
class Stem:
    """The first convolution (conv-bn-act), optionally followed by ResNet's 3x3/2 max-pool."""

    channels: int
    kernel: int = 3
    stride: int = 2
    act: str = "silu"
    pool: bool = False

    def __post_init__(self) -> None:
        _check_int(self.channels, "stem.channels", 1, MAX_CHANNELS)
        _check_kernel_stride(self.kernel, self.stride, "stem")
        _check_choice(self.act, "stem.act", ACTIVATIONS)
        _require(isinstance(self.pool, bool), f"stem.pool must be true or false, got {self.pool!r}")


@dataclass(frozen=True)
class Stage:
    """`repeats` blocks of one operator; the first block has `stride`, the others stride 1.

    `expand` is the expansion ratio of MBConv (hidden = input channels x expand) and the
    bottleneck ratio of ResNet's bottleneck (hidden = output channels x expand, 0.25 in
    ResNet); `se` is the squeeze-and-excitation ratio relative to the block's input
    channels (0 disables it); `skip` allows the residual connection where shapes match.
    """

    op: str
    channels: int
    repeats: int = 1
    kernel: int = 3
    stride: int = 1
    expand: float = 1.0
    se: float = 0.0
    act: str = "silu"
    skip: bool = True

    def __post_init__(self) -> None:
        _check_choice(self.op, "stage.op", OPERATORS)
        _check_int(self.channels, "stage.channels", 1, MAX_CHANNELS)
        _check_int(self.repeats, "stage.repeats", 1, MAX_REPEATS)
        _check_kernel_stride(self.kernel, self.stride, "stage")
        _check_number(self.expand, "stage.expand", 0.0, 64.0, high_open=False)
        _require(self.expand > 0, f"stage.expand must be > 0, got {self.expand}")
        _check_number(self.se, "stage.se", 0.0, 1.0, high_open=False)
        _check_choice(self.act, "stage.act", ACTIVATIONS)
        _require(isinstance(self.skip, bool), f"stage.skip must be true or false, got {self.skip!r}")


@dataclass(frozen=True)
class Head:
    """Optional 1x1 conv-bn-act (channels > 0), global average pooling, dropout, classifier."""

    channels: int = 0
    act: str = "silu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_int(self.channels, "head.channels", 0, MAX_CHANNELS)
        _check_choice(self.act, "head.act", ACTIVATIONS)
        _check_number(self.dropout, "head.dropout", 0.0, 1.0)


@dataclass(frozen=True)
class NetworkSpec:
    """A whole ConvNet: stem, stages, head, and the base input resolution.

    `drop_path` is the stochastic-depth rate of the last block; it grows linearly from 0
    at the first block (blocks without a residual connection do not use theirs).
    """

    name: str
    stem: Stem
    stages: tuple[Stage, ...]
    head: Head = field(default_factory=Head)
    resolution: int = 224
    num_classes: int = 1000
    drop_path: float = 0.0
    in_channels: int = 3

    def __post_init__(self) -> None:
        _require(isinstance(self.name, str) and bool(self.name), "name must be a non-empty string")
        _require(isinstance(self.stem, Stem), "stem must be a Stem")
        _require(isinstance(self.stages, tuple) and len(self.stages) > 0, "stages must be a non-empty list")
        _require(len(self.stages) <= MAX_STAGES, f"a spec may have at most {MAX_STAGES} stages, got {len(self.stages):,}")
        _require(all(isinstance(s, Stage) for s in self.stages), "every stage must be a Stage")
        _require(isinstance(self.head, Head), "head must be a Head")
        _check_int(self.resolution, "resolution", 8, MAX_RESOLUTION)
        _check_int(self.num_classes, "num_classes", 1, MAX_CLASSES)
        _check_number(self.drop_path, "drop_path", 0.0, 1.0)
        _check_int(self.in_channels, "in_channels", 1, MAX_IN_CHANNELS)
        _require(self.num_blocks <= MAX_BLOCKS, f"a spec may have at most {MAX_BLOCKS:,} blocks in all, "
                                                f"got {self.num_blocks:,}")
        check_size(self)

    @property
    def total_stride(self) -> int:
        """Down-sampling factor from input to the last feature map."""
        stride = self.stem.stride * (2 if self.stem.pool else 1)
        for stage in self.stages:
            stride *= stage.stride
        return stride

    @property
    def num_blocks(self) -> int:
        return sum(stage.repeats for stage in self.stages)

    def with_classes(self, num_classes: int) -> NetworkSpec:
        """The same network with another classifier size."""
        return replace(self, num_classes=num_classes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = [asdict(stage) for stage in self.stages]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> NetworkSpec:
        """Build and validate a spec from plain data (as read from JSON)."""
        _check_keys(cls, data, "spec")
        stages = data["stages"]
        _require(isinstance(stages, list), "spec key 'stages' must be a list")
        return _construct(cls, {
            **data,
            "stem": _construct(Stem, data.get("stem"), "stem"),
            "stages": tuple(_construct(Stage, s, f"stages[{i}]") for i, s in enumerate(stages)),
            "head": _construct(Head, data.get("head", {}), "head"),
        }, "spec")

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec is not valid JSON: {exc.msg} (line {exc.lineno})") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> NetworkSpec:
        """Read a spec from a JSON file."""
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SpecError(f"cannot read spec {path}: {exc.strerror}") from None
        return cls.from_json(text)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")


def estimate_size(spec: NetworkSpec, resolution: int | None = None) -> tuple[int, int]:
    """(weights, MACs) of `spec` on one image at `resolution` (default: its own), estimated in
    closed form from the convolutions and the classifier (no BatchNorm, bias or rounding): cheap,
    and close enough to refuse networks too large to build or count before trying."""
    side = resolution or spec.resolution
    weights = macs = 0

    def conv(cin: float, cout: float, kernel: int, stride: int, groups: float = 1) -> None:
        nonlocal side, weights, macs
        side = -(-side // stride)
        count = cin / groups * cout * kernel * kernel
        weights += int(count)
        macs += int(count * side * side)

    conv(spec.in_channels, spec.stem.channels, spec.stem.kernel, spec.stem.stride)
    side = -(-side // 2) if spec.stem.pool else side
    channels = spec.stem.channels
    for stage in spec.stages:
        for repeat in range(stage.repeats):
            stride = stage.stride if repeat == 0 else 1
            cout, k = stage.channels, stage.kernel
            if stage.op == "conv":
                conv(channels, cout, k, stride)
            elif stage.op == "dsconv":
                conv(channels, channels, k, stride, channels)
                conv(channels, cout, 1, 1)
            elif stage.op == "mbconv":
                hidden = channels * stage.expand
                conv(channels, hidden, 1, 1)
                conv(hidden, hidden, k, stride, hidden)
                conv(hidden, cout, 1, 1)
            elif stage.op == "basic":
                conv(channels, cout, k, stride)
                conv(cout, cout, k, 1)
            else:  # bottleneck
                hidden = cout * stage.expand
                conv(channels, hidden, 1, 1)
                conv(hidden, hidden, k, stride)
                conv(hidden, cout, 1, 1)
            channels = cout
    if spec.head.channels:
        conv(channels, spec.head.channels, 1, 1)
        channels = spec.head.channels
    weights += channels * spec.num_classes
    macs += channels * spec.num_classes
    return weights, macs


def check_size(spec: NetworkSpec, resolution: int | None = None) -> None:
    """SpecError if `spec` at `resolution` (default: its own) is estimated above MAX_WEIGHTS or MAX_MACS."""
    weights, macs = estimate_size(spec, resolution)
    _require(weights <= MAX_WEIGHTS, f"{spec.name} is too large: about {weights:.3g} weights, "
                                     f"the limit is {MAX_WEIGHTS:.3g}")
    _require(macs <= MAX_MACS, f"{spec.name} is too large: about {macs:.3g} MACs an image at "
                               f"{resolution or spec.resolution} px, the limit is {MAX_MACS:.3g}")


def _check_keys(kind: type, data: Any, where: str) -> None:
    """`data` is a dict with every required field of dataclass `kind` and no unknown key."""
    _require(isinstance(data, dict), f"{where} must be a JSON object")
    unknown = sorted(set(data) - {f.name for f in fields(kind)})
    _require(not unknown, f"{where} has unknown key(s): {', '.join(unknown)}")
    missing = [f.name for f in fields(kind)
               if f.name not in data and f.default is MISSING and f.default_factory is MISSING]
    _require(not missing, f"{where} is missing key(s): {', '.join(missing)}")


def _construct(kind: type, data: Any, where: str) -> Any:
    """Instantiate dataclass `kind` from a dict, naming missing and unknown keys."""
    _check_keys(kind, data, where)
    try:
        return kind(**data)
    except SpecError as exc:
        message = str(exc)
        prefix = kind.__name__.lower()
        if where not in ("spec", prefix) and message.startswith(f"{prefix}."):
            message = where + message[len(prefix):]
        raise SpecError(message) from None
