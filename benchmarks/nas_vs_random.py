"""Is the architecture search better than chance? TPE against random search, same trials, several seeds.

For each seed, runs `scalesearch nas` with `--sampler tpe` and `--sampler random` (same trials, same
data, same training; seed = the sampler's and the trainings' seed) as separate studies under one runs
folder (a rerun reuses finished studies), then reports per sampler the best reward found (mean ± std
over seeds) and the Pareto hypervolume of (accuracy, MACs): the area the front dominates in (accuracy,
log10 MACs) from the reference point (accuracy 0, the largest MACs of the space). The default is a
small B0-shaped skeleton on the embedded data, sized to run in about 15 minutes on a 2-core CPU:

    python benchmarks/nas_vs_random.py
    python benchmarks/nas_vs_random.py --trials 40 --seeds 0,1,2,3,4 -- --epochs 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import optuna

from scalesearch.cli.numbers import bounded_int
from scalesearch.cost import spec_cost
from scalesearch.nas import MAX_TRIALS, hypervolume, search_results, space_of
from scalesearch.spec import NetworkSpec
from scalesearch.storage import default_storage_url, open_storage
from scalesearch.study import stored_config

SAMPLERS = ("tpe", "random")
# EfficientNet-B0's 7 stages (strides, kernels, expansion, SE) at about 1/4 of its widths.
SKELETON = {
    "name": "b0-small", "stem": {"channels": 8, "stride": 2},
    "stages": [{"op": "mbconv", "channels": c, "stride": s, "expand": e, "kernel": k, "se": 0.25, "repeats": n}
               for c, s, e, k, n in ((8, 1, 1, 3, 1), (16, 2, 6, 3, 2), (24, 2, 6, 5, 2), (32, 2, 6, 3, 2),
                                     (40, 1, 6, 5, 2), (64, 2, 6, 5, 2), (96, 1, 6, 3, 1))],
    "head": {"channels": 256, "dropout": 0.2}, "resolution": 64,
}
TRAINING = ["--train-images", "1000", "--test-images", "300", "--epochs", "3", "--batch-size", "50",
            "--proxy-resolution", "16", "--noise-seeds", "2", "--device", "cpu", "--quiet"]


def run_search(runs_dir: Path, skeleton: Path, sampler: str, seed: int, trials: int, extra: list[str]) -> float:
    """Run (or resume) one search; its wall seconds in this call."""
    command = [sys.executable, "-m", "scalesearch", "nas", "--skeleton", str(skeleton), "--sampler", sampler,
               "--trials", str(trials), "--seed", str(seed), "--study", f"{sampler}-seed{seed}", "--runs-dir",
               str(runs_dir), *TRAINING, *extra]
    print("$", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def measure(runs_dir: Path, study_name: str) -> tuple[float, float]:
    """(best reward among networks trained to the end, Pareto hypervolume) of a finished search."""
    url = default_storage_url(runs_dir / study_name)
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    config = stored_config(study)
    results = [r for r in search_results(study) if r.status == "ok"]
    reference = spec_cost(space_of(config).extreme(largest=True)).macs
    return max(r.objective for r in results), hypervolume(results, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=bounded_int(1, MAX_TRIALS), default=16,
                        help=f"trials per search, 1 to {MAX_TRIALS} (default 16)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/nas_vs_random"))
    parser.add_argument("extra", nargs="*", help="arguments for every `scalesearch nas` run (after --)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if len(seeds) < 2:
        parser.error("give at least 2 seeds: the figures are means ± standard deviations over seeds")
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    skeleton = args.runs_dir / "b0-small.json"
    skeleton.write_text(json.dumps(SKELETON))
    macs = spec_cost(NetworkSpec.from_dict(SKELETON)).macs
    extra = ["--target-macs", str(macs), *args.extra]
    wall = 0.0
    figures: dict[str, list[tuple[float, float]]] = {s: [] for s in SAMPLERS}
    for seed in seeds:
        for sampler in SAMPLERS:  # interleaved, so that a slower machine later hurts both alike
            wall += run_search(args.runs_dir, skeleton, sampler, seed, args.trials, extra)
            figures[sampler].append(measure(args.runs_dir, f"{sampler}-seed{seed}"))
    print(f"\n{args.trials} trials per search, seeds {args.seeds}, T = {macs:,} MACs (the skeleton's); "
          f"wall time {wall / 60:.1f} min")
    print("| sampler | best reward per seed | best reward, mean ± std | hypervolume, mean ± std |")
    print("|---|---|---|---|")
    for sampler, rows in figures.items():
        rewards, volumes = [r for r, _ in rows], [v for _, v in rows]
        print(f"| {sampler} | {', '.join(f'{r:.4f}' for r in rewards)} | {statistics.mean(rewards):.4f} ± "
              f"{statistics.stdev(rewards):.4f} | {statistics.mean(volumes):.4f} ± {statistics.stdev(volumes):.4f} |")


if __name__ == "__main__":
    main()
