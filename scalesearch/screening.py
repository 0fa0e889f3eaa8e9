"""Screening (`--prune screen`): successive halving whose first rung is a short run of its own.

A rung inside a long run is scored at the peak of its learning rate; a short run with its
own warm-up and decay ranks networks far better (README, "Pruning"). So every network first
trains a *screening run* of `min_epoch` epochs, one trial each. Once all have a result, the
best third by objective (successive halving's reduction factor of 3) is promoted, together
with the noise probe when its extra seeds measure the noise; the promoted networks train the
full budget in new trials. The decision is stored in the study, so a report reads it back.
A network left out keeps its screening run as its result, with status "pruned".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

from scalesearch.record import NetworkResult

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
