"""The demo grid's accuracy floor at several epoch budgets: every network with K seeds, run for run.

For each budget E, runs `scalesearch grid --phi 1 --seed S --seeds K --epochs E` (the demo grid,
every network trained with seeds S .. S+K−1) into RUNS_DIR/epochs-E-seeds-S-(S+K−1) (a run
whose study has finished is read back, not run again), then prints each network's accuracy per
seed, the lowest run, the mean, the pooled seed noise σ, the runs at or above `--floor`, the
share of single runs a normal distribution of that mean and σ puts below the floor, the
trainings' wall time (the study's own timestamps, first start to last end) and the F-test of
the networks' spread against σ; then a paired t-test of every run against the same (network,
seed) at the first budget (`scipy.stats.ttest_rel`), with the range of the runs' gains. Extra
arguments go to every grid run:

    python benchmarks/budget_choice.py --epochs 3,4 --seeds 3
    python benchmarks/budget_choice.py --epochs 4 --seed 3 --seeds 2      # seeds 3 and 4 only
    python benchmarks/budget_choice.py --epochs 3,4 --seeds 3 -- --train-images 2000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import optuna
from scipy import stats

from scalesearch.cli.numbers import bounded_float, bounded_int, number_list
from scalesearch.noise import pooled_seed_std, spread_test
from scalesearch.storage import default_storage_url, open_read_only
from scalesearch.study import study_results, wall_span
from scalesearch.study_config import MAX_SEEDS
from scalesearch.training.config import EPOCHS, SEED

STUDY = "budget-choice"


class Budget(NamedTuple):
    """One budget's runs: accuracy of every (network, seed), and the trainings' wall seconds."""

    epochs: float
    runs: dict[tuple[str, int], float]
    wall: float


def run_budget(runs_dir: Path, epochs: float, first_seed: int, seeds: int, extra: list[str]) -> Budget:
    """The grid at `epochs` with seeds `first_seed` .. + `seeds` − 1 per network, run unless its study already
    finished."""
    folder = runs_dir / f"epochs-{epochs:g}-seeds-{first_seed}-{first_seed + seeds - 1}"
    if not (folder / STUDY / "results.csv").exists():
        command = [sys.executable, "-m", "scalesearch", "grid", "--phi", "1", "--seed", str(first_seed),
                   "--seeds", str(seeds), "--epochs", f"{epochs:g}", "--runs-dir", str(folder), "--study", STUDY,
                   "--quiet", *extra]
        print("$", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    study = optuna.load_study(study_name=STUDY, storage=open_read_only(default_storage_url(folder / STUDY)))
    runs = {(result.plan.name, seed): accuracy for result in study_results(study) if result.status == "ok"
            for seed, accuracy in zip(result.seeds, result.accuracies)}
    return Budget(epochs, runs, wall_span(study))


def print_table(budgets: list[Budget], floor: float) -> None:
    """One row per budget: each network's runs by seed, the lowest, mean, σ, runs ≥ floor, the normal estimate
    of a run below it and the wall time; then each budget's F-test of the networks' spread against σ."""
    networks = sorted({network for budget in budgets for network, _ in budget.runs})
    print("networks: " + "; ".join(f"{chr(97 + i)} = {name}" for i, name in enumerate(networks)))
    print("\n| epochs | " + " | ".join(chr(97 + i) for i in range(len(networks)))
          + f" | lowest | mean | pooled σ (dof) | runs ≥ {floor:g} | below {floor:g}, normal estimate | wall |")
    print("|---|" + "---|" * (len(networks) + 6))
    spreads = []
    for budget in budgets:
        groups = {network: [budget.runs[key] for key in sorted(budget.runs) if key[0] == network] for network in networks}
        values = list(budget.runs.values())
        mean = sum(values) / len(values)
        noise = pooled_seed_std(groups.values())
        below = stats.norm.cdf((floor - mean) / noise.sigma) if noise.known and noise.sigma > 0 else float("nan")
        passed = sum(v >= floor for v in values)
        minutes, seconds = divmod(round(budget.wall), 60)
        cells = " | ".join(", ".join(f"{v:.4g}" for v in runs) for runs in groups.values())
        print(f"| {budget.epochs:g} | {cells} | {min(values):.4g} | {mean:.4f} | {noise.sigma:.4f} ({noise.dof}) "
              f"| {passed} of {len(values)} | {below:.1%} | {minutes} min {seconds} s |")
        ran = [runs for runs in groups.values() if runs]
        spread = spread_test([sum(r) / len(r) for r in ran], [len(r) for r in ran], noise)
        spreads.append(f"{budget.epochs:g} epochs: {spread.line()}" if spread else f"{budget.epochs:g} epochs: no F-test")
    print("\n" + "\n".join(spreads))


def print_paired(budgets: list[Budget]) -> None:
    """Each later budget against the first, over the (network, seed) runs both have."""
    first = budgets[0]
    for budget in budgets[1:]:
        keys = sorted(set(first.runs) & set(budget.runs))
        if len(keys) < 2:
            continue
        test = stats.ttest_rel([budget.runs[k] for k in keys], [first.runs[k] for k in keys])
        gains = [budget.runs[k] - first.runs[k] for k in keys]
        print(f"{budget.epochs:g} against {first.epochs:g} epochs, paired over {len(keys)} runs: "
              f"{sum(gains) / len(gains):+.4f} top-1 on average ({sum(g > 0 for g in gains)} of {len(gains)} runs "
              f"gained; from {min(gains):+.4f} to {max(gains):+.4f}), t = {test.statistic:.2f}, "
              f"p = {test.pvalue:.2g}; wall time × {budget.wall / first.wall:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/budget-choice"))
    parser.add_argument("--epochs", type=number_list(EPOCHS, 8, low_open=True), default=(3.0, 4.0),
                        help="comma-separated epoch budgets, the reference first (default 3,4)")
    parser.add_argument("--seed", type=bounded_int(*SEED), default=0, help="the first seed (default 0)")
    parser.add_argument("--seeds", type=bounded_int(2, MAX_SEEDS), default=3,
                        help=f"seeds per network, 2 to {MAX_SEEDS} (default 3)")
    parser.add_argument("--floor", type=bounded_float(0.0, 1.0), default=0.8, help="top-1 to count runs against (default 0.8)")
    parser.add_argument("extra", nargs="*", help="arguments for every grid run (after --)")
    args = parser.parse_args()
    results = [run_budget(args.runs_dir, epochs, args.seed, args.seeds, args.extra) for epochs in args.epochs]
    print_table(results, args.floor)
    print()
    print_paired(results)


if __name__ == "__main__":
    main()
