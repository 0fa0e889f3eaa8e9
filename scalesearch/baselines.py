"""A baseline to scale: a zoo name, a spec JSON file, or a user's factory `module:function`.

A factory has the signature `function(depth_mult: float, width_mult: float, num_classes: int)
-> nn.Module`; its base resolution is given separately. Everything downstream uses the
`Baseline` interface and treats both kinds the same way.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from scalesearch.cost import Cost, count_cost, spec_cost
from scalesearch.errors import UserError
from scalesearch.nn import build
from scalesearch.scaling import Multipliers, scale_resolution, scale_spec
from scalesearch.spec import MAX_CLASSES, MAX_RESOLUTION, NetworkSpec, check_size
from scalesearch.zoo import ZOO, get_spec

Factory = Callable[..., nn.Module]


class Baseline:
    """A network that can be scaled by (d, w, r), built, and costed."""

    name: str
    resolution: int
    min_resolution: int = 1

    def build(self, multipliers: Multipliers, num_classes: int) -> nn.Module:
        raise NotImplementedError

    def cost(self, multipliers: Multipliers, resolution: int | None = None, num_classes: int = 1000,
             include_elementwise: bool = False) -> Cost:
        """Cost of the scaled network at `resolution` (default: the scaled nominal resolution)."""
        raise NotImplementedError

    def resolution_for(self, multipliers: Multipliers, base: int | None = None) -> int:
        """The scaled input resolution from `base` (default: the baseline's nominal one)."""
        resolution = scale_resolution(self.resolution if base is None else base, multipliers.resolution)
        if resolution < self.min_resolution:
            raise UserError(f"resolution {resolution} is smaller than {self.min_resolution}, half of {self.name}'s "
                            f"total stride (its last stages would see less than one pixel); use a larger resolution")
        return resolution


@dataclass(frozen=True)
class SpecBaseline(Baseline):
    spec: NetworkSpec

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.spec.name

    @property
    def resolution(self) -> int:  # type: ignore[override]
        return self.spec.resolution

    @property
    def min_resolution(self) -> int:  # type: ignore[override]
        """Half the total stride: the last stride-2 layer still sees one pixel (padding does the rest)."""
        return max(1, self.spec.total_stride // 2)

    def scaled(self, multipliers: Multipliers, num_classes: int | None = None) -> NetworkSpec:
        spec = scale_spec(self.spec, multipliers)
        return spec if num_classes is None else spec.with_classes(num_classes)

    def build(self, multipliers: Multipliers, num_classes: int) -> nn.Module:
        return build(self.scaled(multipliers, num_classes))

    def cost(self, multipliers: Multipliers, resolution: int | None = None, num_classes: int = 1000,
             include_elementwise: bool = False) -> Cost:
        spec = self.scaled(multipliers, num_classes)
        resolution = resolution or self.resolution_for(multipliers)
        check_size(spec, resolution)  # refuse before a MemoryError or an hour of counting
        return spec_cost(spec, resolution, include_elementwise)


@dataclass(frozen=True)
class FactoryBaseline(Baseline):
    path: str
    factory: Factory
    resolution: int = 224  # type: ignore[misc]

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.path

    def build(self, multipliers: Multipliers, num_classes: int) -> nn.Module:
        try:
            model = self.factory(depth_mult=multipliers.depth, width_mult=multipliers.width, num_classes=num_classes)
        except Exception as exc:  # a user's code can fail in any way; name the factory and the error
            raise UserError(f"factory {self.path} failed for d={multipliers.depth:g}, w={multipliers.width:g}, "
                            f"{num_classes} classes: {one_line(exc)}") from None
        if not isinstance(model, nn.Module):
            raise UserError(f"factory {self.path} returned {type(model).__name__}, not a torch.nn.Module")
        return model

    def cost(self, multipliers: Multipliers, resolution: int | None = None, num_classes: int = 1000,
             include_elementwise: bool = False) -> Cost:
        return _factory_cost(self, multipliers.depth, multipliers.width, num_classes,
                             resolution or self.resolution_for(multipliers), include_elementwise)


@lru_cache(maxsize=512)
def _factory_cost(baseline: FactoryBaseline, depth: float, width: float, num_classes: int, resolution: int,
                  include_elementwise: bool) -> Cost:
    model = baseline.build(Multipliers(depth, width), num_classes)
    if not any(True for _ in model.parameters()):
        raise UserError(f"the model of factory {baseline.path} has no parameters")
    try:
        return count_cost(model, resolution, include_elementwise=include_elementwise)
    except Exception as exc:
        raise UserError(f"counting the model of factory {baseline.path} on a {resolution}x{resolution} image "
                        f"failed: {one_line(exc)}") from None


def one_line(exc: BaseException) -> str:
    """'TypeError: message', on one line and not endless (torch's errors can span many)."""
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text if len(text) <= 300 else text[:297] + '...'}"


def build_checked(baseline: Baseline, multipliers: Multipliers, num_classes: int, resolution: int) -> nn.Module:
    """The scaled model, after a 2-image forward pass at `resolution` (CPU, eval mode, no gradients) gave
    logits of shape (2, num_classes). UserError naming the model and the problem otherwise.

    The forward pass draws no random numbers, so the model's weights are those `baseline.build`
    gives after the caller's seeding.
    """
    if not (isinstance(num_classes, int) and 1 <= num_classes <= MAX_CLASSES):
        raise UserError(f"the number of classes must be in [1, {MAX_CLASSES}], got {num_classes!r}")
    if not (isinstance(resolution, int) and 1 <= resolution <= MAX_RESOLUTION):
        raise UserError(f"resolution must be in [1, {MAX_RESOLUTION}] px, got {resolution!r}")
    if isinstance(baseline, SpecBaseline):
        check_size(baseline.scaled(multipliers, num_classes), resolution)
    model = baseline.build(multipliers, num_classes)
    what = f"factory {baseline.name}" if isinstance(baseline, FactoryBaseline) else baseline.name
    parameter = next(model.parameters(), None)
    if parameter is None:
        raise UserError(f"the model of {what} has no parameters")
    images = torch.zeros(2, 3, resolution, resolution, dtype=parameter.dtype, device=parameter.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(images)
    except Exception as exc:
        raise UserError(f"the model of {what} failed on 2 images of {resolution}x{resolution} px: "
                        f"{one_line(exc)}") from None
    finally:
        model.train(was_training)
    shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
    if shape != (2, num_classes):
        got = f"shape {shape}" if shape is not None else f"a {type(output).__name__}, not a tensor"
        raise UserError(f"the model of {what} gave {got} for 2 images of {resolution}x{resolution} px; "
                        f"expected (2, {num_classes}): one logit per class")
    return model


def check_scaled(baseline: Baseline, multipliers: Multipliers, resolution: int | None = None,
                 num_classes: int = 1000) -> int:
    """The scaled resolution (`resolution` if given), after the cheap checks: UserError if it is below the
    stride or above MAX_RESOLUTION, or if the scaled spec is out of bounds; nothing is built or counted."""
    resolution = resolution or baseline.resolution_for(multipliers)
    if isinstance(baseline, SpecBaseline):
        check_size(baseline.scaled(multipliers, num_classes), resolution)
    return resolution


def check_model(baseline: Baseline, multipliers: Multipliers, num_classes: int, resolution: int) -> None:
    """UserError unless the scaled model builds and maps 2 images of `resolution` px to (2, num_classes)
    logits (CPU, eval mode). Draws from torch's global generator: seed after calling it."""
    build_checked(baseline, multipliers, num_classes, resolution)


def load_factory(path: str) -> Factory:
    """Import `module:function` and check that it can be called as a factory."""
    module_name, _, function_name = path.partition(":")
    if not module_name or not function_name:
        raise UserError(f"factory must be written module:function, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an import can fail in any way; the user must see which
        raise UserError(f"cannot import factory module {module_name!r}: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise UserError(f"module {module_name!r} has no callable {function_name!r}")
    try:
        inspect.signature(factory).bind(depth_mult=1.0, width_mult=1.0, num_classes=10)
    except TypeError:
        raise UserError(f"factory {path} must accept (depth_mult, width_mult, num_classes)") from None
    return factory


def portable_baseline(text: str) -> str:
    """`text` as a study stores it: a spec file becomes the spec's JSON, so that a worker on another
    machine needs no copy of the file; zoo names and factories stay as they are."""
    if text not in ZOO and not text.lstrip().startswith("{") and (text.endswith(".json") or Path(text).is_file()):
        return NetworkSpec.load(text).to_json(indent=None)
    return text


def baseline_name(text: str) -> str:
    """A short name for `text` in titles: the spec's name for inline JSON, else `text` itself."""
    return NetworkSpec.from_json(text).name if text.lstrip().startswith("{") else text


def resolve_baseline(text: str, resolution: int | None = None) -> Baseline:
    """A zoo name, a path to a spec JSON file, a spec's JSON itself, or `module:function`."""
    if resolution is not None and not 8 <= resolution <= MAX_RESOLUTION:
        raise UserError(f"resolution must be an integer in [8, {MAX_RESOLUTION}], got {resolution}")
    if text in ZOO:
        spec = get_spec(text)
    elif text.lstrip().startswith("{"):
        spec = NetworkSpec.from_json(text)
    elif text.endswith(".json") or Path(text).is_file():
        spec = NetworkSpec.load(text)
    elif ":" in text:
        return FactoryBaseline(text, load_factory(text), resolution or 224)
    else:
        spec = get_spec(text)  # raises the unknown-model error with the list of names
    if resolution is not None:
        spec = NetworkSpec.from_dict({**spec.to_dict(), "resolution": resolution})
    return SpecBaseline(spec)
