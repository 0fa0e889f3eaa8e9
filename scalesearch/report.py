"""report.md of a study, from its storage alone: rerun the analysis at any time without training.

`write_report` reads the configuration stored in the study and asks the builder of its kind
("grid", "calibrate", "ablation", "nas") for the sections between the settings and the command that
reproduces the run. The same storage always gives the same bytes.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from scalesearch.baselines import baseline_name
from scalesearch.errors import UserError
from scalesearch.study import stored_command, stored_config
from scalesearch.study_config import StudyConfig

REPORT_NAME = "report.md"
_BUILDERS = {"grid": "scalesearch.grid_report:grid_sections",
             "calibrate": "scalesearch.calibrate_report:calibrate_sections",
             "ablation": "scalesearch.sweep_report:ablation_sections",
             "nas": "scalesearch.nas_report:nas_sections"}


@dataclass(frozen=True)
class ReportSection:
    """One section of report.md: a title, a Markdown body, and figures (paths relative to the run folder)."""

    title: str
    body: str
    figures: tuple[Path, ...] = ()


SectionsBuilder = Callable[[optuna.Study, StudyConfig, Path], list[ReportSection]]


def write_report(study: optuna.Study, run_dir: Path) -> Path:
    """Write run_dir/report.md (and the figures it shows) for `study`; returns its path.

    UserError for a kind without a report, or when the folder cannot be written; report.md is
    replaced whole or not at all.
    """
    config = stored_config(study)
    builder = sections_builder(config.kind)
    path = run_dir / REPORT_NAME
    try:
        sections = [settings_section(config), *builder(study, config, run_dir), reproduce_section(study, config)]
        _write_whole(path, render(title(study, config), sections))
    except OSError as exc:
        raise UserError(f"cannot write the report to {run_dir}: {exc.strerror or exc}") from None
    return path


def sections_builder(kind: str) -> SectionsBuilder:
    """The sections builder of a study kind, imported when needed."""
    if kind not in _BUILDERS:
        raise UserError(f"no report for studies of kind {kind!r}; known kinds: {', '.join(_BUILDERS)}")
    module, name = _BUILDERS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def title(study: optuna.Study, config: StudyConfig) -> str:
    return f"{study.study_name}: {config.kind} of {baseline_name(config.baseline)} on {config.data.name}"


def render(heading: str, sections: list[ReportSection]) -> str:
    """The Markdown text: the title, then each section with its figures."""
    parts = [f"# {heading}\n"]
    for section in sections:
        parts.append(f"## {section.title}\n")
        if section.body:
            parts.append(f"{section.body}\n")
        parts.extend(f"![{figure.stem}]({figure.as_posix()})\n" for figure in section.figures)
    return "\n".join(parts)


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table; numbers to 4 significant digits, NaN as n/a, True as yes and False as blank."""
    return frame.apply(lambda column: column.map(_cell)).to_markdown(index=False, disable_numparse=True)


def _cell(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    if isinstance(value, (float, np.floating)):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def settings_section(config: StudyConfig) -> ReportSection:
    """The stored configuration's essentials, and the settings of its kind."""
    data, training = config.data, config.identity()["training"]
    budget = _budget(config, training.pop("epochs"), training.pop("images"))
    seeds = ", ".join(map(str, config.seeds))
    if config.known_noise is not None:
        seeds += f" (seed noise σ = {config.known_noise.sigma:.4f} measured by {config.known_noise.source})"
    elif len(config.seeds) == 1:
        seeds += (f" (noise probe: point {config.noise_point} with seeds "
                  f"{', '.join(map(str, config.probe_seeds))})")
    pruning = "none" if config.pruning.method == "none" else \
        f"{config.pruning.method} from epoch {config.pruning.min_epoch}"
    scoring = config.scoring
    lines = [f"- baseline: {baseline_name(config.baseline)}, nominal resolution "
             f"{f'{config.resolution} px' if config.resolution else 'of the baseline'}",
             f"- data: {data.name}{f' from {data.root}' if data.root else ''}, {data.image_size} px images, "
             f"{_count(data.train_images)} training and {_count(data.test_images)} test images",
             f"- points: {len(config.points)}",
             f"- training budget: {budget}",
             f"- training recipe: {', '.join(f'{k}={v}' for k, v in training.items() if v is not None)}",
             f"- seeds: {seeds}",
             f"- proxy resolution: {config.proxy_resolution} px",
             f"- pruning: {pruning}",
             f"- scoring: T = {scoring.target_macs:,.0f} MACs, w = {scoring.w:g}, "
             f"{'hard' if scoring.hard else 'soft'} constraint"]
    lines += [f"- {key}: `{json.dumps(value, ensure_ascii=False)}`" for key, value in config.settings]
    return ReportSection("Settings", "\n".join(lines))


def _budget(config: StudyConfig, epochs: float, images: int | None) -> str:
    """The training budget: the points' own epochs when they set them, else images or epochs."""
    by_point = sorted({point.epochs for point in config.points if point.epochs is not None})
    if by_point:
        return f"{', '.join(f'{budget:g}' for budget in by_point)} epochs, by point"
    if images is not None:
        return f"{images:,} training images seen"
    return f"{epochs:g} epoch{'' if epochs == 1 else 's'}"


def _count(images: int | None) -> str:
    return "all" if images is None else f"{images:,}"


def reproduce_section(study: optuna.Study, config: StudyConfig) -> ReportSection:
    """The command that created the study; for a study made from Python, the Python call."""
    command = stored_command(study)
    if command:
        return ReportSection("Reproduce", f"The command that created this study (rerun it to resume or repeat "
                                          f"the run):\n\n```sh\n{command}\n```")
    name = study.study_name
    stored = json.dumps(config.to_dict(), indent=1, ensure_ascii=False)
    return ReportSection("Reproduce", f"The study was made from Python; with CONFIG the JSON below (stored in the "
                                      f"study), this repeats it:\n\n```python\nimport json\n\n"
                                      f"from scalesearch import runner\nfrom scalesearch.study_config import "
                                      f"StudyConfig\n\nconfig = StudyConfig.from_dict(json.loads(CONFIG))\n"
                                      f"runner.run(config, \"sqlite:///runs/{name}/study.db\", \"{name}\")\n```\n\n"
                                      f"```json\n{stored}\n```")


def _write_whole(path: Path, text: str) -> None:
    """Write `path` through a temporary file beside it: readers see the old file or the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
