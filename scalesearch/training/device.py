"""Which torch device a run uses."""

from __future__ import annotations

import torch

from scalesearch.errors import UserError


def resolve_device(name: str) -> torch.device:
    """"auto" is CUDA when available, else CPU; UserError for a malformed or unavailable device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available")
    return device
