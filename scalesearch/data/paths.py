"""Checks on user-given folders, and where cached data lives."""

from __future__ import annotations

import os
from pathlib import Path

from scalesearch.errors import UserError


def require_directory(path: str | os.PathLike, role: str) -> Path:
    """`path` as an absolute Path; UserError if it is missing, not a folder, or empty."""
    folder = Path(path).expanduser().absolute()
    if not folder.exists():
        raise UserError(f"{role} {folder} does not exist")
    if not folder.is_dir():
        raise UserError(f"{role} {folder} is not a directory")
    if not any(folder.iterdir()):
        raise UserError(f"{role} {folder} is empty")
    return folder


def cache_root() -> Path:
    """$SCALESEARCH_CACHE if set, else ~/.cache/scalesearch."""
    configured = os.environ.get("SCALESEARCH_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "scalesearch"
