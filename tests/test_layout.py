"""Memory format and precision chosen by device and resolution; explicit settings win; the trainer uses them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scalesearch.data import load_dataset
from scalesearch.train import TrainConfig, train_proxy
from scalesearch.training import layout
from scalesearch.training.layout import LAYOUTS, Choice, choose_layout, table_choice

CL, NCHW = torch.channels_last, torch.contiguous_format


def test_cpu_trains_channels_last_in_fp32_at_every_resolution() -> None:
    for resolution in (16, 32, 37, 64, 224):
        memory_format, amp, _ = choose_layout(torch.device("cpu"), resolution)
        assert (memory_format, amp) == (CL, False)


def test_cuda_trains_nchw_fp32_at_every_measured_resolution() -> None:
    for resolution in (32, 37, 64, 128, 224):  # measured on an H200 (benchmarks/gpu_layouts.py, issue 9)
        assert choose_layout("cuda:1" if resolution == 37 else "cuda", resolution)[:2] == (NCHW, False)


def test_explicit_settings_win_over_the_table() -> None:
    assert choose_layout("cpu", 32, channels_last=False)[:2] == (NCHW, False)
    assert choose_layout("cpu", 32, amp=True)[:2] == (CL, True)
    assert choose_layout("cuda", 32, channels_last=True, amp=True)[:2] == (CL, True)
    assert choose_layout("cuda", 224, channels_last=False, amp=False)[:2] == (NCHW, False)
    assert choose_layout("cuda", 224, channels_last=False, amp=False).source == "set explicitly"
    assert "partly set explicitly" in choose_layout("cuda", 224, amp=False).source


def test_each_choice_states_its_source_and_whether_it_was_measured() -> None:
    for rows in LAYOUTS.values():
        assert rows[0].min_resolution == 0
        assert [r.min_resolution for r in rows] == sorted({r.min_resolution for r in rows})
        assert all(r.source for r in rows)
    assert all(row.measured for rows in LAYOUTS.values() for row in rows)
    assert choose_layout("cuda", 224).describe() == "NCHW fp32 (cuda from 0 px, measured)"
    assert choose_layout("cpu", 32).describe().startswith("channels_last fp32 (cpu from 0 px, measured")
    assert table_choice("mps", 32).channels_last is False  # unknown device types: torch's defaults


def test_the_table_drives_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = (Choice(0, True, False, "a", True), Choice(50, False, True, "b", False), Choice(100, True, True, "c", True))
    monkeypatch.setitem(layout.LAYOUTS, "cpu", rows)
    assert [choose_layout("cpu", r)[:2] for r in (10, 50, 99, 100, 500)] == [
        (CL, False), (NCHW, True), (NCHW, True), (CL, True), (CL, True)]
    assert choose_layout("cpu", 60).source == "cpu from 50 px, unmeasured"


class RecordingNet(nn.Module):
    """A tiny conv net that records the memory format and dtype of what its conv produces."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 10)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.conv(images)
        if self.training:
            self.seen.append((images.is_contiguous(memory_format=torch.channels_last), features.dtype))
        return self.head(torch.relu(self.bn(features)).mean(dim=(2, 3)))


@pytest.mark.parametrize(("channels_last", "amp", "expected"), [
    (None, None, (True, torch.float32)),  # the CPU choice
    (False, None, (False, torch.float32)),
    (None, True, (True, torch.bfloat16)),
])
def test_train_proxy_trains_in_the_chosen_layout(
    channels_last: bool | None, amp: bool | None, expected: tuple[bool, torch.dtype]
) -> None:
    torch.set_num_threads(1)
    data = load_dataset("fashion-mnist-mini").subset(train=256, test=64)
    model = RecordingNet()
    config = TrainConfig(epochs=2, batch_size=32, lr=0.1, device="cpu", progress=False,
                         channels_last=channels_last, amp=amp)
    result = train_proxy(model, data, 12, config)
    assert result.status == "ok" and result.epochs_completed == 2 and len(result.history) == 2
    assert set(model.seen) == {expected}
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last) == expected[0]
