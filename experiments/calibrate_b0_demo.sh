#!/usr/bin/env bash
# Is the demo's proxy budget long enough? EfficientNet-B0 at φ = -2..1 and width-only scaling at
# φ = 1's MACs, at 1, 2 and 4 epochs, 2 seeds, on the demo's data (3,000 / 1,000 images of the
# embedded set, 32 px): what fits a CPU session. The defaults (depth- and resolution-only networks
# too, ladder 1,2,4,8,16) are the thorough version: hours on a CPU, minutes on a GPU.
set -euo pipefail
scalesearch calibrate --baseline efficientnet-b0 --single width --ladder 1,2,4 --seeds 2 --study calibrate-b0-demo "$@"
