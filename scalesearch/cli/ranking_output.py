"""Print a grid study's ranking with its noise, and write results.csv and the figures."""

from __future__ import annotations

from pathlib import Path

import optuna

from scalesearch import plots
from scalesearch.baselines import baseline_name
from scalesearch.errors import UserError
from scalesearch.results import RANKING_COLUMNS, Ranking, rank
from scalesearch.study import network_count, study_results
from scalesearch.study_config import StudyConfig

_HEADERS = {"candidate": "α β γ (all that build it)", "macs": "MACs", "macs_ratio": "MACs/T",
            "uncertainty": "±", "tied_with_best": "≈best"}


def report_ranking(study: optuna.Study, config: StudyConfig, run_dir: Path, top: int, baseline_argument: str) -> None:
    """Print the ranking, its noise and the best network (or why there is none); then write the files."""
    ranking = rank(study_results(study), config.scoring)
    table = ranking.table
    if table.empty:
        print("no network evaluated yet")
        return
    shown = table[RANKING_COLUMNS].head(top).rename(columns=_HEADERS)
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\n{len(table)} of {network_count(study)} networks evaluated ({len(config.points)} candidates); "
          f"{ranking.noise_line()}")
    _print_best(ranking, config, baseline_argument)
    _write(ranking, run_dir, f"{baseline_name(config.baseline)}, φ={dict(config.settings)['phi']:g}")


def _print_best(ranking: Ranking, config: StudyConfig, baseline_argument: str) -> None:
    best = ranking.best
    if best is None:
        print("no network trained to the end (all pruned or diverged): no best to recommend")
        return
    uncertainty = f" ± {best['uncertainty']:.4f}" if best["uncertainty"] == best["uncertainty"] else ""
    verdict = ranking.verdict(len(config.seeds))
    print(f"best: {best['candidate']} (accuracy {best['accuracy']:.4f}{uncertainty}, objective "
          f"{best['objective']:.4f}){'; ' + verdict if verdict else ''}")
    print(f"scale it: scalesearch scale {baseline_argument} --alpha {best['alpha']:g} --beta {best['beta']:g} "
          f"--gamma {best['gamma']:g} --phi 0..7")


def _write(ranking: Ranking, run_dir: Path, title: str) -> None:
    """results.csv and figures/; a full disk or a read-only folder ends in one line, after the ranking."""
    try:
        ranking.table.to_csv(run_dir / "results.csv", index=False)
        figures = run_dir / "figures"
        figures.mkdir(exist_ok=True)
        plots.accuracy_vs_macs(ranking.table, figures / "accuracy_vs_macs.png", title)
        plots.objective_plane(ranking.table, figures / "objective_alpha_beta.png", title)
    except OSError as exc:
        raise UserError(f"cannot write results to {run_dir}: {exc.strerror or exc}") from None
    print(f"results: {run_dir / 'results.csv'}; figures: {run_dir / 'figures'}")
