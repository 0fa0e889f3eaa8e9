"""Figures of a coefficient search: accuracy against MACs with error bars, and the objective over (α, β)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def accuracy_vs_macs(table: pd.DataFrame, path: Path, title: str) -> None:
    """Held-out proxy accuracy ± its standard error against MACs; the set tied with the best ringed."""
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    for status, marker in (("ok", "o"), ("pruned", "x"), ("diverged", "v")):
        rows = table[table["status"] == status]
        if len(rows):
            ax.errorbar(rows["macs"] / 1e6, rows["accuracy"] * 100, yerr=rows["uncertainty"].fillna(0) * 100,
                        fmt=marker, alpha=0.8, capsize=3, label=status if status != "ok" else "trained")
    tied = table[table["tied_with_best"]]
    if len(tied):
        ax.scatter(tied["macs"] / 1e6, tied["accuracy"] * 100, s=160, facecolors="none", edgecolors="red",
                   label=f"within noise of the best ({len(tied)})")
    ax.set_xlabel("MACs (M, nominal resolution)")
    ax.set_ylabel("proxy top-1 accuracy (%), ± 1 standard error")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def objective_plane(table: pd.DataFrame, path: Path, title: str) -> None:
    """Objective of each trained network at its (α, β), coloured; γ written next to each point."""
    rows = table[table["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(6, 4.6), constrained_layout=True)
    points = ax.scatter(rows["alpha"], rows["beta"], c=rows["objective"], cmap="viridis", s=70)
    for _, row in rows.iterrows():
        ax.annotate(f"{row['gamma']:g}", (row["alpha"], row["beta"]), fontsize=6, xytext=(3, 3),
                    textcoords="offset points")
    tied = rows[rows["tied_with_best"]]
    if len(tied):
        ax.scatter(tied["alpha"], tied["beta"], s=220, facecolors="none", edgecolors="red",
                   label="within noise of the best")
        ax.legend(fontsize=8)
    fig.colorbar(points, ax=ax, label="objective ACC·(MACs/T)^w")
    ax.set_xlabel("α (depth)")
    ax.set_ylabel("β (width)")
    ax.set_title(f"{title}\n(numbers: γ, resolution coefficient; first candidate of each network)", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)
