"""`scalesearch calibrate`: does a proxy budget rank networks like a longer one, and how noisy is it?"""

from __future__ import annotations

import argparse
import re
import sys
from functools import partial
from pathlib import Path

import optuna

from scalesearch.calibrate import (DEFAULT_LADDER, DEFAULT_PHIS, DEFAULT_SEEDS, DEFAULT_SINGLE, MAX_BUDGETS, MAX_PHIS,
                                   Calibration, analyse_study, calibrate_study, store_calibration)
from scalesearch.calibrate_report import (AGREEMENT_HEADERS, FIDELITY_HEADERS, FIGURES, NO_RESULTS, agreement_title,
                                          first_rung_line, recommendation_line, single_evaluation_line, trained_line)
from scalesearch.cli.data_options import add_data_arguments, data_config
from scalesearch.cli.grid_command import DEFAULT_PROXY_RESOLUTION, DEFAULT_TEST_IMAGES, DEFAULT_TRAIN_IMAGES
from scalesearch.cli.numbers import EPOCHS, PHI, RESOLUTION, bounded_int, in_range, number_list
from scalesearch.cli.study_options import (add_proxy_resolution_argument, add_run_arguments, create_and_work,
                                          seeds_from_args)
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.errors import UserError
from scalesearch.matching import DIMENSIONS
from scalesearch.report import write_report
from scalesearch.runner import prepare
from scalesearch.study_config import MAX_SEEDS, StudyConfig

# argparse takes "-2,-1,0,1" for an option unless it looks like a negative number: let a list of numbers look so.
_NUMBER_LIST = re.compile(r"^-\d*\.?\d+([eE][-+]?\d+)?(,-?\d*\.?\d+([eE][-+]?\d+)?)*$")


def _dimensions(text: str) -> tuple[str, ...]:
    if text == "none":
        return ()
    names = tuple(part.strip() for part in text.split(","))
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"expected 'none' or some of {','.join(DIMENSIONS)}, got {text!r}")
    return names


def _refused(message: str):  # noqa: ANN202
    """argparse type for a shared flag that calibrate does not take: every value is refused with `message`."""

    def parse(_text: str) -> None:
        raise argparse.ArgumentTypeError(message)

    return parse


def _study_name(args: argparse.Namespace) -> str:
    stem = Path(args.baseline).stem if args.baseline.endswith(".json") else args.baseline
    return args.study or f"calibrate-{re.sub(r'[^A-Za-z0-9._-]', '-', stem)}"


def calibrate_config_from_args(args: argparse.Namespace, say=lambda *a: None) -> StudyConfig:  # noqa: ANN001
    """The StudyConfig the arguments describe (everything validated, nothing written)."""
    seeds = seeds_from_args(args)
    config = calibrate_study(args.baseline, phis=args.phis, single=args.single, ladder=args.ladder, seeds=seeds,
                             data=data_config(args), training=training_config(args),
                             proxy_resolution=args.proxy_resolution, resolution=args.resolution,
                             say=lambda line: say(f"calibrate: {line}"))
    return config


def _calibrate(args: argparse.Namespace) -> int:
    say = (lambda *a: None) if args.quiet else partial(print, file=sys.stderr)
    name = _study_name(args)
    config = calibrate_config_from_args(args, say)
    prepared = prepare(config)
    budgets = dict(config.settings)["ladder"]
    networks = len(prepared.plans) // len(budgets)
    epochs = networks * len(config.seeds) * sum(budgets)
    say(f"calibrate: {networks} distinct networks × {len(budgets)} budgets ({', '.join(f'{b:g}' for b in budgets)} "
        f"epochs) × {len(config.seeds)} seeds = {len(prepared.plans) * len(config.seeds)} proxy trainings, "
        f"{epochs:g} epochs of {len(prepared.data.train_labels)} images in all")
    mismatch = dict(config.settings)["mismatch"]
    for plan in prepared.plans[:networks]:
        names = [str(p["network"]) for p in plan.points]
        off = "".join(f" ({mismatch[name]:+.1%} from φ = 1's)" for name in names[:1] if name in mismatch)
        say(f"  {' = '.join(names)}: d={plan.multipliers.depth:g} w={plan.multipliers.width:g} "
            f"r={plan.multipliers.resolution:g}, {plan.macs:,} MACs{off} at {plan.resolution} px, trained at "
            f"{plan.proxy_resolution} px")
    done = create_and_work(args, name, prepared, say)
    if done is not None:
        report_calibration(done.study, config, done.run_dir, store=done.writable)
    return 0


def report_calibration(study: optuna.Study, config: StudyConfig, run_dir: Path, store: bool = True) -> Calibration:
    """Print the fidelity table, the recommendation and the rung agreement; store σ in the study (unless
    `store` is False: a read-only storage); write the CSVs, the figure and report.md."""
    calibration = analyse_study(study)
    if calibration.table.empty:
        print(NO_RESULTS)
        return calibration
    print(format_table(calibration.table, FIDELITY_HEADERS))
    print(f"\n{trained_line(study, config)}")
    print(recommendation_line(calibration))
    print(single_evaluation_line(calibration) or
          f"\n{agreement_title(calibration)}:\n{format_table(calibration.agreement, AGREEMENT_HEADERS)}\n"
          f"{first_rung_line(calibration)}")
    if store:
        store_calibration(study, calibration, config)
    _write(calibration, study, run_dir, store)
    return calibration


def format_table(table, headers: dict[str, str]) -> str:  # noqa: ANN001
    shown = table.rename(columns=headers)
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="n/a")


def _write(calibration: Calibration, study: optuna.Study, run_dir: Path, stored: bool) -> None:
    try:
        calibration.table.to_csv(run_dir / "calibration.csv", index=False)
        calibration.runs.to_csv(run_dir / "calibration_runs.csv", index=False)
    except OSError as exc:
        raise UserError(f"cannot write results to {run_dir}: {exc.strerror or exc}") from None
    report = write_report(study, run_dir)
    png, svg = FIGURES
    where = "stored in the study (user attribute 'calibration')" if stored else "not stored: the storage is read-only"
    print(f"calibration: {run_dir / 'calibration.csv'} (per training: calibration_runs.csv); figure: {run_dir / png}, "
          f"{svg.name}; σ per budget {where}")
    print(f"report: {report}")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `calibrate` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "calibrate", help="measure whether a proxy budget ranks networks like a longer one",
        conflict_handler="resolve",
        description="Train a spread set of networks (the baseline at compound φ, plus depth-, width- and "
                    "resolution-only scaling at the MACs of φ = 1) at a ladder of epoch budgets with K seeds each; "
                    "report per budget the Kendall τ and Spearman ρ of the mean accuracies against the largest "
                    "budget, the seed noise σ, the spread between networks and the time per training; recommend "
                    "the smallest budget with τ ≥ 0.7 and the first pruning rung with τ ≥ 0.5. Results live in "
                    "an Optuna study (runs/STUDY/study.db); rerunning the same command resumes it.")
    parser._negative_number_matcher = _NUMBER_LIST  # "--phis -2,-1,0,1" is a value, not an option
    parser.add_argument("--baseline", default="efficientnet-b0",
                        help="zoo name, spec .json, or module:function factory (default efficientnet-b0)")
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION),
                        help=f"nominal base resolution {in_range(RESOLUTION)} (default: the baseline's; 224 for a "
                             f"factory)")
    spread = parser.add_argument_group("spread set and ladder")
    spread.add_argument("--phis", type=number_list(PHI, MAX_PHIS), metavar="PHI,...",
                        help=f"compound φ of the spread set (α, β, γ = 1.2, 1.1, 1.15), each {in_range(PHI)} "
                             f"(default {','.join(f'{p:g}' for p in DEFAULT_PHIS)}, leaving out those that would "
                             f"train below half the baseline's total stride)")
    spread.add_argument("--single", type=_dimensions, default=DEFAULT_SINGLE, metavar="DIMS",
                        help="single-dimension networks at the MACs of φ = 1: some of depth,width,resolution, or "
                             "none (default depth,width,resolution)")
    spread.add_argument("--ladder", type=number_list(EPOCHS, MAX_BUDGETS, low_open=True), default=DEFAULT_LADDER,
                        metavar="EPOCHS,...",
                        help=f"training budgets in epochs, strictly increasing, each {in_range(EPOCHS, low_open=True)}"
                             f" (default {','.join(f'{b:g}' for b in DEFAULT_LADDER)})")
    spread.add_argument("--seeds", type=bounded_int(1, MAX_SEEDS), default=DEFAULT_SEEDS,
                        help=f"trainings per network and budget, from --seed on, at least 2 (σ needs 2), at most "
                             f"{MAX_SEEDS} (default {DEFAULT_SEEDS})")
    add_proxy_resolution_argument(spread, DEFAULT_PROXY_RESOLUTION)
    add_run_arguments(parser, default_study="calibrate-BASELINE", top=False)
    add_data_arguments(parser)
    add_training_arguments(parser)
    for flag, message in (("--epochs", "calibrate trains at the budgets of --ladder; give those instead"),
                          ("--images", "calibrate trains at the budgets of --ladder; give those instead"),
                          ("--top", "calibrate prints every budget; --top is for the grid's ranking")):
        parser.add_argument(flag, type=_refused(message), help=argparse.SUPPRESS)
    parser.set_defaults(func=_calibrate, train_images=DEFAULT_TRAIN_IMAGES, test_images=DEFAULT_TEST_IMAGES,
                        epochs=DEFAULT_LADDER[-1], images=None)
