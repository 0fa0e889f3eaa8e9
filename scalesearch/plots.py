"""Figures of a coefficient search: accuracy against MACs, and the objective over the (α, β) plane."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def accuracy_vs_macs(table: pd.DataFrame, path: Path, title: str) -> None:
    """Held-out proxy accuracy of every candidate against its MACs; the best one circled."""
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    for state, marker in (("complete", "o"), ("pruned", "x")):
        rows = table[table["state"] == state]
        if len(rows):
            ax.scatter(rows["macs"] / 1e6, rows["accuracy"] * 100, marker=marker, alpha=0.8, label=state)
    best = table.iloc[0]
    ax.scatter([best["macs"] / 1e6], [best["accuracy"] * 100], s=160, facecolors="none", edgecolors="red",
               label=f"best α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g}")
    ax.set_xlabel("MACs (M, nominal resolution)")
    ax.set_ylabel("proxy top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def objective_plane(table: pd.DataFrame, path: Path, title: str) -> None:
    """Objective of each completed candidate at (α, β), coloured; γ written next to each point."""
    rows = table[table["state"] == "complete"]
    fig, ax = plt.subplots(figsize=(6, 4.6), constrained_layout=True)
    points = ax.scatter(rows["alpha"], rows["beta"], c=rows["objective"], cmap="viridis", s=70)
    for _, row in rows.iterrows():
        ax.annotate(f"{row['gamma']:g}", (row["alpha"], row["beta"]), fontsize=6, xytext=(3, 3),
                    textcoords="offset points")
    if len(rows):
        best = rows.loc[rows["objective"].idxmax()]
        ax.scatter([best["alpha"]], [best["beta"]], s=220, facecolors="none", edgecolors="red", label="best")
        ax.legend(fontsize=8)
    fig.colorbar(points, ax=ax, label="objective ACC·(MACs/T)^w")
    ax.set_xlabel("α (depth)")
    ax.set_ylabel("β (width)")
    ax.set_title(f"{title}\n(numbers: γ, resolution coefficient)", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)
