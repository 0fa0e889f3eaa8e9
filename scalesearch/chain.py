"""Values one step of an experiment file hands to the next: the best coefficients of a finished grid."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from scalesearch.errors import UserError

RESULTS_NAME = "results.csv"  # the ranking a grid writes into its run folder


def best_coefficients(run_dir: str | Path) -> tuple[float, float, float]:
    """(α, β, γ) of the best network of the grid whose run folder is `run_dir` (its results.csv):
    the highest objective among the networks trained to the end."""
    path = Path(run_dir) / RESULTS_NAME
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = [row for row in csv.DictReader(file) if row.get("status") == "ok"]
    except OSError as exc:
        raise UserError(f"cannot read the grid's results {path}: {exc.strerror or exc}") from None
    try:
        best = max(rows, key=lambda row: float(row["objective"])) if rows else None
        coefficients = None if best is None else tuple(float(best[name]) for name in ("alpha", "beta", "gamma"))
    except (KeyError, ValueError):
        raise UserError(f"{path} is not a grid's ranking: it needs alpha, beta, gamma and objective columns") \
            from None
    if coefficients is None or not all(math.isfinite(value) for value in coefficients):
        raise UserError(f"{path} has no network trained to the end: no best coefficients to scale with")
    return coefficients  # type: ignore[return-value]
