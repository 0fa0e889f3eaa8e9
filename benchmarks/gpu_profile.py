"""Where a CUDA training step's time goes: kernel launches, kernel time and host time, ours then the common loop.

Profiles (torch.profiler, CPU and CUDA activities) 40 steps of efficientnet_b0 at 32 px, batch 64,
the short recipe, of our trainer (the layout `choose_layout` picks) and then of the common-way
loop of benchmarks/train_throughput.py, each after a warm-up of 10 steps. It prints the operations
by host self time, then the total kernel time, host self time and kernel launches of the 40 steps.
benchmarks/gpu_layouts.md quotes its first half (ours); a run takes about a minute on a GPU.

    python benchmarks/gpu_profile.py
"""

from __future__ import annotations

import torch
from torch.profiler import ProfilerActivity, profile
from train_throughput import Ours, Reference

from scalesearch.data import load_dataset
from scalesearch.train import TrainConfig

STEPS = 40
BATCH = 64
RESOLUTION = 32
LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx")


def main() -> None:
    device = torch.device("cuda")
    data = load_dataset("fashion-mnist-mini")
    config = TrainConfig(batch_size=BATCH, device="cuda", progress=False, augment=False, label_smoothing=0.0,
                         model_dropout=False)
    contenders = {"ours": Ours(data, RESOLUTION, config, device),
                  "ref": Reference(data, RESOLUTION, BATCH, device, augment=False)}
    for name, contender in contenders.items():
        contender.train(10 * BATCH)  # warm-up
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as trace:
            rate = contender.train(STEPS * BATCH)
        events = trace.key_averages()
        print(f"== {name} {RESOLUTION} px: {rate:.0f} img/s under the profiler")
        print(events.table(sort_by="self_cpu_time_total", row_limit=18, max_name_column_width=45))
        kernel_ms = sum(e.self_device_time_total for e in events) / 1e3
        host_ms = sum(e.self_cpu_time_total for e in events) / 1e3
        launches = sum(e.count for e in events if e.key in LAUNCHES)
        print(f"{name}: device time {kernel_ms:.1f} ms, host self time {host_ms:.1f} ms, "
              f"kernel launches {launches} ({STEPS} steps)", flush=True)


if __name__ == "__main__":
    main()
