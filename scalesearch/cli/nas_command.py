"""`scalesearch nas`: search a baseline in MnasNet's space with Optuna's samplers, and write best.json."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

from scalesearch import nas
from scalesearch.cli.data_options import add_data_arguments, data_config
from scalesearch.cli.grid_command import (DEFAULT_EPOCHS, DEFAULT_PROXY_RESOLUTION, DEFAULT_PRUNE, DEFAULT_PRUNE_FROM,
                                          DEFAULT_TEST_IMAGES, DEFAULT_TRAIN_IMAGES)
from scalesearch.cli.numbers import bounded_float, bounded_int, in_range
from scalesearch.cli.study_options import (add_proxy_resolution_argument, add_run_arguments, create_and_work,
                                          add_seed_arguments, seeds_from_args)
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.errors import UserError
from scalesearch.nas_report import FIGURE, architecture_line, best_noise, outcome, shown, write_best
from scalesearch.nas_space import SpaceLists
from scalesearch.objective import EXPONENT_RANGE, SOFT_EXPONENT, TARGET_MACS_RANGE
from scalesearch.report import write_report
from scalesearch.results import NO_RESULTS
from scalesearch.runner import prepare
from scalesearch.study_config import MAX_PRUNE_EPOCH, TRIAL_PRUNERS, Pruning


def _study_name(args: argparse.Namespace) -> str:
    stem = Path(args.skeleton).stem if args.skeleton.endswith(".json") else args.skeleton
    return args.study or f"nas-{re.sub(r'[^A-Za-z0-9._-]', '-', stem)}-{args.sampler}"


def nas_config_from_args(args: argparse.Namespace):  # noqa: ANN201 - StudyConfig
    """The StudyConfig the arguments describe (everything validated, nothing written)."""
    lists = SpaceLists.load(args.space) if args.space else SpaceLists()
    return nas.nas_study(args.skeleton, lists=lists, sampler=args.sampler, target_macs=args.target_macs, w=args.w,
                         hard=args.hard, data=data_config(args), training=training_config(args),
                         seeds=seeds_from_args(args),
                         proxy_resolution=args.proxy_resolution, pruning=Pruning(args.prune, args.prune_from),
                         noise_seeds=args.noise_seeds)


def _nas(args: argparse.Namespace) -> int:
    if args.no_work:
        raise UserError("a search samples its trials as it goes: there is nothing to queue with --no-work; run the "
                        "same command (with --storage) on every machine that should work on it")
    name = _study_name(args)
    config = nas_config_from_args(args)
    prepared = prepare(config)
    say = (lambda *a: None) if args.quiet else partial(print, file=sys.stderr)
    settings = dict(config.settings)
    say(f"nas: {settings['space_size']:.3g} architectures over the skeleton {args.skeleton}; {args.trials} trials "
        f"with {args.sampler}; T = {config.scoring.target_macs:,.0f} MACs; study {name}")
    done = create_and_work(args, name, replace(prepared, plans=()), say, directions=nas.directions(args.sampler),
                           here=partial(nas.search, target=args.trials),
                           joined=partial(nas.join_search, target=args.trials))
    if done is not None:
        _report(done.study, config, done.run_dir, args.top)
    return 0


def _report(study, config, run_dir: Path, top: int) -> None:  # noqa: ANN001 - optuna.Study, StudyConfig
    """Print the best architectures, write best.json and report.md."""
    found = outcome(study, config)
    if not found.results:
        print(NO_RESULTS)
        return
    heading = "Pareto front (accuracy, MACs)" if dict(config.settings)["sampler"] == "nsga2" else "best by reward"
    print(f"{heading}; {found.ranking.noise_line()}")
    spread = found.ranking.spread_line()
    if spread:
        print(spread)
    for result in shown(found, config, top):
        print(architecture_line(found, result, config))
    best = write_best(found, run_dir)
    if best is None:
        print("no network trained to the end (all pruned or diverged): no best.json")
    else:
        print(f"best: {best_noise(found, config)} -> {best}; scale it: scalesearch grid --baseline {best}")
    print(f"report: {write_report(study, run_dir)}; figure: {run_dir / FIGURE}")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `nas` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "nas", help="search a baseline in MnasNet's space with Optuna (the paper's step 0)",
        description="Architecture search over MnasNet's factorized hierarchical space on a 7-stage skeleton: "
                    "per stage operator (conv, dsconv, mbconv1/3/6), kernel, SE, skip, channels and repeats. "
                    "Each sample is proxy-trained and scored by ACC·(MACs/T)^w (TPE, random) or by accuracy and "
                    "MACs (NSGA-II). Samples that build the same network are trained once. Writes "
                    "runs/STUDY/best.json, which `scalesearch grid --baseline` scales; rerunning resumes.")
    parser.add_argument("--trials", type=bounded_int(1, nas.MAX_TRIALS), required=True,
                        help=f"finished trials the study should hold, in [1, {nas.MAX_TRIALS}]")
    parser.add_argument("--skeleton", default="efficientnet-b0",
                        help="zoo name or spec .json with conv/dsconv/mbconv stages (default efficientnet-b0)")
    parser.add_argument("--space", metavar="FILE.toml",
                        help="choice lists (operators, kernels, se, skip, channels, repeats; default MnasNet's)")
    parser.add_argument("--sampler", choices=nas.SAMPLERS, default="tpe",
                        help="tpe on the reward, nsga2 on (accuracy, MACs), random as the control (default tpe)")
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument("--target-macs", type=bounded_float(*TARGET_MACS_RANGE), default=nas.DEFAULT_TARGET_MACS,
                         help=f"T of the reward at the skeleton's resolution, {in_range(TARGET_MACS_RANGE)} "
                              f"(default {nas.DEFAULT_TARGET_MACS:g})")
    scoring.add_argument("--w", type=bounded_float(*EXPONENT_RANGE), default=SOFT_EXPONENT,
                         help=f"reward exponent {in_range(EXPONENT_RANGE)} (default {SOFT_EXPONENT})")
    scoring.add_argument("--hard", action="store_true", help="hard constraint: w=0 within T, -1 beyond")
    add_seed_arguments(scoring, probe="trial 0, the skeleton")
    scoring.add_argument("--prune", choices=TRIAL_PRUNERS, default=DEFAULT_PRUNE,
                         help=f"stop weak samples on their per-epoch accuracy; tpe and random only (default "
                              f"{DEFAULT_PRUNE})")
    scoring.add_argument("--prune-from", type=bounded_int(1, MAX_PRUNE_EPOCH), default=DEFAULT_PRUNE_FROM,
                         help=f"first epoch at which the pruner may stop a sample (default {DEFAULT_PRUNE_FROM})")
    add_proxy_resolution_argument(scoring, DEFAULT_PROXY_RESOLUTION)
    add_run_arguments(parser, default_study="nas-SKELETON-SAMPLER", sampled=True)
    add_data_arguments(parser)
    add_training_arguments(parser, default_epochs=DEFAULT_EPOCHS)
    parser.set_defaults(func=_nas, train_images=DEFAULT_TRAIN_IMAGES, test_images=DEFAULT_TEST_IMAGES)
