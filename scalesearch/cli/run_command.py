"""`scalesearch run FILE.toml`: run the sub-command an experiment file describes."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from scalesearch.cli import build_parser
from scalesearch.experiment_file import NOT_RUNNABLE, command_parsers, parse_experiment, read_steps


def _run(args: argparse.Namespace) -> int:
    parsers = command_parsers(build_parser())
    steps = read_steps(Path(args.file), parsers)
    for step in steps:  # every step is checked before the first one runs
        parse_experiment(step, parsers[step.command])
    if args.print:
        print("\n".join(step.command_line() for step in steps))
        return 0
    for step in steps:
        experiment = step.resolved(partial(print, file=sys.stderr))
        command_args = parse_experiment(experiment, parsers[experiment.command])
        print(experiment.command_line(), file=sys.stderr, flush=True)
        command_args.command_line = experiment.command_line()  # what a study created by the file stores
        code = int(command_args.func(command_args) or 0)
        if code:
            return code
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `run` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "run", help="run the command an experiment file (.toml) describes",
        description="Run an experiment file: TOML with `command = \"grid\"` (any command but "
                    f"{' and '.join(NOT_RUNNABLE)}) and that command's options as keys, spelled like the long "
                    "option without dashes (phi = 1, alpha_range = [1, 2], hard = true), positional arguments by "
                    "name (model = \"efficientnet-b0\"); or [[step]] tables, one command each, run in order "
                    "(coefficients_from = \"runs/STUDY\" gives a step the best α, β, γ of a grid run before it). "
                    "The equivalent command line of each is printed to stderr first.")
    parser.add_argument("file", metavar="FILE.toml", help="the experiment file")
    parser.add_argument("--print", action="store_true",
                        help="only check the file and print the equivalent command line")
    parser.set_defaults(func=_run)
