"""What an ablation study says: its sweep table, observations and figures, shared by `ablate` and report.md."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd

from scalesearch.baselines import baseline_name
from scalesearch.paper import TABLE3_TOP1
from scalesearch.report import ReportSection, markdown_table
from scalesearch.study import study_results
from scalesearch.study_config import StudyConfig
from scalesearch.sweep_analysis import Sweep, observations, sweep_table
from scalesearch.sweep_figures import edf_figure, sweep_figure

SWEEP_CSV = "sweep.csv"
_HEADERS = {"macs": "MACs", "activations": "activations", "mismatch": "MACs vs compound", "uncertainty": "±"}
_VIEW_COLUMNS = {"fig3": ["series", "factor", "d", "w", "r", "resolution", "macs", "activations", "accuracy",
                          "uncertainty", "seeds", "status"],
                 "fig4": ["series", "factor", "d", "w", "r", "resolution", "macs", "activations", "accuracy",
                          "uncertainty", "seeds", "status"],
                 "fig8": ["series", "phi", "factor", "d", "w", "r", "resolution", "macs", "mismatch", "activations",
                          "accuracy", "uncertainty", "seeds", "status"],
                 "table3": ["model", "series", "factor", "d", "w", "r", "resolution", "macs", "mismatch", "accuracy",
                            "uncertainty", "seeds", "status"]}
PAPER_COLUMNS = ("paper: FLOPS (B)", "paper: ImageNet top-1 (%)")


def analyse(study: optuna.Study, config: StudyConfig) -> Sweep:
    """The study's sweep table from its storage (UserError naming the points without results)."""
    return sweep_table(ablation_kind(config), study_results(study), [point.labels for point in config.points],
                       known=config.known_noise)


def ablation_kind(config: StudyConfig) -> str:
    return dict(config.settings)["ablation"]


def sweep_view(sweep: Sweep) -> pd.DataFrame:
    """The printed table: the kind's columns; Table 3 with one baseline row per model and the paper's numbers."""
    table = sweep.table
    if sweep.kind == "table3":
        baseline = (table["phi"] == 0) & (table["series"] == "compound")
        table = table[(table["phi"] > 0) | baseline].assign(
            series=lambda t: t["series"].where(t["phi"] > 0, "baseline"))
        table = table.assign(**{column: [_paper(model, series, i) for model, series in
                                         zip(table["model"], table["series"])]
                                for i, column in enumerate(PAPER_COLUMNS)})
        return table[_VIEW_COLUMNS["table3"] + list(PAPER_COLUMNS)].rename(columns=_HEADERS)
    return table[_VIEW_COLUMNS[sweep.kind]].rename(columns=_HEADERS)


def _paper(model: str, series: str, column: int) -> float:
    return TABLE3_TOP1.get((model, series), (math.nan, math.nan))[column]


def draw_figures(sweep: Sweep, config: StudyConfig, run_dir: Path) -> tuple[Path, ...]:
    """The sweep figure and its EDF under run_dir/figures, as PNG and SVG; their paths relative to run_dir."""
    name = ", ".join(sweep.table["model"].unique()) if sweep.kind == "table3" else baseline_name(config.baseline)
    title = f"{sweep.kind}: {name} on {config.data.name}"
    written = (*sweep_figure(sweep, run_dir / "figures" / sweep.kind, title),
               *edf_figure(sweep, run_dir / "figures" / f"{sweep.kind}_edf", title))
    return tuple(path.relative_to(run_dir) for path in written)


def ablation_sections(study: optuna.Study, config: StudyConfig, run_dir: Path) -> list[ReportSection]:
    """The sweep table with its noise, the observations, and the figures (drawn here); sweep.csv beside them."""
    sweep = analyse(study, config)
    sweep.table.to_csv(run_dir / SWEEP_CSV, index=False)
    figures = draw_figures(sweep, config, run_dir)
    table = ReportSection("Sweep", f"{markdown_table(sweep_view(sweep))}\n\n{sweep.noise_line()}\n\n"
                                   f"All points: `{SWEEP_CSV}`.")
    found = observations(sweep)
    return [table, ReportSection("Observations", "\n".join(f"- {line}" for line in found) or "none to test"),
            ReportSection("Figures", "", tuple(f for f in figures if f.suffix == ".png"))]
