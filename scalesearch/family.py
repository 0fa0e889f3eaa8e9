"""Tables of scaled networks: one row per (d, w, r), with cost and the ideal cost ratio."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from scalesearch.baselines import Baseline, check_scaled
from scalesearch.scaling import Multipliers, compound

PAPER_COEFFICIENTS = (1.2, 1.1, 1.15)  # α, β, γ found for EfficientNet-B0


def cost_row(baseline: Baseline, multipliers: Multipliers, include_elementwise: bool = False) -> dict:
    """d, w, r, the scaled resolution and the cost of one scaled network."""
    resolution = check_scaled(baseline, multipliers)
    cost = baseline.cost(multipliers, resolution, include_elementwise=include_elementwise)
    return {"d": multipliers.depth, "w": multipliers.width, "r": multipliers.resolution,
            "resolution": resolution, "params": cost.params, "MACs": cost.macs, "activations": cost.activations}


def family_table(baseline: Baseline, phis: Iterable[float],
                 coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS) -> pd.DataFrame:
    """The compound-scaled family: φ, d, w, r, resolution, params, MACs, and the MACs ratio to
    φ = 0 next to the ideal (α·β²·γ²)^φ."""
    alpha, beta, gamma = coefficients
    family = [(phi, compound(alpha, beta, gamma, phi)) for phi in phis]
    for _, multipliers in family:  # every member in bounds before the first is counted
        check_scaled(baseline, multipliers)
    base_macs = baseline.cost(Multipliers()).macs
    rows = []
    for phi, multipliers in family:
        row = {"phi": phi, **cost_row(baseline, multipliers)}
        row["MACs ratio"] = row["MACs"] / base_macs
        row["ideal ratio"] = (alpha * beta**2 * gamma**2) ** phi
        rows.append(row)
    return pd.DataFrame(rows)
