#!/usr/bin/env bash
# EfficientNet-B0 compound-scaled with the paper's coefficients, phi = 0..7.
set -euo pipefail
scalesearch scale efficientnet-b0 --alpha 1.2 --beta 1.1 --gamma 1.15 --phi 0..7
