"""Held-out accuracy of a model on device-resident batches."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from scalesearch.training.batches import DeviceBatches


def test_logits(
    model: nn.Module, batches: DeviceBatches, batch_size: int, amp: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(float logits, labels) of each held-out batch in order, the model in eval mode under inference mode
    (which stays on while the caller handles a batch)."""
    model.eval()
    device = batches.test_labels.device
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for images, labels in batches.test_batches(batch_size):
            yield model(images).float(), labels


def evaluate(
    model: nn.Module, batches: DeviceBatches, batch_size: int, amp: bool, top5: bool
) -> tuple[float, float | None]:
    """(top-1, top-5) accuracy on the held-out split; top-5 is None unless `top5`. Leaves the model in eval mode."""
    device = batches.test_labels.device
    hits1 = torch.zeros((), dtype=torch.int64, device=device)
    hits5 = torch.zeros((), dtype=torch.int64, device=device)
    for logits, labels in test_logits(model, batches, batch_size, amp):
        hits1 += (logits.argmax(dim=1) == labels).sum()
        if top5:
            best = logits.topk(5, dim=1).indices
            hits5 += (best == labels[:, None]).any(dim=1).sum()
    total = len(batches.test_labels)
    return hits1.item() / total, hits5.item() / total if top5 else None


def recalibrate_batchnorm(
    model: nn.Module, batches: DeviceBatches, steps: int, batch_size: int, generator: torch.Generator
) -> None:
    """Re-estimate every BatchNorm layer's running statistics from `steps` training batches.

    The statistics are reset and replaced by their plain average over the batches; only the BN
    layers run in training mode (dropout and drop-path stay off). Momenta are restored after.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms or steps < 1:
        return
    momenta = [m.momentum for m in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average
        norm.train()
    with torch.no_grad():
        for images in batches.calibration_batches(steps, batch_size, generator):
            model(images)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.eval()
