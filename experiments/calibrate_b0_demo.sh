#!/usr/bin/env bash
# Is the demo's proxy budget long enough? The spread set of EfficientNet-B0 (φ = -2..1 and the
# depth-, width- and resolution-only networks at φ = 1's MACs) at 1, 2 and 4 epochs, 2 seeds,
# on the demo's data (3,000 / 1,000 images of the embedded set, 32 px). The default ladder,
# 1,2,4,8,16, is the thorough version: hours on a CPU, minutes on a GPU.
set -euo pipefail
scalesearch calibrate --baseline efficientnet-b0 --ladder 1,2,4 --seeds 2 "$@"
