"""A file cache of decoded tensors, keyed by a digest of whatever determines their content."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from scalesearch.data.paths import cache_root


def cache_path(kind: str, key: object) -> Path:
    """Where the entry for `key` (anything with a stable repr) lives under the cache's `kind` folder."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    return cache_root() / kind / f"{digest}.pt"


def read_cache(path: Path) -> dict[str, Any] | None:
    """The stored entry, or None if it is absent or unreadable."""
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None


def write_cache(path: Path, entry: dict[str, Any]) -> None:
    """Store `entry` atomically: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(entry, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
