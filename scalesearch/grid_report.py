"""What a grid study says, in words, tables and figures: shared by the printed ranking and report.md."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd

from scalesearch import plots
from scalesearch.baselines import baseline_name
from scalesearch.report import ReportSection, markdown_table
from scalesearch.results import NO_RESULTS, RANKING_COLUMNS, Ranking, rank
from scalesearch.study import network_count, screen_check, study_results
from scalesearch.study_config import StudyConfig

RANKING_HEADERS = {"candidate": "α β γ (all that build it)", "macs": "MACs", "macs_ratio": "MACs/T",
                   "uncertainty": "±", "tied_with_best": "≈best"}
FIGURES = (Path("figures") / "accuracy_vs_macs.png", Path("figures") / "objective_alpha_beta.png")


def ranking_view(ranking: Ranking) -> pd.DataFrame:
    """The ranking's shown columns under their printed headers."""
    return ranking.table[RANKING_COLUMNS].rename(columns=RANKING_HEADERS)


def evaluated_line(ranking: Ranking, study: optuna.Study, config: StudyConfig) -> str:
    """How many networks have a result, and the seed noise."""
    return (f"{len(ranking.table)} of {network_count(study)} networks evaluated ({len(config.points)} candidates); "
            f"{ranking.noise_line()}")


def noise_verdict_lines(ranking: Ranking, study: optuna.Study, config: StudyConfig) -> list[str]:
    """After the evaluated line: whether the networks differ at all, and what a screen left out within noise."""
    spread = ranking.spread_line()
    check = screen_check(study, config)
    return [line for line in (spread, check.line(ranking.confidence) if check else None) if line]


def best_line(ranking: Ranking, config: StudyConfig) -> str:
    """The best network with its noise verdict, or why there is none."""
    best = ranking.best
    if best is None:
        return "no network trained to the end (all pruned or diverged): no best to recommend"
    uncertainty = f" ± {best['uncertainty']:.4f}" if best["uncertainty"] == best["uncertainty"] else ""
    verdict = ranking.verdict(len(config.seeds))
    return (f"best: {best['candidate']} (accuracy {best['accuracy']:.4f}{uncertainty}, objective "
            f"{best['objective']:.4f}){'; ' + verdict if verdict else ''}")


def scale_command(ranking: Ranking, baseline_argument: str) -> str | None:
    """`scalesearch scale ...` with the best coefficients, when there is a best."""
    best = ranking.best
    if best is None:
        return None
    return (f"scalesearch scale {baseline_argument} --alpha {best['alpha']:g} --beta {best['beta']:g} "
            f"--gamma {best['gamma']:g} --phi 0..7")


def draw_figures(ranking: Ranking, config: StudyConfig, run_dir: Path) -> tuple[Path, ...]:
    """Accuracy against MACs and the objective over (α, β) under run_dir/figures; their paths relative to it."""
    title = f"{baseline_name(config.baseline)}, φ={dict(config.settings)['phi']:g}"
    (run_dir / "figures").mkdir(exist_ok=True)
    plots.accuracy_vs_macs(ranking.table, run_dir / FIGURES[0], title)
    plots.objective_plane(ranking.table, run_dir / FIGURES[1], title)
    return FIGURES


def grid_sections(study: optuna.Study, config: StudyConfig, run_dir: Path) -> list[ReportSection]:
    """The ranking with its noise and verdict, and the figures (drawn here)."""
    ranking = rank(study_results(study), config.scoring, known=config.known_noise)
    if ranking.table.empty:
        return [ReportSection("Ranking", NO_RESULTS)]
    lines = [markdown_table(ranking_view(ranking)), evaluated_line(ranking, study, config),
             *noise_verdict_lines(ranking, study, config), best_line(ranking, config)]
    inline_spec = config.baseline.lstrip().startswith("{")  # no short argument to scale it by
    command = None if inline_spec else scale_command(ranking, config.baseline)
    if command:
        lines.append(f"scale it: `{command}`")
    ranking_section = ReportSection("Ranking", "\n\n".join(lines))
    return [ranking_section, ReportSection("Figures", "", draw_figures(ranking, config, run_dir))]
