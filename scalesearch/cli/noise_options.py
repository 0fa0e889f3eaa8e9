"""--noise-from: a study's seed noise taken from a calibration of the same settings (`grid`, `ablate`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from scalesearch.calibrate import calibration_in, noise_mismatch, stored_noise
from scalesearch.cli.study_options import open_for_reading, run_dir_storage_url
from scalesearch.errors import UserError
from scalesearch.study_config import KnownNoise, StudyConfig


def add_noise_from_argument(group: argparse._ActionsContainer) -> None:
    group.add_argument("--noise-from", metavar="RUN_DIR",
                       help="a `calibrate` run folder: use the seed noise it measured for the same baseline, data, "
                            "recipe and epochs instead of training the noise probe's extra seeds (other settings: "
                            "said, and the probe measures it); with --prune screen, also the noise it measured at "
                            "the screen's budget, to test what the screen leaves out")


def with_calibrated_noise(config: StudyConfig, run_dir: Path, say: Callable[[str], None]) -> StudyConfig:
    """`config` with the seed noise the calibration in `run_dir` stored for its settings; unchanged (and said)
    when the calibration measured other settings or budgets. Under `--prune screen`, also the noise it
    measured at the screening run's budget, which tests what the screen leaves out."""
    url = run_dir_storage_url(run_dir)
    found = calibration_in(open_for_reading(url))
    if found is None:
        raise UserError(f"{run_dir} holds no calibration; run `scalesearch calibrate` there first")
    name, record = found
    known = stored_noise(record, config, f"calibrate study {name}")
    if known is None:
        say(f"{config.kind}: calibration {name!r} measured its noise for {noise_mismatch(record, config)}: "
            f"not used; the noise probe measures it here")
    else:
        say(f"{config.kind}: seed noise σ = {known.sigma:.4f} from calibration {name!r} ({known.dof} degrees of "
            f"freedom): no noise probe")
    return replace(config, known_noise=known, screen_noise=_screen_noise(config, record, name, say))


def _screen_noise(config: StudyConfig, record: dict[str, Any], name: str,
                  say: Callable[[str], None]) -> KnownNoise | None:
    """The calibration's seed noise at the screening run's budget (`--prune screen` only; said either way)."""
    if config.pruning.method != "screen":
        return None
    epochs = config.pruning.min_epoch
    screen = stored_noise(record, config, f"calibrate study {name}", epochs=epochs)
    if screen is None:
        say(f"{config.kind}: calibration {name!r} measured its noise for {noise_mismatch(record, config, epochs)}: "
            f"what the screen leaves out is not tested against its best")
    else:
        say(f"{config.kind}: the {epochs}-epoch screen's seed noise σ = {screen.sigma:.4f} from calibration "
            f"{name!r} ({screen.dof} degrees of freedom)")
    return screen
