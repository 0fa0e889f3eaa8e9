"""Print a grid study's ranking with its noise, and write results.csv, the figures and report.md."""

from __future__ import annotations

from pathlib import Path

import optuna

from scalesearch.errors import UserError
from scalesearch.grid_report import (NO_RESULTS, best_line, evaluated_line, noise_verdict_lines, ranking_view,
                                     scale_command)
from scalesearch.report import write_report
from scalesearch.results import Ranking, rank
from scalesearch.study import study_results
from scalesearch.study_config import StudyConfig


def report_ranking(study: optuna.Study, config: StudyConfig, run_dir: Path, top: int, baseline_argument: str) -> None:
    """Print the ranking, its noise and the best network (or why there is none); then write the files."""
    ranking = rank(study_results(study), config.scoring, known=config.known_noise)
    if ranking.table.empty:
        print(NO_RESULTS)
        return
    print(ranking_view(ranking).head(top).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\n{evaluated_line(ranking, study, config)}")
    for line in noise_verdict_lines(ranking, study, config):
        print(line)
    print(best_line(ranking, config))
    command = scale_command(ranking, baseline_argument)
    if command:
        print(f"scale it: {command}")
    _write(ranking, study, run_dir)


def _write(ranking: Ranking, study: optuna.Study, run_dir: Path) -> None:
    """results.csv, figures/ and report.md; a full disk or a read-only folder ends in one line, after the ranking."""
    try:
        ranking.table.to_csv(run_dir / "results.csv", index=False)
    except OSError as exc:
        raise UserError(f"cannot write results to {run_dir}: {exc.strerror or exc}") from None
    report = write_report(study, run_dir)
    print(f"results: {run_dir / 'results.csv'}; figures: {run_dir / 'figures'}")
    print(f"report: {report}")
