"""`scalesearch worker`: join an existing study from any machine and train its waiting networks."""

from __future__ import annotations

import argparse

from scalesearch.cli.study_options import add_storage_arguments, heartbeat_from_args
from scalesearch.runner import prepare_worker, work
from scalesearch.nas import join_search
from scalesearch.study import join_study, network_count
from scalesearch.training.device import resolve_device


def _worker(args: argparse.Namespace) -> int:
    if args.device is not None:
        resolve_device(args.device)
    study, config = join_study(args.storage, args.study, heartbeat_from_args(args))
    if config.kind == "nas":  # a search samples as it goes, up to the trials its creator asked for
        join_search(study, config, args.device, target=network_count(study))
    else:
        work(study, prepare_worker(config), device=args.device)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `worker` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "worker", help="join a study from its storage and train its waiting networks",
        description="Join an existing study (made by `grid`, `calibrate`, `ablate` (e.g. with --no-work) or `nas`) "
                    "from its storage alone: its configuration is stored in it. A search samples and trains "
                    "architectures until the study holds the trials its creator asked for; the others train waiting "
                    "networks, waits for those running elsewhere "
                    "(a dead worker's network is retried after its heartbeat goes stale), and exits when none "
                    "is left.")
    add_storage_arguments(parser, study_required=True)
    parser.add_argument("--device", help="this worker's device: cpu, cuda or cuda:N (default: the study's)")
    parser.set_defaults(func=_worker)
