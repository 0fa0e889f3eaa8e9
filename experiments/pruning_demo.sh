#!/usr/bin/env bash
# What successive halving saves on the demo grid, over 3 seeds, and whether it keeps a tied-best network.
set -euo pipefail
python benchmarks/pruning.py --seeds 0,1,2 --prune-from 2 "$@"
