#!/usr/bin/env bash
# Step 1 of the paper at demo size: what `make demo` runs.
set -euo pipefail
scalesearch grid --phi 1 "$@"
