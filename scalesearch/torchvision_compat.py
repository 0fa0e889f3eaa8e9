"""Loading torchvision weights into networks built from our specs.

Our blocks register their parameters and buffers in the same order as torchvision's
models (stem, blocks, head, classifier; inside a block: expand, depthwise, squeeze-and-
excitation, project, then the shortcut projection), but under other names. The mapping is
therefore positional: the i-th entry of torchvision's state_dict goes to the i-th entry of
ours. Both must have the same number of entries and every pair the same shape; anything
else means the two networks differ, and loading refuses instead of guessing.

`TORCHVISION_EQUIVALENTS` names the torchvision builder whose network equals each zoo entry.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

TORCHVISION_EQUIVALENTS: dict[str, str] = {
    **{f"efficientnet-b{i}": f"efficientnet_b{i}" for i in range(8)},
    "mobilenet-v2": "mobilenet_v2",
    **{f"resnet-{depth}": f"resnet{depth}" for depth in (18, 34, 50, 101, 152)},
    "mnasnet-b1": "mnasnet1_0",
}


def load_torchvision_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor]) -> None:
    """Copy a torchvision `state_dict` into `model`, entry by entry in order.

    Raises ValueError if the entry counts differ or a pair of entries differs in shape.
    """
    ours = model.state_dict()
    if len(ours) != len(state_dict):
        raise ValueError(f"torchvision state_dict has {len(state_dict)} entries, the model has {len(ours)}")
    mapped = {}
    for (our_key, our_value), (their_key, their_value) in zip(ours.items(), state_dict.items()):
        if our_value.shape != their_value.shape:
            raise ValueError(f"torchvision {their_key} has shape {tuple(their_value.shape)} but "
                             f"{our_key} has shape {tuple(our_value.shape)}")
        mapped[our_key] = their_value
    model.load_state_dict(mapped)
