"""What pruning saves on a real grid, and whether the exhaustive grid's best candidate survives it.

Runs the same `scalesearch grid` twice, exhaustive (--prune none) and pruned (--prune sha
by default), as separate studies under one runs folder, then compares them. Extra
arguments go to both runs, e.g.:

    python benchmarks/pruning.py --runs-dir runs/pruning-bench
    python benchmarks/pruning.py --runs-dir runs/pruning-bench --pruner hyperband -- --epochs 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd


def run_grid(runs_dir: Path, study: str, prune: str, extra: list[str]) -> pd.DataFrame:
    command = [sys.executable, "-m", "scalesearch", "grid", "--phi", "1", "--runs-dir", str(runs_dir),
               "--study", study, "--prune", prune, *extra]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True)
    return pd.read_csv(runs_dir / study / "results.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/pruning-bench"))
    parser.add_argument("--pruner", default="sha", choices=("sha", "hyperband"))
    parser.add_argument("extra", nargs="*", help="arguments for both grid runs (after --)")
    args = parser.parse_args()

    exhaustive = run_grid(args.runs_dir, "exhaustive", "none", args.extra)
    pruned = run_grid(args.runs_dir, f"pruned-{args.pruner}", args.pruner, args.extra)

    cost_full, cost_pruned = exhaustive["wall_seconds"].sum(), pruned["wall_seconds"].sum()
    epochs_full, epochs_pruned = exhaustive["epochs_trained"].sum(), pruned["epochs_trained"].sum()
    best = exhaustive.iloc[0]
    key = ["alpha", "beta", "gamma"]
    match = pruned.merge(best[key].to_frame().T.astype(float), on=key)
    survived = bool(len(match)) and match.iloc[0]["state"] == "complete"
    print(f"\ncandidates: {len(exhaustive)}; pruned by {args.pruner}: {(pruned['state'] == 'pruned').sum()}")
    print(f"epochs trained: exhaustive {epochs_full:g}, pruned {epochs_pruned:g} "
          f"-> saves {100 * (1 - epochs_pruned / epochs_full):.0f}%")
    print(f"training wall time: exhaustive {cost_full:.0f} s, pruned {cost_pruned:.0f} s "
          f"-> saves {100 * (1 - cost_pruned / cost_full):.0f}%")
    print(f"exhaustive best α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g} "
          f"(objective {best['objective']:.4f}): {'survives' if survived else 'is pruned'}; "
          f"rank under pruning {int(match.iloc[0]['rank']) if len(match) else 'n/a'}; "
          f"pruned run's best α={pruned.iloc[0]['alpha']:g} β={pruned.iloc[0]['beta']:g} "
          f"γ={pruned.iloc[0]['gamma']:g}")


if __name__ == "__main__":
    main()
