"""Training options shared by the commands that run proxy trainings (`train`, `grid`)."""

from __future__ import annotations

import argparse

from scalesearch.train import TrainConfig
from scalesearch.training.optimizers import PRESETS

_DEFAULTS = TrainConfig()


def add_training_arguments(parser: argparse.ArgumentParser, *, default_epochs: float | None = None) -> None:
    """Add the proxy-training options to `parser`; `default_epochs` overrides the trainer's default."""
    group = parser.add_argument_group("proxy training")
    epochs = _DEFAULTS.epochs if default_epochs is None else default_epochs
    group.add_argument("--epochs", type=float, default=epochs,
                       help=f"training budget in epochs, fractional allowed (default {epochs:g})")
    group.add_argument("--images", type=int, help="training budget in images seen; overrides --epochs")
    group.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size, help=f"(default {_DEFAULTS.batch_size})")
    group.add_argument("--optimizer", choices=sorted(PRESETS), default=_DEFAULTS.optimizer,
                       help=f"optimizer preset (default {_DEFAULTS.optimizer})")
    group.add_argument("--lr", type=float, help="learning rate (default: the preset's, scaled with batch size)")
    group.add_argument("--weight-decay", type=float, help="weight decay (default: the preset's)")
    group.add_argument("--label-smoothing", type=float, default=_DEFAULTS.label_smoothing,
                       help=f"(default {_DEFAULTS.label_smoothing:g})")
    group.add_argument("--seed", type=int, default=_DEFAULTS.seed, help=f"(default {_DEFAULTS.seed})")
    group.add_argument("--device", default=_DEFAULTS.device, help="auto, cpu, cuda or cuda:N (default auto)")
    group.add_argument("--compile", action="store_true", help="torch.compile the model")
    group.add_argument("--no-augment", dest="augment", action="store_false", help="no random crop or flip")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def training_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that arguments added by `add_training_arguments` describe."""
    return TrainConfig(
        epochs=args.epochs,
        images=args.images,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        seed=args.seed,
        device=args.device,
        compile=args.compile,
        augment=args.augment,
        progress=not args.quiet,
    )
