"""Values one step of an experiment file hands to the next: the best coefficients of a finished grid."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from scalesearch.errors import UserError

RESULTS_NAME = "results.csv"  # the ranking a grid writes into its run folder


@dataclass(frozen=True)
class BestCoefficients:
    """The grid's best (α, β, γ), and how many other networks its ranking could not tell from it."""

    values: tuple[float, float, float]
    tied_others: int
    source: Path

    def line(self) -> str:
        alpha, beta, gamma = self.values
        tie = ("no other network is within noise of it" if self.tied_others == 0 else
               f"{self.tied_others} other network{'s are' if self.tied_others > 1 else ' is'} within noise of it")
        return f"α={alpha:g} β={beta:g} γ={gamma:g}: the best of {self.source}; {tie}"


def best_coefficients(run_dir: str | Path) -> BestCoefficients:
    """The ranking's best network of the grid whose run folder is `run_dir` (its results.csv, best first),
    with the number of others tied with it."""
    path = Path(run_dir) / RESULTS_NAME
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except OSError as exc:
        raise UserError(f"cannot read the grid's results {path}: {exc.strerror or exc}") from None
    if not rows or rows[0].get("status") != "ok":
        raise UserError(f"{path} has no network trained to the end: no best coefficients to scale with")
    try:
        values = tuple(float(rows[0][name]) for name in ("alpha", "beta", "gamma"))
        tied = sum(row["tied_with_best"] == "True" for row in rows[1:])
    except (KeyError, ValueError):
        raise UserError(f"{path} is not a grid's ranking: it needs alpha, beta, gamma and tied_with_best columns") \
            from None
    if not all(math.isfinite(value) for value in values):
        raise UserError(f"{path} has no finite best coefficients to scale with")
    return BestCoefficients(values, tied, Path(run_dir))  # type: ignore[arg-type]
