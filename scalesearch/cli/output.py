"""Print a pandas table for people (aligned text) or machines (--csv, --json)."""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    group.add_argument("--json", action="store_true", help="print JSON records instead of a table")


def emit(table: pd.DataFrame, args: argparse.Namespace, *, formats: dict[str, str] | None = None) -> None:
    """Write `table` to stdout in the format the flags ask for."""
    if args.csv:
        table.to_csv(sys.stdout, index=False)
    elif args.json:
        sys.stdout.write(table.to_json(orient="records", indent=2) + "\n")
    else:
        shown = table.copy()
        for column, spec in (formats or {}).items():
            if column in shown:
                shown[column] = shown[column].map(lambda v, s=spec: _format(v, s))
        sys.stdout.write(shown.to_string(index=False) + "\n")


def _format(value: object, spec: str) -> str:
    """`value` formatted with `spec`; NA for a missing value (None or NaN, e.g. top-5 of fewer than 10 classes)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return format(value, spec)
