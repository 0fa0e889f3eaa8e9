"""Study helpers that read a study back from its storage."""

from __future__ import annotations

from datetime import datetime, timedelta

import optuna
from optuna.trial import FrozenTrial, TrialState

from scalesearch.study import wall_span

START = datetime(2026, 1, 1, 12, 0, 0)


def finished(number: int, start_s: float, end_s: float) -> FrozenTrial:
    return FrozenTrial(number=number, state=TrialState.COMPLETE, value=0.5, values=None,
                       datetime_start=START + timedelta(seconds=start_s),
                       datetime_complete=START + timedelta(seconds=end_s), params={}, distributions={},
                       user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=number)


def test_wall_span_runs_from_the_first_start_to_the_last_end_of_overlapping_trials() -> None:
    study = optuna.create_study()
    assert wall_span(study) == 0.0
    for number, (start, end) in enumerate([(10.0, 70.0), (0.0, 50.0), (55.0, 95.5)]):
        study.add_trial(finished(number, start, end))
    study.enqueue_trial({})  # waiting, no timestamps: not counted
    assert wall_span(study) == 95.5
