"""Figures of a sweep, like the paper's: accuracy against MACs (billions, log axis), one line per scaling
rule, error bars from the seed noise, points labelled with their factor; and an EDF of the errors.

fig3 has one panel per dimension, table3 one per baseline; fig8 adds a panel against activations
(Dollár et al.: activations, not MACs, predict run time). Each is written as PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "scalesearch"  # the same study draws the same SVG
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from scalesearch.sweep_analysis import Sweep, edf  # noqa: E402

FORMATS = ("png", "svg")
_SCALE = {"macs": 1e9, "activations": 1e6}
_SERIES_LABELS = {"width": "width (w)", "depth": "depth (d)", "resolution": "resolution (r)",
                  "compound": "compound (φ)", "dWr": "dWr, Dollár et al. (s)"}


def panels(sweep: Sweep) -> list[tuple[str, pd.DataFrame, str]]:
    """(title, rows, x column) of each panel."""
    table = sweep.table[sweep.table["status"] == "ok"]
    if sweep.kind == "fig3":
        return [(_SERIES_LABELS[s], rows, "macs") for s, rows in table.groupby("series", sort=False)]
    if sweep.kind == "table3":
        return [(str(model), rows, "macs") for model, rows in table.groupby("model", sort=False)]
    if sweep.kind == "fig8":
        return [("accuracy against MACs", table, "macs"), ("accuracy against activations", table, "activations")]
    return [("width sweeps under (d, r)", table, "macs")]


def sweep_figure(sweep: Sweep, stem: Path, title: str) -> tuple[Path, ...]:
    """Accuracy (%) ± 1 standard error against MACs or activations; returns the files written."""
    shown = panels(sweep)
    fig, axes = plt.subplots(1, len(shown), figsize=(max(6.0, 4.6 * len(shown)), 4.2), squeeze=False,
                             constrained_layout=True)
    for ax, (panel_title, rows, x) in zip(axes[0], shown):
        for series, line in rows.groupby("series", sort=False):
            line = line.drop_duplicates("network").sort_values(x)
            ax.errorbar(line[x] / _SCALE[x], line["accuracy"] * 100, yerr=line["uncertainty"].fillna(0) * 100,
                        marker="o", capsize=3, label=_SERIES_LABELS.get(series, series))
            for _, row in line.iterrows():
                ax.annotate(f"{row['factor']:g}", (row[x] / _SCALE[x], row["accuracy"] * 100), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("activations (millions)" if x == "activations" else "MACs (billions, nominal resolution)")
        ax.set_ylabel("proxy top-1 accuracy (%), ± 1 s.e.")
        ax.set_title(panel_title, fontsize=10)
        ax.grid(alpha=0.3)
        if sweep.kind != "fig3":
            ax.legend(fontsize=8)
    fig.suptitle(f"{title}\n{_noise_caption(sweep)}", fontsize=10)
    return _save(fig, stem)


def _noise_caption(sweep: Sweep) -> str:
    if not sweep.noise.known:
        return "seed noise unknown"
    return f"seed noise σ = {sweep.noise.sigma:.4f} top-1, {sweep.noise.dof} degrees of freedom"


def edf_figure(sweep: Sweep, stem: Path, title: str) -> tuple[Path, ...]:
    """Fraction of networks with top-1 error below e, one line per series (pycls's EDF view)."""
    table = sweep.table[sweep.table["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(5.5, 4.0), constrained_layout=True)
    for series, rows in table.groupby("series", sort=False):
        errors, fraction = edf(1 - rows.drop_duplicates("network")["accuracy"].to_numpy())
        ax.step(errors * 100, fraction, where="post", label=f"{_SERIES_LABELS.get(series, series)} (n={len(errors)})")
    ax.set_xlabel("proxy top-1 error (%)")
    ax.set_ylabel("cumulative fraction of networks")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: error EDF", fontsize=10)
    return _save(fig, stem)


def _save(fig: plt.Figure, stem: Path) -> tuple[Path, ...]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = tuple(stem.with_suffix(f".{suffix}") for suffix in FORMATS)
    try:
        for path in paths:
            fig.savefig(path, dpi=150, metadata={"Date": None} if path.suffix == ".svg" else None)
    finally:
        plt.close(fig)
    return paths
