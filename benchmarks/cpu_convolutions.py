"""The faster exact CPU paths of scalesearch/training/cpu_convolutions.py against torch's own, layer by layer.

For every distinct pointwise and depthwise convolution of torchvision's efficientnet_b0 at the
given resolution and batch (channels_last fp32, the CPU layout), it times the forward and
backward pass both ways (interleaved, median of the rounds) and prints the ratio, with the path
the routing rule takes: the rule should take the fast path exactly where it wins. Then the
whole network's convolutions summed both ways; the whole network, a training step (the share
of it in convolution backward passes, by torch's profiler) and an inference pass at batch 256,
with torch's own paths and with the trainer's (`FastCPUConvolutions`, which also routes the
global average pool, and SiLU out of place), with the trainer's step split by kind of operation
and the rate of its matrix products against that of one large product (the CPU's fp32 peak); the
step's multiply-adds priced at that peak; and the SGD step fused against torch's default.

    python benchmarks/cpu_convolutions.py --batch-size 64 --resolution 32 --threads 1
    python benchmarks/cpu_convolutions.py --resolution 64 --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from scalesearch.cli.latency_command import THREADS
from scalesearch.cli.numbers import RESOLUTION, bounded_int
from scalesearch.cost import count_cost
from scalesearch.train import out_of_place_activations
from scalesearch.training.config import BATCH_SIZE, TrainConfig, plan_budget
from scalesearch.training.cpu_convolutions import (
    depthwise_conv2d, fast_conv2d, fast_cpu_convolutions, pointwise_conv2d,
)
from scalesearch.training.optimizers import PRESETS, build_optimizer


class Layer(NamedTuple):
    """One convolution call of the network: its input shape and the conv's settings."""

    input_shape: tuple[int, ...]
    conv: nn.Conv2d

    @property
    def kind(self) -> str:
        if self.conv.kernel_size == (1, 1) and self.conv.groups == 1:
            return "pointwise"
        return "depthwise" if self.conv.groups == self.conv.in_channels == self.conv.out_channels else "other"

    def describe(self) -> str:
        n, c, h, w = self.input_shape
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        return f"{self.kind:9} {c:4}->{self.conv.out_channels:<4} {h:>3}x{w:<3} k{k} s{s}"


def layers_of_b0(batch_size: int, resolution: int, distinct: bool = True) -> list[Layer]:
    """The pointwise and depthwise convolutions of efficientnet_b0, in network order: each distinct one once,
    or with `distinct=False` every call."""
    model = torchvision.models.efficientnet_b0(num_classes=10)
    calls: list[tuple[tuple, Layer]] = []

    def record(conv: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        key = (tuple(inputs[0].shape), conv.out_channels, conv.kernel_size, conv.stride, conv.groups, conv.bias is None)
        calls.append((key, Layer(tuple(inputs[0].shape), conv)))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()(torch.randn(batch_size, 3, resolution, resolution))
    for hook in hooks:
        hook.remove()
    first_calls: dict[tuple, Layer] = {}
    for key, layer in calls:
        first_calls.setdefault(key, layer)
    layers = first_calls.values() if distinct else [layer for _, layer in calls]
    return [layer for layer in layers if layer.kind != "other"]


def forced_fast(layer: Layer) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]:
    """The layer's fast path, taken whatever the routing rule says."""
    conv = layer.conv
    if layer.kind == "pointwise":
        return pointwise_conv2d

    def depthwise(images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return depthwise_conv2d(images, weight, conv.stride, conv.padding)

    return depthwise


def time_layer(layer: Layer, rounds: int, repeats: int) -> tuple[float, float, bool]:
    """(torch's ms, the fast path's ms, whether the rule routes it) for one forward and backward pass."""
    conv = layer.conv
    # .to(memory_format=...) restrides even a 1×1 map, whose strides .contiguous() would leave ambiguous,
    # as the trainer's model.to(memory_format=...) and batches do; oneDNN picks its path by the strides.
    images = torch.randn(layer.input_shape).to(memory_format=torch.channels_last).requires_grad_(True)
    weight = conv.weight.detach().to(memory_format=torch.channels_last).requires_grad_(True)
    bias = None if conv.bias is None else conv.bias.detach().clone().requires_grad_(True)
    inputs = [t for t in (images, weight, bias) if t is not None]
    fast = forced_fast(layer)

    def own() -> torch.Tensor:
        return F.conv2d(images, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)

    upstream = torch.randn(own().shape).to(memory_format=torch.channels_last)
    contenders = {"torch": own, "fast": lambda: fast(images, weight, bias)}
    for forward in contenders.values():
        torch.autograd.grad(forward(), inputs, upstream)  # warm-up
    times: dict[str, list[float]] = {key: [] for key in contenders}
    for _ in range(rounds):
        for key, forward in contenders.items():
            started = time.perf_counter()
            for _ in range(repeats):
                torch.autograd.grad(forward(), inputs, upstream)
            times[key].append((time.perf_counter() - started) / repeats * 1e3)
    routed = fast_conv2d(images.detach(), weight.detach(), None, conv.stride, conv.padding, conv.dilation,
                         conv.groups) is not None
    return statistics.median(times["torch"]), statistics.median(times["fast"]), routed


def b0_channels_last() -> nn.Module:
    """efficientnet_b0 for 10 classes in channels_last, as the trainer holds it (dropout and drop-path off)."""
    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(num_classes=10).to(memory_format=torch.channels_last)
    for module in model.modules():
        if isinstance(module, (nn.Dropout, torchvision.ops.StochasticDepth)):
            module.p = 0.0
    return model


OP_GROUPS = {  # profiler op name -> the group a step's time is summed into
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm"),
    "convolutions": ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution"),
    "batch norm": ("aten::native_batch_norm", "aten::native_batch_norm_backward"),
    "activations": ("aten::silu", "aten::silu_", "aten::silu_backward", "aten::sigmoid", "aten::sigmoid_backward"),
    "copies and fills": ("aten::copy_", "aten::fill_", "aten::zero_"),
}


def time_network(batch_size: int, resolution: int, rounds: int, repeats: int) -> dict[str, float]:
    """Median ms of a training step (batch `batch_size`) and an inference pass (batch 256), torch's own
    ("own": torch's paths, torchvision's in-place SiLU) and the trainer's ("fast": the fast paths, SiLU out
    of place), interleaved; over `repeats` profiled steps each, the share of torch's own step in convolution
    backward passes, the share of the trainer's step in each of OP_GROUPS and its products' GFLOP/s."""
    models = {"own": b0_channels_last(), "fast": b0_channels_last()}
    out_of_place_activations(models["fast"])
    optimizers = {way: build_optimizer(model, PRESETS["short"], TrainConfig(batch_size=batch_size),
                                       plan_budget(TrainConfig(batch_size=batch_size), batch_size))[0]
                  for way, model in models.items()}
    images = torch.randn(batch_size, 3, resolution, resolution).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch_size,))
    test_images = torch.randn(256, 3, resolution, resolution).to(memory_format=torch.channels_last)

    def train_step(way: str) -> None:
        model, optimizer = models[way], optimizers[way]
        model.train()
        with fast_cpu_convolutions(way == "fast"):
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def inference(way: str) -> None:
        models[way].eval()
        with torch.inference_mode(), fast_cpu_convolutions(way == "fast"):
            models[way](test_images)

    tasks = {f"{name} {way}": (task, way) for name, task in (("step", train_step), ("inference", inference))
             for way in ("own", "fast")}
    samples: dict[str, list[float]] = {key: [] for key in tasks}
    for task, way in tasks.values():
        task(way)  # warm-up
    for _ in range(rounds):
        for key, (task, way) in tasks.items():
            started = time.perf_counter()
            for _ in range(repeats):
                task(way)
            samples[key].append((time.perf_counter() - started) / repeats * 1e3)
    times = {key: statistics.median(values) for key, values in samples.items()}
    for way in ("own", "fast"):
        with torch.profiler.profile(with_flops=way == "fast") as profile:
            for _ in range(repeats):
                train_step(way)
        events = profile.key_averages()
        total = sum(e.self_cpu_time_total for e in events)
        if way == "own":
            backward = sum(e.self_cpu_time_total for e in events if e.key == "aten::convolution_backward")
            times["conv backward share"] = backward / total
        else:
            for group, names in OP_GROUPS.items():
                times[f"share {group}"] = sum(e.self_cpu_time_total for e in events if e.key in names) / total
            products = [e for e in events if e.key in OP_GROUPS["matrix products"]]
            seconds = sum(e.self_cpu_time_total for e in products) / 1e6
            times["product GFLOP/s"] = sum(e.flops for e in products) / seconds / 1e9
    return times


LARGE_PRODUCT = 1024  # the side of the square product whose rate stands for the CPU's fp32 peak
LARGE_PRODUCT_REPEATS = 10


def large_product_rate() -> float:
    """GFLOP/s of one fp32 LARGE_PRODUCT×LARGE_PRODUCT matrix product, the fastest of LARGE_PRODUCT_REPEATS:
    the CPU's rate for products large enough to run at its peak, against which the step's products are measured."""
    left, right = torch.randn(LARGE_PRODUCT, LARGE_PRODUCT), torch.randn(LARGE_PRODUCT, LARGE_PRODUCT)
    left @ right  # warm-up
    fastest = math.inf
    for _ in range(LARGE_PRODUCT_REPEATS):
        started = time.perf_counter()
        left @ right
        fastest = min(fastest, time.perf_counter() - started)
    return 2 * LARGE_PRODUCT ** 3 / fastest / 1e9


def padding_taps(layer: Layer) -> int:
    """Forward multiply-adds of one image through a depthwise `layer` whose kernel tap reads padding, not the
    map: the taps that read the map, summed over output positions, are an all-ones kernel over an all-ones map."""
    conv = layer.conv
    reads = F.conv2d(torch.ones(1, 1, *layer.input_shape[2:]), torch.ones(1, 1, *conv.kernel_size), None,
                     conv.stride, conv.padding)
    return conv.out_channels * (reads.numel() * math.prod(conv.kernel_size) - int(reads.sum()))


def step_multiply_adds(resolution: int) -> tuple[int, float]:
    """Multiply-adds of one image's efficientnet_b0 training step, and the share of them on padding.

    fvcore counts the forward pass. The backward pass computes every convolution's and linear layer's
    input gradient and weight gradient, each as many multiply-adds as its forward pass, except the input
    gradient of the first convolution, whose input needs none: 3 × the forward's less the stem's. fvcore
    counts every kernel tap; the share is that of the forward's spent by depthwise taps on padding.
    """
    model = torchvision.models.efficientnet_b0(num_classes=10)
    forward, stem = count_cost(model, resolution).macs, count_cost(model.features[0], resolution).macs
    on_padding = sum(padding_taps(layer) for layer in layers_of_b0(1, resolution, distinct=False)
                     if layer.kind == "depthwise")
    return 3 * forward - stem, on_padding / forward


def time_sgd_step(fused: bool, rounds: int, repeats: int) -> float:
    """Median ms of one step of the trainer's SGD over efficientnet_b0's parameters, fused or torch's default."""
    model = torchvision.models.efficientnet_b0(num_classes=10)
    trainer_sgd, _ = build_optimizer(model, PRESETS["short"], TrainConfig(), plan_budget(TrainConfig(), 64))
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in trainer_sgd.param_groups]
    optimizer = torch.optim.SGD(groups, lr=0.01, momentum=0.9, nesterov=True, fused=fused)
    optimizer.step()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeats):
            optimizer.step()
        samples.append((time.perf_counter() - started) / repeats * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=bounded_int(*BATCH_SIZE), default=64, help="(default 64, the proxy's)")
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION), default=32,
                        help="input px of efficientnet_b0 (default 32)")
    parser.add_argument("--threads", type=bounded_int(*THREADS), default=None,
                        help="torch CPU threads, 1 to 1024 (default: torch's choice)")
    parser.add_argument("--rounds", type=bounded_int(1, 100), default=5,
                        help="interleaved timing rounds, 1 to 100 (default 5)")
    parser.add_argument("--repeats", type=bounded_int(1, 1000), default=5, help="passes a round, 1 to 1000 (default 5)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(f"efficientnet_b0 at {args.resolution} px, batch {args.batch_size}, channels_last fp32, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; forward + backward, median ms of "
          f"{args.rounds} rounds")
    print(f"{'layer':38} {'torch':>7} {'fast':>7} {'ratio':>6}  rule")
    own_total = chosen_total = 0.0
    for layer in layers_of_b0(args.batch_size, args.resolution):
        own, fast, routed = time_layer(layer, args.rounds, args.repeats)
        wins = own > fast
        own_total += own
        chosen_total += fast if routed else own
        verdict = "fast" if routed else "torch"
        mark = "" if routed == wins else "  <- the other path was faster"
        print(f"{layer.describe():38} {own:7.2f} {fast:7.2f} {own / fast:5.2f}x  {verdict}{mark}", flush=True)
    print(f"distinct layers summed: torch {own_total:.1f} ms, as routed {chosen_total:.1f} ms "
          f"({own_total / chosen_total:.2f}x)")
    network = time_network(args.batch_size, args.resolution, args.rounds, args.repeats)
    print(f"whole network, training step at batch {args.batch_size}: torch's paths {network['step own']:.1f} ms "
          f"(convolution backward {network['conv backward share']:.0%} of it), the trainer's "
          f"{network['step fast']:.1f} ms ({network['step own'] / network['step fast']:.2f}x); inference at batch "
          f"256: {network['inference own']:.1f} ms, {network['inference fast']:.1f} ms "
          f"({network['inference own'] / network['inference fast']:.2f}x)")
    print("the trainer's step by operation (self CPU time, torch's profiler): "
          + ", ".join(f"{group} {network['share ' + group]:.0%}" for group in OP_GROUPS)
          + f", other {1 - sum(network['share ' + group] for group in OP_GROUPS):.0%}")
    peak = large_product_rate()
    print(f"the step's matrix products ran at {network['product GFLOP/s']:.1f} GFLOP/s (flops and self time by "
          f"torch's profiler), {network['product GFLOP/s'] / peak:.0%} of a {LARGE_PRODUCT}x{LARGE_PRODUCT} fp32 "
          f"product's {peak:.1f} (the fastest of {LARGE_PRODUCT_REPEATS})")
    multiply_adds, on_padding = step_multiply_adds(args.resolution)
    flops = 2 * args.batch_size * multiply_adds
    at_peak = flops / peak / 1e6
    print(f"a training step's multiply-adds (3x the forward pass's by fvcore, less the stem's input gradient): "
          f"{flops / 1e9:.2f} GFLOP, {at_peak:.1f} ms at that product's rate, "
          f"{at_peak / network['step fast']:.0%} of the trainer's step; depthwise taps that read padding are "
          f"{on_padding:.1%} of them")
    loop, fused = time_sgd_step(False, args.rounds, args.repeats), time_sgd_step(True, args.rounds, args.repeats)
    print(f"SGD step over B0's parameters: torch's default {loop:.2f} ms, fused {fused:.2f} ms ({loop / fused:.2f}x)")


if __name__ == "__main__":
    main()
