"""`scalesearch train`: one proxy training of a (scaled) model, with its metrics."""

from __future__ import annotations

import argparse

import pandas as pd

from scalesearch.baselines import resolve_baseline
from scalesearch.cli.data_options import add_data_arguments, dataset_from_args
from scalesearch.cli.model_commands import add_model_argument, add_scaling_arguments, multipliers_from_args
from scalesearch.cli.output import add_output_arguments, emit
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.train import train_proxy

DEFAULT_PROXY_RESOLUTION = 32


def _train(args: argparse.Namespace) -> int:
    baseline = resolve_baseline(args.model, args.resolution)
    multipliers = multipliers_from_args(args)
    proxy_resolution = baseline.resolution_for(multipliers, args.proxy_resolution)
    data = dataset_from_args(args)
    config = training_config(args)
    model = baseline.build(multipliers, data.num_classes)
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
    parser.add_argument("--proxy-resolution", type=int, default=DEFAULT_PROXY_RESOLUTION,
                        help=f"training resolution before scaling by r (default {DEFAULT_PROXY_RESOLUTION})")
    add_data_arguments(parser)
    add_training_arguments(parser)
    add_output_arguments(parser)
    parser.set_defaults(func=_train)
