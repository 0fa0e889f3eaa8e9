"""`scalesearch grid`: search the compound coefficients (α, β, γ) of a baseline at φ."""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import optuna
import pandas as pd

from scalesearch import plots
from scalesearch.baselines import Baseline, resolve_baseline
from scalesearch.cli.data_options import add_data_arguments, dataset_from_args
from scalesearch.cli.output import finite_number
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.errors import UserError
from scalesearch.grid import Candidate, GridSpace, Scoring, candidate_grid
from scalesearch.objective import SOFT_EXPONENT
from scalesearch.results import RANKING_COLUMNS, rank_candidates
from scalesearch.scaling import Multipliers, check_phi
from scalesearch.search import PRUNERS, SearchJob, grid_sampler, make_pruner, run_search
from scalesearch.study import default_storage_url, open_storage, open_study, trials_table

# The demo defaults: chosen so that `make demo` searches the full default grid in under 10
# minutes on a 2-core CPU (see the README for what they trade away).
DEFAULT_TRAIN_IMAGES = 3000
DEFAULT_TEST_IMAGES = 1000
DEFAULT_EPOCHS = 3.0
DEFAULT_PROXY_RESOLUTION = 32
DEFAULT_ALPHA_RANGE = (1.0, 1.3)  # 10 candidates; the full grid of the best-known public example,
DEFAULT_BETA_RANGE = (1.0, 1.15)  # α in 1..2 and β, γ in 1..1.5, has 109
DEFAULT_GAMMA_RANGE = (1.0, 1.15)


def _range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}") from None
    return low, high


def _space(args: argparse.Namespace) -> GridSpace:
    return GridSpace(args.alpha_range, args.beta_range, args.gamma_range, args.step, args.product, args.tol)


def _study_name(args: argparse.Namespace) -> str:
    return args.study or f"grid-{Path(args.baseline).stem.replace(':', '-')}-phi{args.phi:g}"


def _scoring(args: argparse.Namespace, baseline: Baseline) -> Scoring:
    phi = check_phi(args.phi)
    if phi <= 0:
        raise UserError(f"phi must be > 0 for the grid search (the paper uses 1), got {phi:g}")
    target = args.target_macs or args.product**phi * baseline.cost(Multipliers()).macs
    if not (math.isfinite(target) and target > 0):
        raise UserError(f"--target-macs must be a positive number, got {target}")
    return Scoring(phi, float(target), args.w, args.hard)


def _settings(args: argparse.Namespace, baseline: Baseline, scoring: Scoring, data_name: str) -> dict:
    """What defines a study's results: a rerun must match these to continue it."""
    config = asdict(training_config(args))
    for volatile in ("progress", "device", "compile", "eval_batch_size"):
        config.pop(volatile)
    return {"baseline": baseline.name, "baseline_resolution": baseline.resolution, "data": data_name,
            "train_images": args.train_images, "test_images": args.test_images,
            "space": asdict(_space(args)), "scoring": asdict(scoring), "training": config,
            "seeds": args.seeds, "proxy_resolution": args.proxy_resolution, "prune": args.prune}


def open_grid_job(args: argparse.Namespace, storage_url: str) -> tuple[optuna.Study, SearchJob]:
    """Load the baseline, data and study (picklable entry point for worker processes)."""
    baseline = resolve_baseline(args.baseline, args.resolution)
    candidates, _ = candidate_grid(_space(args))
    scoring = _scoring(args, baseline)
    data = dataset_from_args(args)
    config = replace(training_config(args), progress=False)
    job = SearchJob(baseline, data, tuple(candidates), scoring, config,
                    tuple(range(args.seed, args.seed + args.seeds)), args.proxy_resolution, args.prune != "none")
    study = open_study(_study_name(args), open_storage(storage_url), _settings(args, baseline, scoring, data.name),
                       sampler=grid_sampler(job), pruner=make_pruner(args.prune, math.ceil(config.epochs)))
    return study, job


def _validate(args: argparse.Namespace) -> tuple[list[Candidate], int, Baseline, Scoring]:
    """Check everything a user can get wrong before anything is written."""
    if args.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {args.seeds}")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    baseline = resolve_baseline(args.baseline, args.resolution)
    scoring = _scoring(args, baseline)
    candidates, total = candidate_grid(_space(args))
    baseline.resolution_for(Multipliers(), args.proxy_resolution)  # too small for the stride?
    baseline.build(Multipliers(), 10)  # a factory that returns no nn.Module fails here
    return candidates, total, baseline, scoring


def _grid(args: argparse.Namespace) -> int:
    candidates, total, baseline, scoring = _validate(args)
    quiet = args.quiet
    say = (lambda *a: None) if quiet else partial(print, file=sys.stderr)
    say(f"grid: {total} points, {len(candidates)} with |α·β²·γ² − {args.product:g}| <= {args.tol:g}; "
        f"T = {scoring.target_macs:,.0f} MACs; {len(candidates) * args.seeds} proxy trainings")
    run_dir = Path(args.runs_dir) / _study_name(args)
    created = _first_missing(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    storage_url = args.storage or default_storage_url(run_dir)
    try:
        study, job = open_grid_job(args, storage_url)
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    study = run_search(study, job, partial(open_grid_job, args, storage_url), args.workers, args.max_trials,
                       not quiet)
    table = rank_candidates(trials_table(study))
    _write_outputs(table, run_dir, baseline, args)
    _print_summary(table, args, baseline, run_dir, len(candidates))
    return 0


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (removed again if the study won't open)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    return missing[-1] if missing else None


def _write_outputs(table: pd.DataFrame, run_dir: Path, baseline: Baseline, args: argparse.Namespace) -> None:
    if table.empty:
        return
    table.to_csv(run_dir / "results.csv", index=False)
    figures = run_dir / "figures"
    figures.mkdir(exist_ok=True)
    title = f"{baseline.name}, φ={args.phi:g}"
    plots.accuracy_vs_macs(table, figures / "accuracy_vs_macs.png", title)
    plots.objective_plane(table, figures / "objective_alpha_beta.png", title)


def _print_summary(table: pd.DataFrame, args: argparse.Namespace, baseline: Baseline, run_dir: Path,
                   n_candidates: int) -> None:
    if table.empty:
        print("no candidate evaluated yet")
        return
    shown = table[RANKING_COLUMNS].head(args.top).rename(columns={"alpha": "α", "beta": "β", "gamma": "γ",
                                                                 "macs": "MACs", "macs_ratio": "MACs/T",
                                                                 "accuracy_std": "± std", "tied_with_best": "≈best"})
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\n{len(table)} of {n_candidates} candidates evaluated; results: {run_dir / 'results.csv'}; "
          f"figures: {run_dir / 'figures'}")
    best = table.iloc[0]
    if best["state"] != "complete":
        return
    print(f"best: α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g} "
          f"(accuracy {best['accuracy']:.4f}, objective {best['objective']:.4f})")
    print(f"scale it: scalesearch scale {args.baseline} --alpha {best['alpha']:g} --beta {best['beta']:g} "
          f"--gamma {best['gamma']:g} --phi 0..7")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `grid` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "grid", help="search the compound coefficients α, β, γ (the paper's step 1)",
        description="Grid-search α, β, γ under α·β²·γ² ≈ 2: each candidate is the baseline scaled at φ, "
                    "costed with fvcore, proxy-trained, and scored by ACC·(MACs/T)^w. Results live in an "
                    "Optuna study (runs/STUDY/study.db); rerunning the same command resumes it.")
    parser.add_argument("--baseline", default="efficientnet-b0",
                        help="zoo name, spec .json, or module:function factory (default efficientnet-b0)")
    parser.add_argument("--resolution", type=int, help="nominal base resolution (default: the baseline's; "
                                                       "224 for a factory)")
    parser.add_argument("--phi", type=finite_number, default=1.0, help="compound coefficient of the search (default 1)")
    grid = parser.add_argument_group("grid")
    for name, default in (("alpha", DEFAULT_ALPHA_RANGE), ("beta", DEFAULT_BETA_RANGE), ("gamma", DEFAULT_GAMMA_RANGE)):
        grid.add_argument(f"--{name}-range", type=_range, default=default, metavar="LOW,HIGH",
                          help=f"range of {name} (default {default[0]:g},{default[1]:g}; the full grid: 1,"
                               f"{2 if name == 'alpha' else 1.5:g})")
    grid.add_argument("--step", type=finite_number, default=0.05, help="grid step (default 0.05)")
    grid.add_argument("--product", type=finite_number, default=2.0, help="target α·β²·γ² (default 2)")
    grid.add_argument("--tol", type=finite_number, default=0.1, help="keep |α·β²·γ² − product| <= tol (default 0.1)")
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument("--target-macs", type=finite_number, help="T of the reward (default product^φ × baseline MACs)")
    scoring.add_argument("--w", type=finite_number, default=SOFT_EXPONENT, help="reward exponent (default -0.07)")
    scoring.add_argument("--hard", action="store_true", help="hard constraint: w=0 within T, -1 beyond")
    scoring.add_argument("--seeds", type=int, default=1, help="proxy trainings per candidate (default 1)")
    scoring.add_argument("--prune", choices=PRUNERS, default="sha",
                         help="prune weak candidates after each epoch (default sha: successive halving)")
    scoring.add_argument("--proxy-resolution", type=int, default=DEFAULT_PROXY_RESOLUTION,
                         help=f"base training resolution, scaled by r (default {DEFAULT_PROXY_RESOLUTION})")
    run = parser.add_argument_group("run")
    run.add_argument("--study", help="study name (default grid-BASELINE-phiPHI)")
    run.add_argument("--runs-dir", default="runs", help="where runs/STUDY/ lives (default runs)")
    run.add_argument("--storage", help="Optuna storage URL (default sqlite:///runs/STUDY/study.db); "
                                       "postgresql://... to share one search between machines")
    run.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    run.add_argument("--max-trials", type=int, help="stop after this many new trials (resume later)")
    run.add_argument("--top", type=int, default=10, help="rows of the ranking to print (default 10)")
    add_data_arguments(parser)
    add_training_arguments(parser, default_epochs=DEFAULT_EPOCHS)
    parser.set_defaults(func=_grid, train_images=DEFAULT_TRAIN_IMAGES, test_images=DEFAULT_TEST_IMAGES)
