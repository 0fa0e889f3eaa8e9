"""`scalesearch train`: one proxy training of a (scaled) model, with its metrics."""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from scalesearch.baselines import build_checked, resolve_baseline
from scalesearch.cli.data_options import add_data_arguments, dataset_from_args
from scalesearch.cli.model_commands import add_model_argument, add_scaling_arguments, multipliers_from_args
from scalesearch.cli.numbers import PROXY_RESOLUTION, bounded_int, in_range
from scalesearch.cli.output import add_output_arguments, emit
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.train import train_proxy
from scalesearch.training.config import check_config

DEFAULT_PROXY_RESOLUTION = 32


def _train(args: argparse.Namespace) -> int:
    # Everything a user can get wrong is checked before training: names, numbers, device, data, budget, model.
    baseline = resolve_baseline(args.model, args.resolution)
    multipliers = multipliers_from_args(args)
    proxy_resolution = baseline.resolution_for(multipliers, args.proxy_resolution)
    config = training_config(args)
    data = dataset_from_args(args)
    check_config(config, proxy_resolution, len(data.train_labels))
    # As in `grid`: the initial weights come from the seed alone, so one seed gives one result.
    torch.manual_seed(config.seed)
    model = build_checked(baseline, multipliers, data.num_classes, proxy_resolution)
    result = train_proxy(model, data, proxy_resolution, config)
    row = {"model": baseline.name, "d": multipliers.depth, "w": multipliers.width, "r": multipliers.resolution,
           "resolution": proxy_resolution, "data": data.name, "train images": len(data.train_labels),
           "status": result.status, "top1": result.top1, "top5": result.top5,
           "images/s": result.images_per_second, "wall s": result.wall_seconds,
           "epochs": result.epochs_completed, "seed": config.seed}
    emit(pd.DataFrame([row]), args, formats={"top1": ".4f", "top5": ".4f", "images/s": ".0f", "wall s": ".1f",
                                            "d": ".3f", "w": ".3f", "r": ".3f"})
    if result.message:
        print(result.message)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `train` to the `scalesearch` parser."""
    parser = commands.add_parser("train", help="one proxy training of a (scaled) model",
                                 description="Train a model, optionally scaled, for a short budget and print "
                                             "its held-out accuracy, throughput and wall time.")
    add_model_argument(parser)
    add_scaling_arguments(parser)
    parser.add_argument("--proxy-resolution", type=bounded_int(*PROXY_RESOLUTION), default=DEFAULT_PROXY_RESOLUTION,
                        help=f"training resolution in px before scaling by r, {in_range(PROXY_RESOLUTION)}, at "
                             f"least the model's total stride (default {DEFAULT_PROXY_RESOLUTION})")
    add_data_arguments(parser)
    add_training_arguments(parser)
    add_output_arguments(parser)
    parser.set_defaults(func=_train)
