"""Rank a study's networks and state the noise: each accuracy ± its standard error, and the tie set.

The seed noise σ is the pooled within-network standard deviation of every network trained
with two or more seeds (at least the noise probe). A network is tied with the best when a
test of all the networks at once at `confidence` cannot tell their objectives apart (scalesearch.noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalesearch import noise
from scalesearch.objective import Scoring
from scalesearch.record import NetworkResult
from scalesearch.study_config import KnownNoise

NO_RESULTS = "no network evaluated yet"
RANKING_COLUMNS = ["rank", "candidate", "resolution", "macs", "macs_ratio", "accuracy", "uncertainty", "seeds",
                   "objective", "status", "tied_with_best"]
_STATUS_ORDER = {"ok": 0, "pruned": 1, "diverged": 2}


@dataclass(frozen=True)
class Ranking:
    """The ranked table, the noise it was judged with, and what the noise means for the best."""

    table: pd.DataFrame
    noise: noise.NoiseEstimate
    confidence: float
    seconds_per_training: float
    noise_source: str | None = None

    @property
    def best(self) -> pd.Series | None:
        """The best network that trained to the end, if any did."""
        if self.table.empty or self.table["status"].iloc[0] != "ok":
            return None
        return self.table.iloc[0]

    @property
    def tied(self) -> pd.DataFrame:
        return self.table[self.table["tied_with_best"]]

    def noise_line(self) -> str:
        """What the noise is and how it was measured."""
        return noise.noise_line(self.noise, self.noise_source, self.confidence,
                                networks=noise.family_size(noise_table(self.table)))

    def spread_line(self) -> str | None:
        """Whether the accuracies of the networks trained to the end differ beyond the seed noise (None when
        fewer than two did, or the noise is unknown)."""
        done = self.table[self.table["status"] == "ok"]
        test = noise.spread_test(done["accuracy"], done["seeds"], self.noise)
        return None if test is None else test.line(self.confidence)

    def verdict(self, current_seeds: int) -> str | None:
        """'N other networks are within noise of it; to separate them: --seeds K (about M min)'."""
        if self.best is None or not math.isfinite(self.noise.sigma):
            return None
        others = len(self.tied) - 1
        if others == 0:
            return "no other network is within noise of it"
        advice = noise.separation_advice(noise_table(self.table), self.noise.sigma, self.seconds_per_training,
                                         current_seeds, self.confidence, dof=self.noise.dof)
        line = f"{others} other network{'s are' if others > 1 else ' is'} within noise of it"
        return f"{line}; {advice}" if advice else line


def noise_table(table: pd.DataFrame) -> pd.DataFrame:
    """The columns scalesearch.noise reads, from a ranking table."""
    return pd.DataFrame({"objective": table["objective"], "accuracy": table["accuracy"], "n_seeds": table["seeds"],
                         "state": np.where(table["status"] == "ok", "complete", table["status"])})


def seed_noise(results: Sequence[NetworkResult], known: KnownNoise | None = None
               ) -> tuple[noise.NoiseEstimate, str | None]:
    """σ pooled over the networks trained to the end with several seeds; with none, `known`, and where it is from."""
    estimate = noise.pooled_seed_std(r.accuracies for r in results if r.status == "ok")
    if not estimate.known and known is not None:
        return noise.NoiseEstimate(known.sigma, known.dof, 0), f"measured by {known.source}"
    return estimate, None


def rank(results: Sequence[NetworkResult], scoring: Scoring, confidence: float = noise.DEFAULT_CONFIDENCE,
         known: KnownNoise | None = None) -> Ranking:
    """Networks that trained to the end by objective (best first), then pruned ones, then diverged ones.

    The seed noise is pooled over the networks trained with several seeds; with none, `known`
    (measured by `calibrate` for the same settings) stands in.
    """
    estimate, source = seed_noise(results, known)
    table = pd.DataFrame([r.row() for r in results])
    if table.empty:
        return Ranking(pd.DataFrame(columns=RANKING_COLUMNS), estimate, confidence, math.nan, source)
    table["macs_ratio"] = table["macs"] / scoring.target_macs
    table["uncertainty"] = [noise.uncertainty(estimate.sigma, n) for n in table["seeds"]]
    table["_status"] = table["status"].map(_STATUS_ORDER)
    table["_score"] = np.where(table["status"] == "ok", table["objective"], table["accuracy"])
    table = table.sort_values(["_status", "_score"], ascending=[True, False]).drop(columns=["_status", "_score"])
    table.insert(0, "rank", range(1, len(table) + 1))
    table = table.reset_index(drop=True)
    if math.isfinite(estimate.sigma) and table["status"].iloc[0] == "ok":
        table["tied_with_best"] = noise.tied_with_best(noise_table(table), estimate.sigma, confidence,
                                                       estimate.dof).to_numpy()
    else:
        table["tied_with_best"] = False
    per_training = float(table["seconds_per_training"].mean())
    return Ranking(table, estimate, confidence, per_training, source)
