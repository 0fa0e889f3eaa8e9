"""The proxy trainer: a short, seeded training run scored by held-out accuracy after each epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from scalesearch.data import ImageDataset
from scalesearch.nn import zero_init_residual
from scalesearch.training.batches import DeviceBatches
from scalesearch.training.config import TrainConfig, TrainResult, check_config
from scalesearch.training.cpu_convolutions import fast_cpu_convolutions
from scalesearch.training.device import resolve_device
from scalesearch.training.evaluate import evaluate, recalibrate_batchnorm
from scalesearch.training.layout import choose_layout
from scalesearch.training.optimizers import Preset, build_optimizer, get_preset

__all__ = ["TrainConfig", "TrainResult", "train_proxy"]

_LOG_EVERY = 10  # steps between loss checks (each one waits for the device)


def train_proxy(
    model: nn.Module,
    data: ImageDataset,
    resolution: int,
    config: TrainConfig = TrainConfig(),
    on_epoch: Callable[[int, float], bool] | None = None,
) -> TrainResult:
    """Train `model` in place on `data` at `resolution` px and score it on the held-out split.

    After each epoch (0-based index; the last one only when `config.evaluate_every_epoch` is False)
    the top-1 accuracy goes to `on_epoch`; a True answer stops the run as "pruned". A non-finite
    loss stops it as "diverged".
    Activations that autograd would copy in place run out of place (`out_of_place_activations`).
    Regularisation (augmentation, label smoothing, the model's dropout and drop-path), zero-init
    and the batches' class balance follow `config`, or the optimizer preset where `config` leaves
    them None.
    """
    started = time.perf_counter()
    budget = check_config(config, resolution, len(data.train_labels))
    preset = get_preset(config.optimizer)
    device = resolve_device(config.device)
    memory_format, amp, _ = choose_layout(device, resolution, config.channels_last, config.amp)
    config = resolve_preset_defaults(config, preset)
    torch.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    calibration = torch.Generator(device=device).manual_seed(config.seed + 1_000_003)
    if not config.model_dropout:
        disable_dropout(model)
    if config.zero_init_residual:
        zero_init_residual(model)
    out_of_place_activations(model)
    model.to(device=device, memory_format=memory_format)
    optimizer, scheduler = build_optimizer(model, preset, config, budget)
    fast_convolutions = (config.fast_cpu_convolutions and device.type == "cpu" and not config.compile
                         and memory_format == torch.channels_last and not amp)  # where the paths can apply
    step = _step_function(model, optimizer, scheduler, config, device.type, amp, fast_convolutions)
    batches = DeviceBatches(data, resolution, device, generator, bool(config.augment), memory_format,
                            bool(config.balanced_batches))
    with_top5 = data.num_classes >= 10

    history: list[float] = []
    top1, top5 = 0.0, None
    status, message = "ok", ""
    steps_done, train_seconds = 0, 0.0
    bar = tqdm(total=budget.total_steps * config.batch_size, unit="img", disable=not config.progress, leave=False)
    epochs = budget.epoch_lengths()
    try:
        for epoch, steps in enumerate(epochs):
            model.train()
            epoch_start = time.perf_counter()
            steps_run, loss = _train_epoch(step, batches.train_batches(steps, config.batch_size), bar)
            train_seconds += time.perf_counter() - epoch_start
            steps_done += steps_run
            if not math.isfinite(loss):
                status, message = "diverged", f"loss became {loss} by step {steps_done} (epoch {epoch})"
                top1, top5 = 0.0, (0.0 if with_top5 else None)
                break
            if config.evaluate_every_epoch is False and epoch + 1 < len(epochs):
                continue
            with fast_cpu_convolutions(fast_convolutions):
                if config.bn_recalibration_batches:
                    recalibrate_batchnorm(
                        model, batches, config.bn_recalibration_batches, config.batch_size, calibration)
                top1, top5 = evaluate(model, batches, config.eval_batch_size, amp, with_top5)
            history.append(top1)
            if on_epoch is not None and on_epoch(epoch, top1):
                status, message = "pruned", f"pruned after epoch {epoch} at top-1 {top1:.4f}"
                break
    finally:
        bar.close()
    return TrainResult(
        status=status,
        top1=top1,
        top5=top5,
        images_per_second=steps_done * config.batch_size / max(train_seconds, 1e-9),
        wall_seconds=time.perf_counter() - started,
        epochs_completed=steps_done / budget.steps_per_epoch,
        history=tuple(history),
        message=message,
    )


def resolve_preset_defaults(config: TrainConfig, preset: Preset) -> TrainConfig:
    """`config` with `label_smoothing`, `augment`, `model_dropout`, `zero_init_residual` and
    `balanced_batches` of None replaced by the preset's."""
    return replace(
        config,
        label_smoothing=preset.label_smoothing if config.label_smoothing is None else config.label_smoothing,
        augment=preset.augment if config.augment is None else config.augment,
        model_dropout=preset.model_dropout if config.model_dropout is None else config.model_dropout,
        zero_init_residual=(preset.zero_init_residual if config.zero_init_residual is None
                            else config.zero_init_residual),
        balanced_batches=preset.balanced_batches if config.balanced_batches is None else config.balanced_batches,
    )


def disable_dropout(model: nn.Module) -> int:
    """Set every dropout and stochastic-depth rate in `model` to 0 (in place); returns how many were set.

    Covers torch's dropout layers, scalesearch's DropPath (`rate`) and torchvision's StochasticDepth (`p`).
    """
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = 0.0
        elif type(module).__name__ in ("DropPath", "StochasticDepth"):
            setattr(module, "rate" if hasattr(module, "rate") else "p", 0.0)
        else:
            continue
        count += 1
    return count


_CLONED_WHEN_IN_PLACE = (nn.SiLU, nn.Hardswish, nn.Mish)
"""Activations whose backward needs their input: in place, autograd first copies that input."""


def out_of_place_activations(model: nn.Module) -> int:
    """Set `inplace=False` on every SiLU, Hardswish and Mish of `model`; returns how many were changed.

    In place, autograd clones each such activation's input to keep it for the backward pass (49
    copies a step in B0); out of place, the input is kept as it is. The results are bitwise the same.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, _CLONED_WHEN_IN_PLACE) and module.inplace:
            module.inplace = False
            count += 1
    return count


def _step_function(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    device_type: str,
    amp: bool,
    fast_convolutions: bool,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """One optimizer step on a batch, returning the (detached, fp32) loss; the model compiled if asked,
    small convolutions on the CPU's faster exact paths if `fast_convolutions`."""
    forward = torch.compile(model) if config.compile else model

    def step(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with fast_cpu_convolutions(fast_convolutions), torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(forward(images), labels, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss.detach().float()

    return step


def _train_epoch(
    step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    bar: tqdm,
) -> tuple[int, float]:
    """(steps run, mean loss of the last few steps); stops early once that loss is not finite.

    Losses are read back every `_LOG_EVERY` steps only, so the device is rarely waited for.
    """
    losses: list[torch.Tensor] = []
    count, loss = 0, math.nan
    for count, (images, labels) in enumerate(batches, 1):
        losses.append(step(images, labels))
        if len(losses) == _LOG_EVERY:
            loss = _read_losses(losses, len(labels), bar)
            if not math.isfinite(loss):
                break
    if losses:
        loss = _read_losses(losses, len(labels), bar)
    return count, loss


def _read_losses(losses: list[torch.Tensor], batch_size: int, bar: tqdm) -> float:
    """Mean of `losses` (emptied), shown on the progress bar with the images they cover."""
    loss = torch.stack(losses).mean().item()
    bar.update(len(losses) * batch_size)
    bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
    losses.clear()
    return loss
