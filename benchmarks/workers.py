"""The grid's default worker count on the CPU: one worker on every thread against one worker per core.

Runs `scalesearch grid --phi 1` (the demo, or the grid that the arguments after `--` describe)
with `--workers 1` (torch on every core) and with `--workers N` (N = the CPU's cores, one torch
thread each), in turns, each into a fresh folder, and prints the wall time of each whole command,
the span of its trials by the study's own timestamps, the ratio N workers / 1 worker, and the
top-1 accuracies of both (thread counts differ, so the float sums and the accuracies may too).

    python benchmarks/workers.py                     # the demo grid, one round (about 20 min on 2 cores)
    python benchmarks/workers.py --rounds 2 -- --epochs 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from scalesearch.cli.numbers import bounded_int
from scalesearch.cli.study_options import MAX_WORKERS
from scalesearch.study import wall_span

STUDY = "workers-bench"


def run_grid(workers: int, extra: list[str], folder: Path) -> tuple[float, float, list[float], str]:
    """(command wall seconds, trials' span in seconds, top-1 of each network in network order, printed output)."""
    command = [sys.executable, "-m", "scalesearch", "grid", "--phi", "1", "--study", STUDY, "--runs-dir", str(folder),
               "--workers", str(workers), "--quiet", *extra]
    started = time.perf_counter()
    printed = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    wall = time.perf_counter() - started
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{folder / STUDY / 'study.db'}")
    trials = [t for t in study.get_trials() if "accuracy" in t.user_attrs]
    by_network = sorted(trials, key=lambda t: t.user_attrs["network"])
    return wall, wall_span(study), [round(t.user_attrs["accuracy"], 4) for t in by_network], printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=bounded_int(1, 10), default=1,
                        help="rounds of (1 worker, N workers), 1 to 10 (default 1)")
    parser.add_argument("--workers", type=bounded_int(1, MAX_WORKERS),
                        default=min(os.cpu_count() or 1, MAX_WORKERS),
                        help=f"N, 1 to {MAX_WORKERS} (default: the CPU's cores, at most {MAX_WORKERS})")
    parser.add_argument("--out", type=Path, help="keep each run's printed ranking here as workers-N-round-R.txt")
    parser.add_argument("grid_args", nargs="*", help="after --: more `scalesearch grid` arguments")
    args = parser.parse_args()
    rows, ratios = [], []
    for round_ in range(args.rounds):
        figures = {}
        for workers in (1, args.workers):
            with tempfile.TemporaryDirectory() as folder:
                figures[workers] = run_grid(workers, args.grid_args, Path(folder))
                wall, span, top1, printed = figures[workers]
                if args.out:
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / f"workers-{workers}-round-{round_}.txt").write_text(printed)
                rows.append(f"| {round_} | {workers} | {wall:.0f} | {span:.0f} | {', '.join(map(str, top1))} |")
                print(rows[-1], file=sys.stderr, flush=True)
        ratios.append(figures[args.workers][0] / figures[1][0])
    print(f"grid --phi 1 {' '.join(args.grid_args)}; {os.cpu_count()} cores\n")
    print("| round | workers | wall s | trials s | top-1 by network |\n|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nwall time, {args.workers} workers / 1 worker: median {statistics.median(ratios):.2f} "
          f"over {len(ratios)} round(s) ({', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
