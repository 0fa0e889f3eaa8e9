"""Screening (`--prune screen`): successive halving whose first rung is a short run of its own.

A rung inside a long run is scored at the peak of its learning rate; a short run with its
own warm-up and decay ranks networks far better (README, "Pruning"). So every network first
trains a *screening run* of `min_epoch` epochs, one trial each. Once all have a result, the
best third by objective (successive halving's reduction factor of 3) is promoted, together
with the noise probe when its extra seeds measure the noise; the promoted networks train the
full budget in new trials. The decision is stored in the study, so a report reads it back.
A network left out keeps its screening run as its result, with status "pruned". Whether the
screen could tell the networks it left out from its best takes the seed noise at the screen's
budget (`check_left_out`, with σ from a calibration or repeated searches).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from scalesearch import noise
from scalesearch.record import NetworkResult
from scalesearch.results import noise_table
from scalesearch.study_config import KnownNoise

REDUCTION_FACTOR = 3  # successive halving's: the screen's and Optuna's (`--prune sha`, `hyperband`)
SCREEN_ATTR = "screen"  # trial attribute: this trial is a network's screening run
PROMOTED_KEY = "screen_promoted"  # study attribute: the networks promoted to the full budget


def promote(screens: Iterable[NetworkResult], probe_measures_noise: bool) -> tuple[int, ...]:
    """The networks that train the full budget: the best third of all screened by objective (ties by
    network order), plus the noise probe when `probe_measures_noise`; a diverged run is never promoted."""
    screens = list(screens)
    ranked = sorted((r for r in screens if r.status == "ok"), key=lambda r: (-r.objective, r.plan.index))
    keep = {r.plan.index for r in ranked[:promoted_count(len(screens))]}
    if probe_measures_noise:
        keep |= {r.plan.index for r in ranked if r.plan.probe}
    return tuple(sorted(keep))


def merge(finals: Mapping[int, NetworkResult], screens: Mapping[int, NetworkResult],
          promoted: Iterable[int] | None) -> dict[int, NetworkResult]:
    """One result per decided network: a promoted network's full training, the others' screening runs
    (status "pruned" unless they diverged). Before the decision (`promoted` None) nothing is decided."""
    if promoted is None:
        return {}
    promoted = set(promoted)
    results = {index: result for index, result in finals.items() if index in promoted}
    for index, screen in screens.items():
        if index not in promoted:
            results[index] = screen if screen.status != "ok" else replace(screen, status="pruned")
    return results


def planned_trainings(networks: int, promoted: Iterable[int] | None) -> int:
    """Trials a screened study trains: every screening run, then the promoted networks (before the
    decision: the best third, the probe aside)."""
    finals = len(list(promoted)) if promoted is not None else promoted_count(networks)
    return networks + finals


def promoted_count(networks: int) -> int:
    """How many of `networks` the screen promotes by objective (the noise probe aside)."""
    return math.ceil(networks / REDUCTION_FACTOR)


@dataclass(frozen=True)
class LeftOutCheck:
    """The networks a screen left out, and those of them its tie test cannot tell from its best."""

    epochs: int
    left_out: tuple[str, ...]
    within_noise: tuple[str, ...]  # empty when the screen's seed noise is unknown
    noise: KnownNoise | None  # None: unknown, nothing tested
    compared: int  # how many screening runs the tie test compares at once

    def line(self, confidence: float = noise.DEFAULT_CONFIDENCE) -> str:
        """One sentence: how many of the networks left out were within noise of the screen's best, and the σ."""
        count = len(self.left_out)
        what = (f"screen ({self.epochs} epoch{'s' if self.epochs > 1 else ''}): of the {count} "
                f"network{'s' if count > 1 else ''} it left out,")
        if self.noise is None:
            return (f"{what} none is tested against its best: its seed noise is unknown (pass --noise-from a "
                    f"calibration whose --ladder includes {self.epochs})")
        sigma = (f"σ = {self.noise.sigma:.4f} measured by {self.noise.source}, {self.noise.dof} degrees of freedom; "
                 f"{noise.describe_test(confidence, self.noise.dof, self.compared)}")
        within = len(self.within_noise)
        if within == 0:
            return f"{what} each was worse than its best beyond seed noise ({sigma})"
        return (f"{what} {within} {'were' if within > 1 else 'was'} within noise of its best ({sigma}): this search "
                f"cannot rule {'them' if within > 1 else 'it'} out")


def check_left_out(screens: Sequence[NetworkResult], promoted: Iterable[int], known: KnownNoise | None, epochs: int,
                   confidence: float = noise.DEFAULT_CONFIDENCE) -> LeftOutCheck | None:
    """Which screened networks outside `promoted` the screen's tie test cannot tell from the best screening
    run (scalesearch.noise.tied_with_best on the screens' objectives, σ `known` at the screen's budget);
    None when the screen left nothing out. A diverged screening run is left out and never within noise."""
    promoted = set(promoted)
    left_out = [r for r in screens if r.plan.index not in promoted]
    if not left_out:
        return None
    names = tuple(r.plan.name for r in left_out)
    table = noise_table(pd.DataFrame([r.row() for r in screens], index=[r.plan.index for r in screens]))
    if known is None:
        return LeftOutCheck(epochs, names, (), None, noise.family_size(table))
    tied = noise.tied_with_best(table, known.sigma, confidence, known.dof)
    within = tuple(r.plan.name for r in left_out if tied.loc[r.plan.index])
    return LeftOutCheck(epochs, names, within, known, noise.family_size(table))
