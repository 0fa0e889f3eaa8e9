"""A sweep's results as a table of points, and the paper's Observations 1 and 2 tested on them.

Every point gets its network's accuracy (networks shared by several points are trained once)
± the standard error σ/√n from the pooled seed noise σ. Observation 1: the accuracy gained
per doubling of MACs shrinks along a scaling series. Observation 2: compound scaling beats the
best single dimension at matched MACs. Both are decided by a two-sided test at `confidence`
with Student's t on σ's degrees of freedom, and reported as the data says, paper or not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalesearch import noise
from scalesearch.ablation import DIMENSIONS, MATCHED_KINDS, MAX_MISMATCH
from scalesearch.errors import UserError
from scalesearch.record import NetworkResult, point_name
from scalesearch.results import seed_noise
from scalesearch.study_config import KnownNoise

SWEEP_COLUMNS = ["model", "series", "phi", "factor", "d", "w", "r", "resolution", "macs", "activations", "params",
                 "mismatch", "accuracy", "uncertainty", "seeds", "status", "network"]


@dataclass(frozen=True)
class Sweep:
    """One row per point of the sweep, the noise it is judged with, and the sweep's kind."""

    kind: str
    table: pd.DataFrame
    noise: noise.NoiseEstimate
    confidence: float = noise.DEFAULT_CONFIDENCE
    noise_source: str | None = None

    @property
    def critical(self) -> float:
        return noise.critical_value(self.confidence, self.noise.dof)

    def noise_line(self) -> str:
        return noise.noise_line(self.noise, self.noise_source, self.confidence, test="tests")


def sweep_table(kind: str, results: Sequence[NetworkResult], expected_points: Sequence[dict],
                confidence: float = noise.DEFAULT_CONFIDENCE, known: KnownNoise | None = None) -> Sweep:
    """The sweep's points with their networks' results; UserError naming the points that have none yet.

    The seed noise is pooled over networks trained with several seeds; with none, `known` stands in.
    """
    estimate, source = seed_noise(results, known)
    rows = []
    for result in results:
        base = result.row()
        for point in result.plan.points:
            rows.append({**{k: base[k] for k in base if k in SWEEP_COLUMNS}, "model": None, "phi": math.nan, **point})
    table = pd.DataFrame(rows)
    missing = [point for point in expected_points
               if table.empty or not ((table[list(point)] == pd.Series(point)).all(axis=1)).any()]
    if missing:
        names = ", ".join(point_name(p) for p in missing[:6]) + (" …" if len(missing) > 6 else "")
        raise UserError(f"the {kind} study lacks results for {len(missing)} of its {len(expected_points)} points "
                        f"({names}); rerun the command or a `scalesearch worker` to train them")
    table["uncertainty"] = [noise.uncertainty(estimate.sigma, n) if estimate.known else math.nan
                            for n in table["seeds"]]
    if kind in MATCHED_KINDS:
        table["mismatch"] = _mismatch(table)
    else:
        table["mismatch"] = math.nan
    order = {name: i for i, name in enumerate(dict.fromkeys(p["series"] for p in expected_points))}
    table["_series"] = table["series"].map(order)
    table = table.sort_values(["model", "_series", "phi", "factor"], na_position="first", kind="stable")
    table = table.drop(columns="_series")[SWEEP_COLUMNS].reset_index(drop=True)
    return Sweep(kind, table, estimate, confidence, source)


def _mismatch(table: pd.DataFrame) -> pd.Series:
    """MACs/compound MACs − 1 of each point, against the compound network of its (model, φ)."""
    keys = list(zip(table["model"].fillna(""), table["phi"]))
    compound = {key: macs for key, series, macs in zip(keys, table["series"], table["macs"]) if series == "compound"}
    return pd.Series([macs / compound.get(key, math.nan) - 1 for key, macs in zip(keys, table["macs"])],
                     index=table.index)


def _difference(sweep: Sweep, a: pd.Series, b: pd.Series) -> tuple[float, float, str]:
    """(a − b accuracy, its standard error, 'higher'/'lower'/'tied within noise')."""
    gap = float(a["accuracy"] - b["accuracy"])
    error = sweep.noise.sigma * math.sqrt(1 / a["seeds"] + 1 / b["seeds"])
    if not math.isfinite(error):
        return gap, error, "untested (seed noise unknown)"
    if abs(gap) <= sweep.critical * error:
        return gap, error, "tied within noise"
    return gap, error, "higher" if gap > 0 else "lower"


def gains_per_doubling(sweep: Sweep) -> pd.DataFrame:
    """Observation 1: along each series, the accuracy gained per doubling of MACs, first segment against last.

    A series needs three or more trained points. The change (first gain − last gain) is tested
    with its standard error σ·√(Σ cₖ²/nₖ) over the points' coefficients cₖ.
    """
    rows = []
    table = sweep.table[sweep.table["status"] == "ok"]
    for (model, series), group in table.groupby(["model", "series"], dropna=False, sort=False):
        group = group.drop_duplicates("network").sort_values("macs")
        group = group[group["macs"].diff().fillna(1) > 0]
        if len(group) < 3 or series == "compound" and sweep.kind == "table3":
            continue
        first, last = _segment(group, 0), _segment(group, len(group) - 2)
        change = first[0] - last[0]
        weights = _combine(first[1], last[1], -1.0)
        error = sweep.noise.sigma * math.sqrt(sum(c * c / group.loc[i, "seeds"] for i, c in weights.items()))
        verdict = ("untested (seed noise unknown)" if not math.isfinite(error)
                   else "shrinks" if change > sweep.critical * error
                   else "grows" if change < -sweep.critical * error else "no significant change")
        rows.append({"model": model, "series": series, "points": len(group), "first_gain": first[0],
                     "last_gain": last[0], "change": change, "standard_error": error, "verdict": verdict})
    return pd.DataFrame(rows, columns=["model", "series", "points", "first_gain", "last_gain", "change",
                                       "standard_error", "verdict"])


def _segment(group: pd.DataFrame, start: int) -> tuple[float, dict]:
    """Gain per doubling between rows start and start + 1, and its coefficients on the rows' accuracies."""
    low, high = group.iloc[start], group.iloc[start + 1]
    doublings = math.log2(high["macs"] / low["macs"])
    coefficients = {group.index[start]: -1 / doublings, group.index[start + 1]: 1 / doublings}
    return (high["accuracy"] - low["accuracy"]) / doublings, coefficients


def _combine(a: dict, b: dict, b_sign: float) -> dict:
    combined = dict(a)
    for key, value in b.items():
        combined[key] = combined.get(key, 0.0) + b_sign * value
    return combined


def compound_against_single(sweep: Sweep) -> pd.DataFrame:
    """Observation 2: at each (model, φ), compound against the best matched single dimension.

    Single-dimension networks further than MAX_MISMATCH from the compound's MACs are left out
    (named in `left_out`). Picking the best of several favours the single dimensions slightly.
    """
    rows = []
    table = sweep.table[(sweep.table["status"] == "ok") & (sweep.table["phi"] > 0)]
    for (model, phi), group in table.groupby(["model", "phi"], dropna=False, sort=False):
        compound = group[group["series"] == "compound"]
        singles = group[group["series"].isin(DIMENSIONS)]
        matched = singles[singles["mismatch"].abs() <= MAX_MISMATCH]
        if compound.empty or matched.empty:
            continue
        best = matched.loc[matched["accuracy"].idxmax()]
        gap, error, verdict = _difference(sweep, compound.iloc[0], best)
        rows.append({"model": model, "phi": phi, "compound": compound.iloc[0]["accuracy"],
                     "best_single": best["series"], "single": best["accuracy"], "gap": gap,
                     "standard_error": error,
                     "verdict": {"higher": "compound better", "lower": "single better"}.get(verdict, verdict),
                     "left_out": ", ".join(singles[singles["mismatch"].abs() > MAX_MISMATCH]["series"])})
    return pd.DataFrame(rows, columns=["model", "phi", "compound", "best_single", "single", "gap", "standard_error",
                                       "verdict", "left_out"])


def observations(sweep: Sweep) -> list[str]:
    """The observations the sweep can test, one sentence each, stating what the data says."""
    lines = []
    if sweep.kind in ("fig3", "fig8"):
        gains = gains_per_doubling(sweep)
        if gains.empty:
            lines.append("Observation 1 (diminishing returns): untested, no series has 3 trained points of "
                         "increasing MACs")
        for _, row in gains.iterrows():
            lines.append(f"Observation 1, {_where(row)}{row['series']}: {row['first_gain'] * 100:+.2f} points per "
                         f"doubling of MACs at first, {row['last_gain'] * 100:+.2f} at the end — "
                         f"{_obs1(row['verdict'])} (change {row['change'] * 100:+.2f} ± "
                         f"{row['standard_error'] * 100:.2f})")
    if sweep.kind in MATCHED_KINDS:
        duel = compound_against_single(sweep)
        if duel.empty:
            lines.append("Observation 2 (compound beats single dimensions): untested, no φ has a compound and a "
                         f"single-dimension network within {MAX_MISMATCH:.0%} MACs")
        for _, row in duel.iterrows():
            note = f"; left out, MACs mismatch > {MAX_MISMATCH:.0%}: {row['left_out']}" if row["left_out"] else ""
            lines.append(f"Observation 2, {_where(row)}φ={row['phi']:g}: compound {row['compound']:.4f} against "
                         f"{row['best_single']} {row['single']:.4f} (the best single dimension), gap "
                         f"{row['gap'] * 100:+.2f} ± {row['standard_error'] * 100:.2f} points — "
                         f"{_obs2(row['verdict'])}{note}")
    return lines


def _where(row: pd.Series) -> str:
    return f"{row['model']} " if isinstance(row["model"], str) else ""


def _obs1(verdict: str) -> str:
    return {"shrinks": "the gain shrinks, as the paper observes",
            "grows": "the gain grows, against the paper's observation",
            "no significant change": "no significant change: the data cannot confirm the paper's observation"
            }.get(verdict, verdict)


def _obs2(verdict: str) -> str:
    return {"compound better": "compound is better, as the paper observes",
            "single better": "the single dimension is better, against the paper's observation",
            "tied within noise": "tied within noise: the data cannot confirm the paper's observation"
            }.get(verdict, verdict)


def edf(errors: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Empirical distribution (pycls style): sorted errors and the fraction of models with error ≤ each."""
    values = np.sort(np.asarray(errors, dtype=float))
    return values, np.arange(1, values.size + 1) / values.size
