"""`scalesearch report`: write report.md for any study, reading only its storage (nothing is trained)."""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna

from scalesearch.cli.study_options import open_for_reading, pick_study, run_dir_storage_url, run_folder, study_name
from scalesearch.errors import UserError
from scalesearch.report import write_report


def _report(args: argparse.Namespace) -> int:
    url, out = _source(args)
    storage = open_for_reading(url)
    name = pick_study(storage, url, args.study)
    study = optuna.load_study(study_name=name, storage=storage)
    with run_folder(out or Path("runs") / name) as folder:
        path = write_report(study, folder)
    print(path)
    return 0


def _source(args: argparse.Namespace) -> tuple[str, Path | None]:
    """(storage URL, output folder; None: runs/STUDY) from RUN_DIR or --storage."""
    if (args.run_dir is None) == (args.storage is None):
        given = "both" if args.run_dir is not None else "neither"
        raise UserError(f"give a run folder (scalesearch report RUN_DIR) or a storage (--study NAME --storage URL); "
                        f"{given} given")
    if args.storage is not None:
        return args.storage, args.out
    if args.out is not None:
        raise UserError("--out goes with --storage; the report of RUN_DIR is written into RUN_DIR")
    run_dir = Path(args.run_dir)
    return run_dir_storage_url(run_dir), run_dir


def register(commands: argparse._SubParsersAction) -> None:
    """Add `report` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "report", help="write report.md for a study from its storage alone",
        description="Write report.md (settings, results, figures and the command that reproduces the run) for a "
                    "study of any kind (grid, calibrate, ablation, nas), reading only its storage: nothing is trained, "
                    "and the same storage always gives the same report. Prints the report's path.")
    parser.add_argument("run_dir", nargs="?", metavar="RUN_DIR",
                        help="a run folder with its study.db (runs/STUDY); the report is written into it")
    parser.add_argument("--study", type=study_name,
                        help="study name (needed when the storage holds several)")
    parser.add_argument("--storage", help="Optuna storage URL instead of RUN_DIR: sqlite:///PATH or "
                                          "postgresql://USER@HOST/DB")
    parser.add_argument("--out", type=Path, help="with --storage: the folder of the report (default runs/STUDY)")
    parser.set_defaults(func=_report)
