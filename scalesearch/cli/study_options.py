"""Options, folders and storages shared by the commands that run or read a study (`grid`, `calibrate`, `ablate`,
`worker`, `report`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import RDBStorage

from scalesearch.cli.numbers import PROXY_RESOLUTION, SEED, bounded_float, bounded_int, in_range
from scalesearch.errors import UserError
from scalesearch.runner import JoinedWork, LocalWork, Prepared, default_workers, work_on
from scalesearch.storage import (HEARTBEAT_RANGE, Heartbeat, ReadOnlyStorage, check_url, default_storage_url, first_line,
                                 open_read_only, redact, sqlite_path)
from scalesearch.study import create_or_resume, read_finished_study, waiting_networks
from scalesearch.study_config import MAX_SEEDS

MAX_WORKERS = 64
TOP_RANGE = (1, 10_000)
_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def study_name(text: str) -> str:
    """argparse type: a study name that is also a safe folder name (no path, no leading dot)."""
    if not _STUDY_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected letters, digits, '.', '_' or '-' (at most 100, not starting "
                                         f"with '.', '_' or '-'), got {text!r}")
    return text


def add_storage_arguments(parser: argparse.ArgumentParser, *, study_required: bool = False,
                          default_study: str = "") -> None:
    """--study, --storage and --heartbeat."""
    group = parser.add_argument_group("study")
    group.add_argument("--study", type=study_name, required=study_required,
                       help="study name" + (f" (default {default_study})" if default_study else ""))
    group.add_argument("--storage", required=study_required,
                       help="Optuna storage URL: sqlite:///PATH, or postgresql://USER@HOST/DB to share one study "
                            "between machines" + ("" if study_required else " (default sqlite:///RUNS/STUDY/study.db)"))
    group.add_argument("--heartbeat", type=bounded_float(*HEARTBEAT_RANGE), default=Heartbeat().interval,
                       help=f"seconds between a running trial's heartbeats, {in_range(HEARTBEAT_RANGE)}; a trial "
                            f"silent for 3 beats is failed and retried (default {Heartbeat().interval:g})")


def add_run_arguments(parser: argparse.ArgumentParser, *, default_study: str, top: bool = True,
                      sampled: bool = False) -> None:
    """The storage options plus --runs-dir, --workers and (for a ranking) --top.

    A `sampled` study (a search whose sampler reads the results before it) defaults to one worker,
    so that the same seed gives the same search; the others default to one per core or GPU.
    """
    add_storage_arguments(parser, default_study=default_study)
    group = parser.add_argument_group("run")
    group.add_argument("--runs-dir", default="runs", help="where runs/STUDY/ lives (default runs)")
    default = ("1: more workers make the sampler see results in another order" if sampled else
               "one per GPU, else one per CPU core with 1 torch thread each, at most one per waiting network")
    group.add_argument("--workers", type=bounded_int(1, MAX_WORKERS), default=1 if sampled else None,
                       help=f"worker processes on this machine, in [1, {MAX_WORKERS}]; with N GPUs each worker gets "
                            f"its own (default {default})")
    if top:
        group.add_argument("--top", type=bounded_int(*TOP_RANGE), default=10,
                           help=f"rows of the ranking to print, {in_range(TOP_RANGE)} (default 10)")
    group.add_argument("--no-work", action="store_true",
                       help="only create the study (for `scalesearch worker` on other machines)")


def add_proxy_resolution_argument(group: argparse._ActionsContainer, default: int) -> None:
    """--proxy-resolution: the base training resolution that r scales."""
    group.add_argument("--proxy-resolution", type=bounded_int(*PROXY_RESOLUTION), default=default,
                       help=f"base training resolution, scaled by r, {in_range(PROXY_RESOLUTION)} (default {default})")


def add_seed_arguments(group: argparse._ActionsContainer, probe: str) -> None:
    """--seeds (trainings per network) and --noise-seeds (those of the noise probe, `probe`, with --seeds 1)."""
    group.add_argument("--seeds", type=bounded_int(1, MAX_SEEDS), default=1,
                       help=f"proxy trainings per network, in [1, {MAX_SEEDS}] (default 1)")
    group.add_argument("--noise-seeds", type=bounded_int(2, MAX_SEEDS), default=3,
                       help=f"with --seeds 1, the noise probe ({probe}) is trained with this many seeds to measure "
                            f"the seed noise, in [2, {MAX_SEEDS}] (default 3)")


def seeds_from_args(args: argparse.Namespace) -> tuple[int, ...]:
    """--seeds consecutive seeds from --seed; UserError when they go past the largest seed."""
    if args.seed + args.seeds - 1 > SEED[1]:
        raise UserError(f"--seed {args.seed} with --seeds {args.seeds} goes past the largest seed {SEED[1]}")
    return tuple(range(args.seed, args.seed + args.seeds))


def heartbeat_from_args(args: argparse.Namespace) -> Heartbeat:
    return Heartbeat(args.heartbeat)


def storage_url_for(storage: str | None, run_dir: Path) -> str:
    return storage or default_storage_url(run_dir)


@dataclass(frozen=True)
class StudyRun:
    """The study a command ran (or only read), where its outputs go, and whether its storage is writable."""

    study: optuna.Study
    run_dir: Path
    writable: bool


def create_and_work(args: argparse.Namespace, name: str, prepared: Prepared, say: Callable[[str], None],
                    *, directions: tuple[str, ...] = ("maximize",), here: LocalWork | None = None,
                    joined: JoinedWork | None = None) -> StudyRun | None:
    """Create or resume study `name` and work on it, unless --no-work (then None).

    A new study stores this process's command line. A study whose storage is read-only is only
    read, when it is finished: it can still be analysed. `directions`, `here` and `joined` go to
    `create_or_resume` and `work_on` (a search that samples its own trials).
    """
    heartbeat = heartbeat_from_args(args)
    run_dir = Path(args.runs_dir) / name
    url = storage_url_for(args.storage, run_dir)
    try:
        with run_folder(run_dir):
            study = create_or_resume(prepared.config, prepared.plans, url, name, heartbeat,
                                     command=getattr(args, "command_line", None), directions=directions)
    except ReadOnlyStorage:
        return StudyRun(read_finished_study(url, name, prepared.config), run_dir, writable=False)
    if args.no_work:
        say(f"study {name!r} is ready in {redact(url)}; join it from any machine with: "
            f"scalesearch worker --storage URL --study {name}; rerun this command for the results")
        return None
    workers = args.workers or min(MAX_WORKERS, default_workers(prepared.config.training.device,
                                                               waiting_networks(study)))
    work_on(study, prepared, url, workers=workers, heartbeat=heartbeat, progress=not args.quiet, here=here,
            joined=joined)
    return StudyRun(study, run_dir, writable=True)


@contextlib.contextmanager
def run_folder(run_dir: Path) -> Iterator[Path]:
    """`run_dir`, created if missing; removed again if the block fails and this process created it.

    Only the outermost folder this process itself created is removed: a folder another process
    created at the same moment is never touched.
    """
    created = _make_folders(run_dir)
    try:
        yield run_dir
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def _make_folders(path: Path) -> Path | None:
    """Create `path` and its missing parents; the outermost folder this call created, if any."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    created = None
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(f"cannot create the run folder {folder}: {exc.strerror}") from None
        created = created or folder
    if not path.is_dir():
        raise UserError(f"run folder {path} is not a folder")
    return created


def run_dir_storage_url(run_dir: Path) -> str:
    """The storage URL of a run folder's study.db; UserError when the folder or its study.db is missing."""
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    if not (run_dir / "study.db").is_file():
        raise UserError(f"no study in {run_dir} (it has no study.db)")
    return default_storage_url(run_dir)


def open_for_reading(url: str) -> RDBStorage:
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


def pick_study(storage: RDBStorage, url: str, wanted: str | None) -> str:
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
