"""`scalesearch grid`: search the compound coefficients (α, β, γ) of a baseline at φ."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from scalesearch.cli.data_options import add_data_arguments, data_config
from scalesearch.cli.numbers import PHI, RESOLUTION, bounded_float, bounded_int, in_range
from scalesearch.cli.ranking_output import report_ranking
from scalesearch.cli.noise_options import add_noise_from_argument, with_calibrated_noise
from scalesearch.cli.study_options import (add_proxy_resolution_argument, add_run_arguments, create_and_work,
                                          add_seed_arguments, seeds_from_args)
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.grid import COEFFICIENT_MAX, STEP_RANGE, GridSpace, grid_study
from scalesearch.objective import EXPONENT_RANGE, SOFT_EXPONENT, TARGET_MACS_RANGE
from scalesearch.runner import prepare
from scalesearch.screening import promoted_count
from scalesearch.study import stored_config
from scalesearch.study_config import MAX_PRUNE_EPOCH, PRUNERS, Pruning, StudyConfig

# The demo defaults: chosen so that `make demo` searches the default grid in under 10 minutes on
# a 2-core CPU, with every candidate learning (benchmarks/recipe_choice.md).
DEFAULT_TRAIN_IMAGES = 3000
DEFAULT_TEST_IMAGES = 2000  # the embedded test split whole: half the sampling variance of 1,000 (recipe_choice.md)
DEFAULT_EPOCHS = 4.0  # against 3: +0.010 top-1 on every one of the demo's 18 (network, seed) runs, lowest 0.8165
# instead of 0.7985; the demo takes 5 min 56 s instead of 5 min 13 s (benchmarks/budget_choice.py; README, "Four epochs")
DEFAULT_PROXY_RESOLUTION = 32
DEFAULT_PRUNE = "none"
# From `calibrate`'s runs of the demo (README, calibrate): inside their 4-epoch runs τ against the last
# epoch is 0.0, 1.0, 0.8 at epochs 1, 2, 3 (balanced batches; a plain shuffle: 0.0, 0.2, 0.6); whole runs
# of 1 and 2 epochs rank like 4 at τ = 0.2 and 0.8 (plain: -0.4 and 0.8).
DEFAULT_PRUNE_FROM = 3  # sha and hyperband: the first rung with τ >= 0.5 inside the 4-epoch runs of both
DEFAULT_SCREEN_EPOCHS = 2  # screen: the smallest whole-run budget with τ >= 0.7
DEFAULT_ALPHA_RANGE = (1.0, 1.3)  # 10 candidates; the full grid of the best-known public example,
DEFAULT_BETA_RANGE = (1.0, 1.15)  # α in 1..2 and β, γ in 1..1.5, has 109
DEFAULT_GAMMA_RANGE = (1.0, 1.15)


def _range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}") from None
    return low, high


def _study_name(args: argparse.Namespace) -> str:
    stem = Path(args.baseline).stem if args.baseline.endswith(".json") else args.baseline
    return args.study or f"grid-{re.sub(r'[^A-Za-z0-9._-]', '-', stem)}-phi{args.phi:g}"


def grid_config_from_args(args: argparse.Namespace, say: Callable[[str], None] = lambda line: None) -> StudyConfig:
    """The StudyConfig the arguments describe (everything validated, nothing written).

    With --noise-from, the seed noise a calibration stored for the same settings replaces the
    noise probe's extra seeds; a calibration of other settings is named and not used.
    """
    space = GridSpace(args.alpha_range, args.beta_range, args.gamma_range, args.step, args.product, args.tol)
    seeds = seeds_from_args(args)
    config = grid_study(args.baseline, phi=args.phi, space=space, target_macs=args.target_macs, w=args.w,
                        hard=args.hard, data=data_config(args), training=training_config(args), seeds=seeds,
                        proxy_resolution=args.proxy_resolution, resolution=args.resolution,
                        pruning=Pruning(args.prune, _prune_from(args)), noise_seeds=args.noise_seeds)
    return config if args.noise_from is None else with_calibrated_noise(config, Path(args.noise_from), say)


def _prune_from(args: argparse.Namespace) -> int:
    """--prune-from, or the pruner's measured default when it is not given."""
    if args.prune_from is not None:
        return args.prune_from
    return DEFAULT_SCREEN_EPOCHS if args.prune == "screen" else DEFAULT_PRUNE_FROM


def _grid(args: argparse.Namespace) -> int:
    name = _study_name(args)
    say = (lambda *a: None) if args.quiet else partial(print, file=sys.stderr)
    config = grid_config_from_args(args, partial(print, file=sys.stderr))  # where the noise comes from, always
    prepared = prepare(config)
    total = dict(config.settings)["grid_points"]
    say(f"grid: {total} points, {len(config.points)} with |α·β²·γ² − {args.product:g}| <= {args.tol:g}, "
        f"{len(prepared.plans)} distinct networks; T = {config.scoring.target_macs:,.0f} MACs; "
        f"{_trainings(config, len(prepared.plans))}")
    done = create_and_work(args, name, prepared, say)
    if done is not None:  # the study's own configuration: a resumed study keeps the screen noise it stores
        report_ranking(done.study, stored_config(done.study), done.run_dir, args.top, baseline_argument=args.baseline)
    return 0


def _trainings(config: StudyConfig, networks: int) -> str:
    """What the grid will train, for its head line."""
    measures = config.probe_measures_noise
    probe = f"{len(config.probe_seeds)} seeds of the noise probe" if measures else "the noise known"
    if config.pruning.method == "screen":
        also = " and the noise probe" if measures else ""
        return (f"{networks} screening runs of {config.pruning.min_epoch} epoch(s), then the best "
                f"{promoted_count(networks)}{also} to {config.training.epochs:g} epochs ({probe})")
    trainings = networks * len(config.seeds) + len(config.probe_seeds) - len(config.seeds)
    return f"{trainings} proxy trainings ({probe})"


def register(commands: argparse._SubParsersAction) -> None:
    """Add `grid` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "grid", help="search the compound coefficients α, β, γ (the paper's step 1)",
        description="Grid-search α, β, γ under α·β²·γ² ≈ 2: each candidate is the baseline scaled at φ, "
                    "costed with fvcore, proxy-trained, and scored by ACC·(MACs/T)^w. Candidates that build the "
                    "same network are trained once. Results live in an Optuna study (runs/STUDY/study.db); "
                    "rerunning the same command resumes it.")
    parser.add_argument("--baseline", default="efficientnet-b0",
                        help="zoo name, spec .json, or module:function factory (default efficientnet-b0)")
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION),
                        help=f"nominal base resolution {in_range(RESOLUTION)} (default: the baseline's; 224 for a "
                             f"factory)")
    parser.add_argument("--phi", type=bounded_float(0.0, PHI[1], low_open=True), default=1.0,
                        help=f"compound coefficient of the search, in (0, {PHI[1]:g}] (default 1)")
    grid = parser.add_argument_group("grid")
    for name, default in (("alpha", DEFAULT_ALPHA_RANGE), ("beta", DEFAULT_BETA_RANGE), ("gamma", DEFAULT_GAMMA_RANGE)):
        grid.add_argument(f"--{name}-range", type=_range, default=default, metavar="LOW,HIGH",
                          help=f"range of {name}, within [1, {COEFFICIENT_MAX:g}] (default {default[0]:g},"
                               f"{default[1]:g}; the full grid: 1,{2 if name == 'alpha' else 1.5:g})")
    grid.add_argument("--step", type=bounded_float(*STEP_RANGE), default=0.05,
                      help=f"grid step {in_range(STEP_RANGE)} (default 0.05)")
    grid.add_argument("--product", type=bounded_float(1.0, 64.0, low_open=True), default=2.0,
                      help="target α·β²·γ², in (1, 64] (default 2)")
    grid.add_argument("--tol", type=bounded_float(0.0, 64.0), default=0.1,
                      help="keep |α·β²·γ² − product| <= tol, in [0, 64] (default 0.1)")
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument("--target-macs", type=bounded_float(*TARGET_MACS_RANGE),
                         help=f"T of the reward, {in_range(TARGET_MACS_RANGE)} (default product^φ × baseline MACs)")
    scoring.add_argument("--w", type=bounded_float(*EXPONENT_RANGE), default=SOFT_EXPONENT,
                         help=f"reward exponent {in_range(EXPONENT_RANGE)} (default {SOFT_EXPONENT})")
    scoring.add_argument("--hard", action="store_true", help="hard constraint: w=0 within T, -1 beyond")
    add_seed_arguments(scoring, probe="the paper's point, else the first candidate")
    scoring.add_argument("--prune", choices=PRUNERS, default=DEFAULT_PRUNE,
                         help=f"stop weak networks early: sha or hyperband on each training's per-epoch accuracy; "
                              f"screen: every network first trains a short run of --prune-from epochs, and the best "
                              f"third trains the full budget (default {DEFAULT_PRUNE}; README, Pruning)")
    scoring.add_argument("--prune-from", type=bounded_int(1, MAX_PRUNE_EPOCH),
                         help=f"first epoch at which sha or hyperband may stop a network (default {DEFAULT_PRUNE_FROM}: "
                              f"τ = 0.8 against the last epoch inside `calibrate`'s 4-epoch runs, 0.6 with a plain "
                              f"shuffle), or the screening run's epochs (default {DEFAULT_SCREEN_EPOCHS}: `calibrate`'s {DEFAULT_SCREEN_EPOCHS}-epoch "
                              f"runs rank like its 4-epoch runs, τ = 0.8, its 1-epoch runs do not); README, Pruning")
    add_noise_from_argument(scoring)
    add_proxy_resolution_argument(scoring, DEFAULT_PROXY_RESOLUTION)
    add_run_arguments(parser, default_study="grid-BASELINE-phiPHI")
    add_data_arguments(parser)
    add_training_arguments(parser, default_epochs=DEFAULT_EPOCHS)
    parser.set_defaults(func=_grid, train_images=DEFAULT_TRAIN_IMAGES, test_images=DEFAULT_TEST_IMAGES)
