"""`scalesearch report`: write report.md for any study, reading only its storage (nothing is trained)."""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna
from optuna.storages import RDBStorage

from scalesearch.cli.study_options import run_folder, study_name
from scalesearch.errors import UserError
from scalesearch.report import write_report
from scalesearch.storage import check_url, default_storage_url, first_line, open_read_only, redact, sqlite_path


def _report(args: argparse.Namespace) -> int:
    url, out = _source(args)
    storage = _open(url)
    name = _pick_study(storage, url, args.study)
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
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    if not (run_dir / "study.db").is_file():
        raise UserError(f"no study in {run_dir} (it has no study.db)")
    return default_storage_url(run_dir), run_dir


def _open(url: str) -> RDBStorage:
    """The storage, opened without writing to it (SQLite read-only)."""
    if check_url(url) == "sqlite":
        if not sqlite_path(url).is_file():
            raise UserError(f"no study in {redact(url)} (no such file)")
        try:
            return open_read_only(url)
        except UserError:
            raise UserError(f"no study in {redact(url)} (it is not a readable Optuna storage)") from None
    try:
        return RDBStorage(url, skip_compatibility_check=True, skip_table_creation=True)
    except Exception as exc:  # SQLAlchemy and drivers raise many kinds; the user needs the reason
        raise UserError(f"cannot read storage {redact(url)}: {first_line(exc)}") from None


def _pick_study(storage: RDBStorage, url: str, wanted: str | None) -> str:
    """The study `wanted`, or the storage's only study; UserError naming the studies there otherwise."""
    try:
        names = sorted(optuna.get_all_study_names(storage))
    except Exception as exc:  # a file that is not a study storage, or a server that refuses
        raise UserError(f"no study in {redact(url)} ({first_line(exc)})") from None
    if not names:
        raise UserError(f"no study in {redact(url)}")
    if wanted is None and len(names) == 1:
        return names[0]
    if wanted in names:
        return wanted
    there = ", ".join(names)
    if wanted is None:
        raise UserError(f"{redact(url)} holds {len(names)} studies; pick one with --study: {there}")
    raise UserError(f"no study {wanted!r} in {redact(url)}; the studies there: {there}")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `report` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "report", help="write report.md for a study from its storage alone",
        description="Write report.md (settings, results, figures and the command that reproduces the run) for a "
                    "study of any kind (grid, calibrate, ablation), reading only its storage: nothing is trained, "
                    "and the same storage always gives the same report. Prints the report's path.")
    parser.add_argument("run_dir", nargs="?", metavar="RUN_DIR",
                        help="a run folder with its study.db (runs/STUDY); the report is written into it")
    parser.add_argument("--study", type=study_name,
                        help="study name (needed when the storage holds several)")
    parser.add_argument("--storage", help="Optuna storage URL instead of RUN_DIR: sqlite:///PATH or "
                                          "postgresql://USER@HOST/DB")
    parser.add_argument("--out", type=Path, help="with --storage: the folder of the report (default runs/STUDY)")
    parser.set_defaults(func=_report)
