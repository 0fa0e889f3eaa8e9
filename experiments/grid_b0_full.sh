#!/usr/bin/env bash
# Step 1 of the paper on the full grid: 109 candidates, 3 seeds, the whole Fashion-MNIST
# training set, 10 epochs. Run on a GPU; add --workers N or --storage postgresql://... to spread it.
set -euo pipefail
scalesearch grid --phi 1 --study grid-b0-full \
  --alpha-range 1,2 --beta-range 1,1.5 --gamma-range 1,1.5 --step 0.05 --tol 0.1 \
  --data fashion-mnist --train-images 60000 --test-images 10000 \
  --epochs 10 --seeds 3 --prune sha "$@"
