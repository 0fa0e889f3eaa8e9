"""Optimizer presets: the optimizer, its learning-rate schedule and BN momentum for a run.

"short" is the default measured for runs of a few epochs (benchmarks/optimizer_choice.md):
SGD with Nesterov momentum, linear warmup then cosine to zero, and BN momentum 0.1 so the
running statistics settle within a few hundred steps; it trains without augmentation, label
smoothing, dropout or stochastic depth, zero-initialises the last BN of each residual
branch (benchmarks/recipe_choice.md: a few hundred steps are too few for regularisation to
pay, and zero-init is what lets EfficientNet-B0 learn in the first epoch) and spreads every
class evenly over each batch, at 0.1 per 256 images after one epoch of warmup
(TrainConfig.warmup_epochs). "paper" follows EfficientNet's
recipe: RMSProp (decay 0.9, momentum 0.9, eps 1e-3), BN momentum 0.99 (torch: 0.01), weight
decay 1e-5, lr 0.016 per 256 images, warmup then exponential decay 0.97 every 2.4 epochs, with
that decay compressed so the short run ends at the learning rate the paper's 350 epochs end at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from scalesearch.errors import UserError
from scalesearch.training.config import Budget, TrainConfig

_PAPER_EPOCHS = 350.0


@dataclass(frozen=True)
class Preset:
    """Defaults of an optimizer recipe; `decay(progress)` scales the lr after warmup, progress in [0, 1]."""

    lr_per_256: float
    weight_decay: float
    make: Callable[[list[dict], float, float], torch.optim.Optimizer]
    decay: Callable[[float], float]
    bn_momentum: float | None = None
    label_smoothing: float = 0.1
    """Label smoothing when TrainConfig.label_smoothing is None."""
    augment: bool = True
    """Random crop (and flip, where the data allows it) when TrainConfig.augment is None."""
    model_dropout: bool = True
    """Keep the model's dropout and drop-path rates when TrainConfig.model_dropout is None."""
    zero_init_residual: bool = False
    """Zero-initialise the last BN of residual branches when TrainConfig.zero_init_residual is None."""
    balanced_batches: bool = False
    """Spread every class evenly over each epoch's batches when TrainConfig.balanced_batches is None."""


_FUSED_SGD_DEVICES = ("cpu", "cuda")


def sgd_nesterov(groups: list[dict], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum 0.9; torch's fused kernel where the parameters' device has one.

    Fused, the step over B0's parameters took 2.7 ms instead of 10.2 on one CPU thread
    (benchmarks/cpu_convolutions.md).
    """
    fused = all(p.device.type in _FUSED_SGD_DEVICES for group in groups for p in group["params"])
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay, fused=fused)


def rmsprop(groups: list[dict], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The paper's RMSProp: decay 0.9, momentum 0.9, eps 1e-3 (torch adds eps outside the square root)."""
    return torch.optim.RMSprop(groups, lr=lr, alpha=0.9, momentum=0.9, eps=1e-3, weight_decay=weight_decay)


def cosine(progress: float) -> float:
    """Half-cosine from 1 to 0."""
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def paper_decay(progress: float) -> float:
    """0.97 every 2.4 epochs, over the run as if it were the paper's 350 epochs."""
    return 0.97 ** (progress * _PAPER_EPOCHS / 2.4)


PRESETS: dict[str, Preset] = {
    "short": Preset(lr_per_256=0.1, weight_decay=5e-5, make=sgd_nesterov, decay=cosine, bn_momentum=0.1,
                    label_smoothing=0.0, augment=False, model_dropout=False, zero_init_residual=True,
                    balanced_batches=True),
    "paper": Preset(lr_per_256=0.016, weight_decay=1e-5, make=rmsprop, decay=paper_decay, bn_momentum=0.01),
}


def get_preset(name: str) -> Preset:
    """The preset called `name`; UserError if there is none."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown optimizer {name!r}; choose from {', '.join(PRESETS)}") from None


def build_optimizer(
    model: nn.Module, preset: Preset, config: TrainConfig, budget: Budget
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Optimizer and per-step scheduler for `model` (its BN momentum is set when the preset has one).

    `config.lr` and `config.weight_decay` override the preset's. Weight decay skips biases and
    normalisation parameters (tensors with fewer than 2 dimensions).
    """
    lr = preset.lr_per_256 * config.batch_size / 256 if config.lr is None else config.lr
    weight_decay = preset.weight_decay if config.weight_decay is None else config.weight_decay
    if preset.bn_momentum is not None:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = preset.bn_momentum
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = preset.make([g for g in groups if g["params"]], lr, weight_decay)
    schedule = _schedule(preset.decay, budget.warmup_steps, budget.total_steps)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def _schedule(decay: Callable[[float], float], warmup: int, total: int) -> Callable[[int], float]:
    """Linear warmup over `warmup` steps, then `decay` over the remaining steps."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return decay((step - warmup) / max(1, total - warmup))

    return factor
