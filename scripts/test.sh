#!/usr/bin/env bash
# Installs and builds whatever is missing, then runs the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure -j 2 "$@"
