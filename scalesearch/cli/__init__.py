"""The `scalesearch` command: one sub-module a command group, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from scalesearch.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (no usage dump) and exit with code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every sub-command registered."""
    parser = _Parser(prog="scalesearch", description="Model-scaling research for ConvNets: count, scale, proxy-train and search networks after EfficientNet (Tan & Le, 2019). Every command has --help.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for module in _command_modules():
        module.register(commands)
    for command_parser in commands.choices.values():
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse `argv`; arguments no option takes are reported by the command's own parser, named."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _command_modules() -> list:
    from scalesearch.cli import (ablate_command, calibrate_command, grid_command, latency_command, model_commands,
                                 nas_command, report_command, run_command, train_command, worker_command)

    return [model_commands, train_command, grid_command, calibrate_command, ablate_command, nas_command,
            worker_command, run_command, report_command, latency_command]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parse(build_parser(), argv)
    args.command_line = shlex.join(["scalesearch", *(sys.argv[1:] if argv is None else argv)])  # stored in a study
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"scalesearch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scalesearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
