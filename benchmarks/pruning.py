"""What pruning saves on the demo grid, over several seeds, and whether it keeps a tied-best network.

For each seed, runs the same `scalesearch grid --phi 1` twice, exhaustive (--prune none) and
pruned (--prune PRUNER, first rung or screening run --prune-from), interleaved, as separate
studies under one runs folder (each run's printed ranking is kept in runs/…/STUDY/output.txt; a
rerun of this script reuses finished runs); then compares the epochs trained (screening runs
included), the training wall time, and the sets of networks each search cannot tell from its
best (the tie test of its own ranking); then, with two seeds or more, the tie sets again with
the seed noise pooled over the exhaustive runs' accuracies across seeds (each network trained
once per seed), a figure from the benchmark's own repetitions; and, for `--pruner screen`, which
networks the screen left out within noise of its best (σ at the screen's budget pooled over the
pruned searches' screening runs across seeds): with them, the networks the pruned search cannot
rule out. Extra arguments go to every run:

    python benchmarks/pruning.py --seeds 0,1,2 --prune-from 2
    python benchmarks/pruning.py --pruner screen --prune-from 2 -- --epochs 8 --noise-from runs/calibrate-b0-to8
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import optuna

from scalesearch.cli.numbers import bounded_int
from scalesearch.noise import pooled_seed_std, spread_test
from scalesearch.record import NetworkResult
from scalesearch.results import rank
from scalesearch.screening import PROMOTED_KEY, LeftOutCheck, check_left_out
from scalesearch.storage import default_storage_url, open_storage
from scalesearch.study import epochs_trained, screen_results, stored_config, study_results, wall_span
from scalesearch.study_config import MAX_PRUNE_EPOCH, KnownNoise, StudyConfig
from scalesearch.training.config import SEED


class Search(NamedTuple):
    """What one grid run found and what it cost."""

    wall: float  # training wall seconds
    tied: set[str]  # the networks its tie test cannot tell from its best
    epochs: float  # epochs trained, over seeds and screening runs
    best: str  # its best network
    finished: set[str]  # the networks it trained to the end
    results: list[NetworkResult]  # one per network, to rank again with another noise figure
    config: StudyConfig
    screens: list[NetworkResult]  # every screening run (--prune screen), else none
    promoted: tuple[int, ...]  # the networks the screen promoted


def accuracies_by_network(runs: list[list[NetworkResult]]) -> dict[str, list[float]]:
    """Every seed's accuracy of each network, over the lists `runs` (one per search), trainings that ended only."""
    accuracies: dict[str, list[float]] = {}
    for results in runs:
        for result in results:
            if result.status == "ok":
                accuracies.setdefault(result.plan.name, []).extend(result.accuracies)
    return accuracies


def tied_under(search: Search, known: KnownNoise) -> set[str]:
    """The networks `search`'s ranking cannot tell from its best when the seed noise is `known`."""
    return set(rank(search.results, search.config.scoring, known=known).tied["candidate"])


def run_grid(runs_dir: Path, study: str, seed: int, prune: list[str], extra: list[str]) -> Search:
    """What one grid run found and what it cost.

    The wall time is the study's own: from its first trial's start to its last trial's end, so it
    can be read back later; a run that finished in an earlier call of this script (its printed
    output is in output.txt) is not run again.
    """
    output = runs_dir / study / "output.txt"
    if not output.exists():
        command = [sys.executable, "-m", "scalesearch", "grid", "--phi", "1", "--runs-dir", str(runs_dir),
                   "--study", study, "--seed", str(seed), *prune, *extra]
        print("$", " ".join(command[1:]), flush=True)
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        head = [line for line in done.stderr.splitlines() if line.startswith("grid: ")]
        output.write_text("\n".join(head) + "\n" + done.stdout)  # what the command printed
    loaded = optuna.load_study(study_name=study, storage=open_storage(default_storage_url(runs_dir / study)))
    results = study_results(loaded)
    config = stored_config(loaded)
    ranking = rank(results, config.scoring, known=config.known_noise)
    return Search(wall_span(loaded), set(ranking.tied["candidate"]), epochs_trained(loaded), ranking.table["candidate"].iloc[0],
                  {r.plan.name for r in results if r.status == "ok"}, list(results), config, screen_results(loaded),
                  tuple(loaded.user_attrs.get(PROMOTED_KEY) or ()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/pruning-bench"))
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--pruner", default="sha", choices=("sha", "hyperband", "screen"))
    parser.add_argument("--prune-from", type=bounded_int(1, MAX_PRUNE_EPOCH), default=2,
                        help=f"first pruning epoch, or the screening run's epochs, 1 to {MAX_PRUNE_EPOCH} (default 2)")
    parser.add_argument("extra", nargs="*", help="arguments for every grid run (after --)")
    args = parser.parse_args()
    try:
        seeds = [bounded_int(*SEED)(text) for text in args.seeds.split(",")]
    except argparse.ArgumentTypeError as error:
        parser.error(f"--seeds: {error}")

    rows = []
    for seed in seeds:
        full = run_grid(args.runs_dir, f"exhaustive-{seed}", seed, ["--prune", "none"], args.extra)
        pruned = run_grid(args.runs_dir, f"{args.pruner}-{seed}", seed,
                          ["--prune", args.pruner, "--prune-from", str(args.prune_from)], args.extra)
        rows.append((seed, full, pruned))

    print("\n| seed | epochs exhaustive | epochs pruned | compute | wall exhaustive | wall pruned | wall ratio "
          "| tied-best exhaustive | tied-best pruned | keeps one | keeps the best |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed, full, pruned in rows:
        print(f"| {seed} | {full.epochs:.1f} | {pruned.epochs:.1f} | {pruned.epochs / full.epochs:.0%} "
              f"| {full.wall:.0f} s | {pruned.wall:.0f} s | {pruned.wall / full.wall:.2f} | {len(full.tied)} "
              f"| {len(pruned.tied)} | {'yes' if full.tied & pruned.tied else 'no'} "
              f"| {'yes' if full.best in pruned.finished else 'no'} |")
    kept = sum(bool(full.tied & pruned.tied) for _, full, pruned in rows)
    best = sum(full.best in pruned.finished for _, full, pruned in rows)
    compute = sum(p.epochs for _, _, p in rows) / sum(f.epochs for _, f, _ in rows)
    wall = sum(p.wall for _, _, p in rows) / sum(f.wall for _, f, _ in rows)
    same = sum(full.tied == pruned.tied for _, full, pruned in rows)
    print(f"\nover {len(rows)} seeds: pruned training compute {compute:.0%} of exhaustive (wall {wall:.0%}); "
          f"a tied-best network kept in {kept}/{len(rows)}; the same tied-best set in {same}/{len(rows)}; "
          f"the exhaustive search's best trained to the end in {best}/{len(rows)}")
    own = rows[0][2].config.screen_noise
    if own is not None:  # the searches' own screen noise, from their calibration
        print_open_sets(f"the seed noise its calibration measured ({own.source}, σ = {own.sigma:.4f})",
                        [(seed, full.tied, pruned.tied, screen_left_out(pruned, own)) for seed, full, pruned in rows])
    groups = list(accuracies_by_network([full.results for _, full, _ in rows]).values())
    estimate = pooled_seed_std(groups)
    if not estimate.known:
        return
    known = KnownNoise(estimate.sigma, estimate.dof, f"the exhaustive runs of {len(rows)} seeds")
    print(f"\nthe same, with the seed noise of the exhaustive runs across the {len(rows)} seeds "
          f"(σ = {known.sigma:.4f}, {known.dof} degrees of freedom) in every tie test:\n")
    print("| seed | tied-best exhaustive | tied-best pruned | keeps one | same set |")
    print("|---|---|---|---|---|")
    sets = [(seed, tied_under(full, known), tied_under(pruned, known)) for seed, full, pruned in rows]
    for seed, full_tied, pruned_tied in sets:
        print(f"| {seed} | {len(full_tied)} | {len(pruned_tied)} | {'yes' if full_tied & pruned_tied else 'no'} "
              f"| {'yes' if full_tied == pruned_tied else 'no'} |")
    print(f"\nover {len(rows)} seeds: a tied-best network kept in {sum(bool(f & p) for _, f, p in sets)}/{len(rows)}; "
          f"the same tied-best set in {sum(f == p for _, f, p in sets)}/{len(rows)}")
    spread = spread_test([sum(g) / len(g) for g in groups], [len(g) for g in groups], estimate)
    if spread:
        print(f"the exhaustive runs, {len(groups)} networks × their seeds: {spread.line()}")
    print_not_ruled_out(rows, sets)


def print_not_ruled_out(rows: list[tuple[int, Search, Search]], sets: list[tuple[int, set[str], set[str]]]) -> None:
    """For screened searches: the networks each screen left out within noise of its best, σ at the screen's
    budget pooled over every seed's screening runs (`sets`: the tie sets under the exhaustive runs' noise)."""
    estimate = pooled_seed_std(accuracies_by_network([pruned.screens for _, _, pruned in rows]).values())
    if not estimate.known:
        return
    epochs = rows[0][2].config.pruning.min_epoch
    known = KnownNoise(estimate.sigma, estimate.dof, f"the screening runs of {len(rows)} seeds")
    print_open_sets(f"the seed noise of the {epochs}-epoch screening runs across the {len(rows)} seeds "
                    f"(σ = {known.sigma:.4f}, {known.dof} degrees of freedom)",
                    [(seed, full_tied, pruned_tied, screen_left_out(pruned, known))
                     for (seed, _, pruned), (_, full_tied, pruned_tied) in zip(rows, sets)])


def screen_left_out(search: Search, known: KnownNoise) -> LeftOutCheck | None:
    """What `search`'s screen left out, tested with the screen noise `known`."""
    return check_left_out(search.screens, search.promoted, known, search.config.pruning.min_epoch)


def print_open_sets(noise_used: str, rows: list[tuple[int, set[str], set[str], LeftOutCheck | None]]) -> None:
    """Per seed (exhaustive tie set, pruned tie set, the pruned screen's check under `noise_used`): the networks
    the pruned search cannot rule out, its tie set and what it left out within noise, against the exhaustive
    tie set."""
    print(f"\nwhat each screen left out, tested with {noise_used}; not ruled out: the pruned search's tied-best "
          f"networks and those left out within noise:\n")
    print("| seed | left out | within noise at the screen | tied-best exhaustive | not ruled out, pruned | same set |")
    print("|---|---|---|---|---|---|")
    same = 0
    for seed, full_tied, pruned_tied, check in rows:
        within = set(check.within_noise) if check else set()
        open_set = pruned_tied | within
        same += open_set == full_tied
        print(f"| {seed} | {len(check.left_out) if check else 0} | {len(within)} | {len(full_tied)} | {len(open_set)} "
              f"| {'yes' if open_set == full_tied else 'no'} |")
    print(f"\nover {len(rows)} seeds: the networks the pruned search cannot rule out are the exhaustive search's "
          f"tied-best set in {same}/{len(rows)}")

if __name__ == "__main__":
    main()
