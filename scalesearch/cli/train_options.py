"""Training options shared by the commands that run proxy trainings (`train`, `grid`)."""

from __future__ import annotations

import argparse

from scalesearch.cli.numbers import (BATCH_SIZE, EPOCHS, IMAGES, LABEL_SMOOTHING, LR, SEED, WEIGHT_DECAY,
                                     bounded_float, bounded_int, in_range)
from scalesearch.train import TrainConfig
from scalesearch.training.device import resolve_device
from scalesearch.training.optimizers import PRESETS

_DEFAULTS = TrainConfig()


def add_training_arguments(parser: argparse.ArgumentParser, *, default_epochs: float | None = None) -> None:
    """Add the proxy-training options to `parser`; `default_epochs` overrides the trainer's default."""
    group = parser.add_argument_group("proxy training")
    epochs = _DEFAULTS.epochs if default_epochs is None else default_epochs
    group.add_argument("--epochs", type=bounded_float(*EPOCHS, low_open=True), default=epochs,
                       help=f"training budget in epochs, fractional allowed, {in_range(EPOCHS, low_open=True)} "
                            f"(default {epochs:g})")
    group.add_argument("--images", type=bounded_int(*IMAGES),
                       help=f"training budget in images seen, {in_range(IMAGES)}; overrides --epochs")
    group.add_argument("--batch-size", type=bounded_int(*BATCH_SIZE), default=_DEFAULTS.batch_size,
                       help=f"{in_range(BATCH_SIZE)}, at most the training images (default {_DEFAULTS.batch_size})")
    group.add_argument("--optimizer", choices=sorted(PRESETS), default=_DEFAULTS.optimizer,
                       help=f"optimizer preset (default {_DEFAULTS.optimizer})")
    group.add_argument("--lr", type=bounded_float(*LR, low_open=True),
                       help=f"learning rate {in_range(LR, low_open=True)} (default: the preset's, scaled with "
                            f"batch size)")
    group.add_argument("--weight-decay", type=bounded_float(*WEIGHT_DECAY),
                       help=f"weight decay {in_range(WEIGHT_DECAY)} (default: the preset's)")
    group.add_argument("--label-smoothing", type=bounded_float(*LABEL_SMOOTHING, high_open=True),
                       default=_DEFAULTS.label_smoothing,
                       help=f"{in_range(LABEL_SMOOTHING, high_open=True)} (default: {_show(_DEFAULTS.label_smoothing)})")
    group.add_argument("--seed", type=bounded_int(*SEED), default=_DEFAULTS.seed,
                       help=f"{in_range(SEED)}; sets the initial weights and the data order (default {_DEFAULTS.seed})")
    group.add_argument("--device", default=_DEFAULTS.device, help="auto, cpu, cuda or cuda:N (default auto)")
    group.add_argument("--compile", action="store_true", help="torch.compile the model")
    group.add_argument("--augment", dest="augment", action="store_const", const=True, default=_DEFAULTS.augment,
                       help=f"random crop and flip (default: {_show(_DEFAULTS.augment).lower()})")
    group.add_argument("--no-augment", dest="augment", action="store_const", const=False, help="no random crop or flip")
    group.add_argument("--balanced-batches", dest="balanced_batches", action="store_const", const=True,
                       default=_DEFAULTS.balanced_batches,
                       help="spread every class evenly over each batch (default: the preset's; on for short)")
    group.add_argument("--no-balanced-batches", dest="balanced_batches", action="store_const", const=False,
                       help="plain random shuffle of each epoch")
    group.add_argument("--evaluate-every-epoch", action="store_const", const=True, default=None,
                       help="score the held-out split after every epoch (default: always for `train`; in a study "
                            "only when it prunes or calibrates, else after the last epoch only)")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def _show(default: object) -> str:
    return "the preset's" if default is None else f"{default:g}" if isinstance(default, float) else str(default)


def training_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that arguments added by `add_training_arguments` describe (its device checked:
    UserError for a malformed one or CUDA without a GPU)."""
    resolve_device(args.device)
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
        balanced_batches=args.balanced_batches,
        evaluate_every_epoch=args.evaluate_every_epoch,
        progress=not args.quiet,
    )
