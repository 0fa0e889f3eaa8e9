"""Shared test helpers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures: a throwaway PostgreSQL server


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Torch on one thread for a module: results repeat bit for bit, and processes sharing two cores
    do not slow each other down by orders of magnitude."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def one_worker_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in this process unless a test asks for --workers: the default of one worker per
    core would spawn processes in every test (test_runner_workers.py tests that default)."""
    monkeypatch.setattr("scalesearch.cli.study_options.default_workers", lambda device, waiting: 1)


@pytest.fixture()
def importable_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], str]:
    """Write `source` as a fresh importable module named after `prefix`; returns its name."""

    def write(prefix: str, source: str) -> str:
        name = f"{prefix}_{tmp_path.name}"
        (tmp_path / f"{name}.py").write_text(source)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    return write
