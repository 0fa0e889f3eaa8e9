#!/usr/bin/env bash
# Tables 2 and 3 of the paper: our params and MACs next to the published numbers.
set -euo pipefail
scalesearch paper --markdown
