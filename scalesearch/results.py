"""Rank the evaluated candidates, mark those the noise cannot tell from the best."""

from __future__ import annotations

import numpy as np
import pandas as pd

RANKING_COLUMNS = ["rank", "alpha", "beta", "gamma", "product", "resolution", "macs", "macs_ratio", "accuracy",
                   "accuracy_std", "objective", "status", "tied_with_best"]


def rank_candidates(table: pd.DataFrame) -> pd.DataFrame:
    """Completed candidates by objective (best first), then pruned ones by accuracy.

    With several seeds, `tied_with_best` marks candidates whose objective is within two
    standard errors (combined with the best's) of the best one.
    """
    table = table.copy()
    complete = table["state"] == "complete"
    table["_order"] = np.where(complete, table["objective"], -np.inf)
    table = table.sort_values(["_order", "accuracy"], ascending=False).drop(columns="_order")
    table.insert(0, "rank", range(1, len(table) + 1))
    table["tied_with_best"] = _tied_with_best(table)
    return table.reset_index(drop=True)


def _tied_with_best(table: pd.DataFrame) -> pd.Series:
    counts = table["seeds"].map(len)
    if len(table) == 0 or (counts < 2).all() or table["state"].iloc[0] != "complete":
        return pd.Series(False, index=table.index)
    scale = table["objective"] / table["accuracy"].where(table["accuracy"] > 0, np.nan)
    standard_error = table["accuracy_std"] * scale / np.sqrt(counts)
    best = table.index[0]
    margin = 2.0 * np.sqrt(standard_error**2 + standard_error[best] ** 2)
    return (table["state"] == "complete") & (table["objective"][best] - table["objective"] <= margin)
