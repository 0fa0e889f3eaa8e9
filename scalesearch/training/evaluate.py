"""Held-out accuracy of a model on device-resident batches."""

from __future__ import annotations

import torch
from torch import nn

from scalesearch.training.batches import DeviceBatches


def evaluate(
    model: nn.Module, batches: DeviceBatches, batch_size: int, amp: bool, top5: bool
) -> tuple[float, float | None]:
    """(top-1, top-5) accuracy on the held-out split; top-5 is None unless `top5`. Leaves the model in eval mode."""
    model.eval()
    device = batches.test_labels.device
    hits1 = torch.zeros((), dtype=torch.int64, device=device)
    hits5 = torch.zeros((), dtype=torch.int64, device=device)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for images, labels in batches.test_batches(batch_size):
            logits = model(images).float()
            hits1 += (logits.argmax(dim=1) == labels).sum()
            if top5:
                best = logits.topk(5, dim=1).indices
                hits5 += (best == labels[:, None]).any(dim=1).sum()
    total = len(batches.test_labels)
    return hits1.item() / total, hits5.item() / total if top5 else None
