"""How well a short training budget ranks networks like a long one (the statistics of `scalesearch calibrate`).

Runs come as a long table, one row per training: network (any hashable label), budget (epochs),
seed, accuracy (fraction) and wall_seconds. Rankings compare per-network mean accuracies over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from scalesearch.noise import pooled_seed_std, spread_test

RUN_COLUMNS = ("network", "budget", "seed", "accuracy", "wall_seconds")
HISTORY_COLUMNS = ("network", "seed", "epoch", "accuracy")
FIDELITY_COLUMNS = ["budget", "networks", "seeds", "kendall_tau", "tau_p", "spearman_rho", "sigma", "spread",
                    "differ_p", "wall_seconds"]
AGREEMENT_COLUMNS = ["epoch", "networks", "kendall_tau", "spearman_rho"]
DEFAULT_MIN_TAU = 0.7  # calibrate: a budget ranks like the longest one
DEFAULT_RUNG_TAU = 0.5  # pruning: a rung ranks like the last epoch


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{what} lack the column(s) {', '.join(missing)}")


def rank_agreement(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """Kendall τ (tau-b) and Spearman ρ between two series over their common index labels.

    NaN when fewer than 2 labels are shared or either side is constant (no ranking to compare).
    """
    tau, rho, _ = _agreement_with_p(a, b)
    return tau, rho


def _agreement_with_p(a: pd.Series, b: pd.Series) -> tuple[float, float, float]:
    """Kendall τ, Spearman ρ and τ's two-sided p-value (scipy's, exact for few networks without ties: how
    often two unrelated rankings of these networks agree, or disagree, at least this well); NaN as in
    `rank_agreement`."""
    common = a.index.intersection(b.index)
    x = a.loc[common].to_numpy(dtype=float)
    y = b.loc[common].to_numpy(dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan
    kendall = kendalltau(x, y)
    return float(kendall.statistic), float(spearmanr(x, y).statistic), float(kendall.pvalue)


def fidelity_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per budget (ascending): how its ranking of networks agrees with the largest budget's.

    Columns: budget; networks (with at least one accuracy at that budget); seeds (the fewest seeds of
    any of those networks); kendall_tau and spearman_rho of the per-network mean accuracies against
    those at the largest budget, over the networks present at both (1.0 on the largest budget's own
    row; NaN with fewer than 2 shared networks or a constant side); tau_p (τ's two-sided p-value: with
    5 networks even τ = 0.8 has p ≈ 0.08; NaN on the largest budget's row); sigma (pooled within-network
    seed standard deviation, NaN when no network has 2 seeds); spread (standard deviation of the
    per-network means, ddof=1); differ_p (the p-value of `noise.spread_test`, the one-way analysis of
    variance of the networks' accuracies: small when they differ beyond seed noise, NaN without σ);
    wall_seconds (mean wall time of one training at that budget).
    Rows whose accuracy is NaN (failed trainings) are left out, except from wall_seconds.
    """
    _require(runs, RUN_COLUMNS, "the runs")
    if runs.empty:
        return pd.DataFrame(columns=FIDELITY_COLUMNS)
    runs = runs.astype({"budget": float, "accuracy": float, "wall_seconds": float})
    measured = runs[runs["accuracy"].notna()]
    if measured.empty:
        raise ValueError("no run has an accuracy")
    budgets = sorted(runs["budget"].unique())
    means = {budget: group.groupby("network", sort=True)["accuracy"].mean()
             for budget, group in measured.groupby("budget")}
    top = max(means)
    rows = []
    for budget in budgets:
        group = measured[measured["budget"] == budget]
        per_network = group.groupby("network", sort=True)["accuracy"]
        mean = means.get(budget, pd.Series(dtype=float))
        if budget == top:
            tau, rho, tau_p = 1.0, 1.0, math.nan
        else:
            tau, rho, tau_p = _agreement_with_p(mean, means[top])
        noise = pooled_seed_std(values.to_numpy() for _, values in per_network)
        spread = spread_test(mean.to_numpy(), per_network.size().loc[mean.index].to_numpy(), noise)
        rows.append({
            "budget": budget,
            "networks": int(mean.size),
            "seeds": int(per_network.size().min()) if mean.size else 0,
            "kendall_tau": tau,
            "tau_p": tau_p,
            "spearman_rho": rho,
            "sigma": noise.sigma,
            "spread": float(mean.std(ddof=1)) if mean.size >= 2 else math.nan,
            "differ_p": spread.p_value if spread else math.nan,
            "wall_seconds": float(runs.loc[runs["budget"] == budget, "wall_seconds"].mean()),
        })
    return pd.DataFrame(rows, columns=FIDELITY_COLUMNS)


def recommend_budget(table: pd.DataFrame, min_tau: float = DEFAULT_MIN_TAU) -> float:
    """The smallest budget of a `fidelity_table` whose Kendall τ is at least `min_tau` (NaN never is).

    The largest budget always qualifies (τ = 1 against itself): when it is the answer, no shorter
    budget ranks like it, and the ladder should be extended upwards to find out whether it is itself
    long enough. Raises ValueError on an empty table.
    """
    _require(table, ("budget", "kendall_tau"), "the fidelity table")
    if table.empty:
        raise ValueError("the fidelity table is empty")
    qualifying = table[table["kendall_tau"] >= min_tau]
    if qualifying.empty:  # only when the caller passes min_tau > 1
        return float(table["budget"].max())
    return float(qualifying["budget"].min())


def rung_agreement(histories: pd.DataFrame) -> pd.DataFrame:
    """Per epoch e (ascending): Kendall τ and Spearman ρ of per-network mean accuracy at e against the last epoch E.

    `histories` has one row per (network, seed, epoch) of trainings at one budget, epochs 1..E.
    E is the largest epoch present; networks without an accuracy at E are left out of the comparison.
    Columns: epoch, networks (compared), kendall_tau, spearman_rho; the row of E is 1.0.
    """
    _require(histories, HISTORY_COLUMNS, "the histories")
    if histories.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    histories = histories.astype({"accuracy": float})
    histories = histories[histories["accuracy"].notna()]
    last = histories["epoch"].max()
    means = histories.groupby(["epoch", "network"], sort=True)["accuracy"].mean()
    final = means.loc[last]
    rows = []
    for epoch in sorted(histories["epoch"].unique()):
        at_epoch = means.loc[epoch]
        common = at_epoch.index.intersection(final.index)
        tau, rho = (1.0, 1.0) if epoch == last else rank_agreement(at_epoch, final)
        rows.append({"epoch": int(epoch), "networks": int(common.size), "kendall_tau": tau, "spearman_rho": rho})
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def first_reliable_rung(agreement: pd.DataFrame, min_tau: float = DEFAULT_RUNG_TAU) -> int:
    """The smallest epoch from which on τ ≥ `min_tau` at that and every later epoch (NaN fails).

    The last epoch always qualifies (τ = 1), so the answer is at most E. Raises ValueError when
    `agreement` is empty.
    """
    _require(agreement, ("epoch", "kendall_tau"), "the agreement table")
    if agreement.empty:
        raise ValueError("the agreement table is empty")
    ordered = agreement.sort_values("epoch")
    epochs = ordered["epoch"].to_numpy()
    good = (ordered["kendall_tau"] >= min_tau).to_numpy()
    rung = int(epochs[-1])
    for epoch, ok in zip(epochs[::-1], good[::-1]):
        if not ok:
            break
        rung = int(epoch)
    return rung


def fidelity_figure(table: pd.DataFrame, path_without_suffix: str | Path, title: str | None = None,
                    min_tau: float = DEFAULT_MIN_TAU) -> tuple[Path, Path]:
    """Draw the fidelity curve of a `fidelity_table`; returns the (PNG, SVG) paths written.

    Two panels over a shared log₂ budget axis. Top: Kendall τ and Spearman ρ against the largest
    budget, a dashed line at `min_tau`. Bottom: seed noise σ and the spread between networks, in
    accuracy points (a budget separates networks when the spread is well above σ).
    The suffixes are appended to `path_without_suffix`; its folder is created when missing.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    _require(table, ("budget", "kendall_tau", "spearman_rho", "sigma", "spread"), "the fidelity table")
    base = Path(path_without_suffix)
    base.parent.mkdir(parents=True, exist_ok=True)
    budgets = table["budget"].astype(float).to_numpy()

    fig = Figure(figsize=(6, 5.6), layout="constrained")
    rank, noise = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    rank.plot(budgets, table["kendall_tau"], "o-", color="tab:blue", label="Kendall τ")
    rank.plot(budgets, table["spearman_rho"], "s--", color="tab:cyan", label="Spearman ρ")
    rank.axhline(min_tau, color="grey", linestyle="--", linewidth=1, label=f"τ = {min_tau:g}")
    rank.set_ylim(-1.05, 1.05)
    rank.set_ylabel("rank agreement with\nthe largest budget")
    rank.legend(fontsize=8, loc="lower right")
    rank.grid(alpha=0.3)
    if title:
        rank.set_title(title)

    noise.plot(budgets, table["sigma"] * 100, "^-", color="tab:red", label="seed noise σ")
    noise.plot(budgets, table["spread"] * 100, "v:", color="tab:orange", label="spread between networks")
    noise.set_ylim(bottom=0)
    noise.set_ylabel("accuracy points (%)")
    noise.set_xlabel("budget (epochs)")
    noise.legend(fontsize=8, loc="best")
    noise.grid(alpha=0.3)
    noise.set_xscale("log", base=2)
    noise.set_xticks(budgets, [f"{budget:g}" for budget in budgets])
    noise.minorticks_off()

    png = Path(f"{base}.png")
    svg = Path(f"{base}.svg")
    fig.savefig(png, dpi=150)
    fig.savefig(svg)
    return png, svg
