"""What a proxy training run is asked to do (TrainConfig), what it reports (TrainResult), and its step budget."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.errors import UserError


# Bounds of every number a run takes (low, high); the CLI's flags use the same.
EPOCHS = (0.0, 1000.0)  # low excluded: a run trains at least one step
IMAGES = (1, 1_000_000_000)
BATCH_SIZE = (1, 65_536)
LR = (0.0, 10.0)  # low excluded
WEIGHT_DECAY = (0.0, 1.0)
LABEL_SMOOTHING = (0.0, 1.0)  # high excluded
SEED = (0, 2**32 - 1)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one short proxy training run.

    The budget is `epochs` (fractional allowed: the last epoch is partial), or `images`
    (training images seen) when that is set. `lr`, `weight_decay`, `label_smoothing`,
    `augment`, `model_dropout`, `zero_init_residual` and `balanced_batches` of None take the
    optimizer preset's defaults (the "short" preset turns regularisation off, zero-initialises
    residual branches and balances the classes of each batch, the "paper" preset does none of
    these; benchmarks/recipe_choice.md);
    `channels_last` and `amp` of None take the measured choice for the device and resolution
    (scalesearch/training/layout.py).
    """

    epochs: float = 3.0
    images: int | None = None
    batch_size: int = 64
    optimizer: str = "short"
    lr: float | None = None
    weight_decay: float | None = None
    label_smoothing: float | None = None
    warmup_epochs: float = 1.0
    """Linear warmup of the learning rate, capped at half the run (one epoch: benchmarks/recipe_choice.md)."""
    augment: bool | None = None
    seed: int = 0
    device: str = "auto"
    compile: bool = False
    channels_last: bool | None = None
    amp: bool | None = None
    progress: bool = True
    eval_batch_size: int = 256
    model_dropout: bool | None = None
    """Keep the model's own dropout and stochastic-depth (drop-path) rates; False sets them to 0
    on the model for this run (in place). None: the preset's choice."""
    evaluate_every_epoch: bool | None = None
    """Score the held-out split after every epoch (for `on_epoch`: pruning, rung agreement); False
    scores after the last epoch only, saving an evaluation per earlier epoch. None: every epoch,
    except in a study that neither prunes nor calibrates (StudyConfig.needs_epoch_accuracy)."""
    bn_recalibration_batches: int = 0
    """Before each evaluation, re-estimate the BatchNorm running statistics from this many
    un-augmented training batches (cumulative average, drawn with a generator seeded by `seed`
    so the training batches are unchanged); 0 keeps the running statistics of training."""
    fast_cpu_convolutions: bool = True
    """On the CPU in channels_last fp32 (without --compile), run small pointwise and depthwise
    convolutions and global average pools by the faster exact paths of
    scalesearch/training/cpu_convolutions.py; False keeps torch's own everywhere."""
    zero_init_residual: bool | None = None
    """Before training, zero the weight (gamma) of the last BatchNorm of every residual branch
    with a shortcut (scalesearch.nn.ResidualBlock), so each such block starts as its shortcut;
    for models trained from scratch. None: the preset's choice (on for "short", off for "paper")."""
    balanced_batches: bool | None = None
    """Order each epoch so that every class is spread evenly over the batches
    (scalesearch.training.batches.balanced_order) instead of a plain shuffle. None: the preset's
    choice (on for "short", off for "paper"; benchmarks/recipe_choice.md)."""


@dataclass(frozen=True)
class TrainResult:
    """Outcome of a proxy training run; `top1`/`top5` are held-out accuracies in [0, 1].

    `status` is "ok", "diverged" (non-finite loss; accuracies are then 0.0) or "pruned"
    (`on_epoch` asked to stop). `top5` is None for fewer than 10 classes.
    """

    status: str
    top1: float
    top5: float | None
    images_per_second: float
    wall_seconds: float
    epochs_completed: float
    history: tuple[float, ...]
    message: str = ""


@dataclass(frozen=True)
class Budget:
    """Optimizer steps of a run: whole epochs of `steps_per_epoch`, the last one possibly partial."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int

    def epoch_lengths(self) -> list[int]:
        """Steps of each epoch, in order; an evaluation follows each."""
        full, rest = divmod(self.total_steps, self.steps_per_epoch)
        return [self.steps_per_epoch] * full + ([rest] if rest else [])


def check_config(config: TrainConfig, resolution: int, train_size: int) -> Budget:
    """The step budget of a run of `config` at `resolution` px; UserError for settings no run can use.

    Every number is bounded on both sides (the CLI's flags use the same bounds).
    """
    if resolution < 1:
        raise UserError(f"resolution must be at least 1 px, got {resolution}")
    if not 1 <= config.eval_batch_size <= BATCH_SIZE[1]:
        raise UserError(f"eval batch size must be in [1, {BATCH_SIZE[1]}], got {config.eval_batch_size}")
    if not (math.isfinite(config.epochs) and EPOCHS[0] < config.epochs <= EPOCHS[1]):
        raise UserError(f"the epoch budget must be in (0, {EPOCHS[1]:g}], got {config.epochs}")
    if config.images is not None and not IMAGES[0] <= config.images <= IMAGES[1]:
        raise UserError(f"the image budget must be in [1, {IMAGES[1]:,}], got {config.images}")
    if not BATCH_SIZE[0] <= config.batch_size <= BATCH_SIZE[1]:
        raise UserError(f"batch size must be in [1, {BATCH_SIZE[1]}], got {config.batch_size}")
    if not SEED[0] <= config.seed <= SEED[1]:
        raise UserError(f"seed must be in [0, {SEED[1]}], got {config.seed}")
    if config.lr is not None and config.lr > LR[1]:
        raise UserError(f"learning rate must be at most {LR[1]:g}, got {config.lr}")
    if config.weight_decay is not None and config.weight_decay > WEIGHT_DECAY[1]:
        raise UserError(f"weight decay must be at most {WEIGHT_DECAY[1]:g}, got {config.weight_decay}")
    if config.label_smoothing is not None and not 0.0 <= config.label_smoothing < 1.0:
        raise UserError(f"label smoothing must be in [0, 1), got {config.label_smoothing}")
    if config.bn_recalibration_batches < 0:
        raise UserError(f"BN recalibration batches must not be negative, got {config.bn_recalibration_batches}")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise UserError(f"learning rate must be positive, got {config.lr}")
    if config.weight_decay is not None and not (math.isfinite(config.weight_decay) and config.weight_decay >= 0):
        raise UserError(f"weight decay must not be negative, got {config.weight_decay}")
    return plan_budget(config, train_size)


def plan_budget(config: TrainConfig, train_size: int) -> Budget:
    """The step budget of `config` on `train_size` training images (incomplete batches are dropped).

    Warmup is capped at half the run. Raises UserError for an impossible budget or batch size.
    """
    if config.batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {config.batch_size}")
    if config.batch_size > train_size:
        raise UserError(f"batch size {config.batch_size} is larger than the {train_size} training images")
    if config.images is not None:
        if config.images < 1:
            raise UserError(f"the image budget must be positive, got {config.images}")
        wanted = config.images / config.batch_size
    else:
        if not (math.isfinite(config.epochs) and config.epochs > 0):
            raise UserError(f"the epoch budget must be positive, got {config.epochs}")
        wanted = config.epochs * (train_size // config.batch_size)
    if config.warmup_epochs < 0:
        raise UserError(f"warmup epochs must not be negative, got {config.warmup_epochs}")
    steps_per_epoch = train_size // config.batch_size
    total = max(1, round(wanted))
    warmup = min(round(config.warmup_epochs * steps_per_epoch), total // 2)
    return Budget(steps_per_epoch=steps_per_epoch, total_steps=total, warmup_steps=warmup)
