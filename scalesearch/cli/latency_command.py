"""`latency`: batch-1 CPU inference latency of models, side by side (Table 4 of the paper)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scalesearch.cli.numbers import RESOLUTION, bounded_int, in_range
from scalesearch.errors import UserError
from scalesearch.latency import latency_table, resolve_model, speedup_lines

RUNS = (1, 10_000)  # timed rounds
WARMUP = (0, 1_000)  # untimed rounds first; 0 is none, not a default
THREADS = (1, 1_024)
MAX_MODELS = 20

_FORMATS = {"params": ",d", "mean_ms": ".2f", "median_ms": ".2f", "iqr_ms": ".2f", "ratio": ".3f"}


def _latency(args: argparse.Namespace) -> int:
    if len(args.models) > MAX_MODELS:
        raise UserError(f"at most {MAX_MODELS} models, got {len(args.models)}")
    if args.csv and not args.csv.parent.is_dir():  # before minutes of timing, not after
        raise UserError(f"cannot write {args.csv}: no directory {args.csv.parent}")
    models = [resolve_model(name, args.resolution) for name in args.models]
    print(f"timing {len(models)} model(s), batch 1, {args.threads} thread(s): {args.warmup} warm-up and "
          f"{args.runs} timed rounds, interleaved", file=sys.stderr)
    table = latency_table(models, args.runs, args.warmup, args.threads)
    if args.csv:
        try:
            table.to_csv(args.csv, index=False)
        except OSError as exc:
            raise UserError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
    print(table.to_string(index=False, formatters={column: (lambda value, spec=spec: format(value, spec))
                                                   for column, spec in _FORMATS.items()}))
    for line in speedup_lines(table):
        print(line)
    return 0


def add_timing_options(parser: argparse.ArgumentParser, runs: int, warmup: int) -> None:
    """--runs, --warmup and --threads (default 1, as in the paper) of a latency measurement, bounded."""
    parser.add_argument("--runs", type=bounded_int(*RUNS), default=runs,
                        help=f"timed rounds, {in_range(RUNS)} (default {runs})")
    parser.add_argument("--warmup", type=bounded_int(*WARMUP), default=warmup,
                        help=f"untimed rounds before them, {in_range(WARMUP)}; 0 is none (default {warmup})")
    parser.add_argument("--threads", type=bounded_int(*THREADS), default=1,
                        help=f"torch CPU threads, {in_range(THREADS)} (default 1, as in the paper)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `latency` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "latency", help="batch-1 CPU latency of models, side by side (the paper's Table 4)",
        description="Time batch-1 inference on the CPU (eval mode, inference mode, random weights), the models "
                    "taking turns round by round, and print mean, median and interquartile range (iqr_ms) in ms "
                    "and each mean over the first model's (ratio).")
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="a zoo name (see `scalesearch models`), torchvision:BUILDER (e.g. "
                             "torchvision:efficientnet_b1), a spec .json file, or module:function")
    add_timing_options(parser, runs=20, warmup=5)
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION),
                        help=f"input resolution in px for every model, {in_range(RESOLUTION)} (default: each "
                             f"model's own; for torchvision: our zoo's for the same family, else 224)")
    parser.add_argument("--csv", type=Path, metavar="PATH", help="also write the table to this CSV file")
    parser.set_defaults(func=_latency)
