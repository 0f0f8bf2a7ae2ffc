#!/usr/bin/env bash
# Installs missing dependencies (Debian packages) and builds into ./build (Release, ccache).
# Usage: scripts/build.sh [TARGET...]: only those targets (e.g. explain-video, what the demo
# runs; no test models, no test suite); without targets everything, the test suite included
# (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ $# -gt 0 ]; then
  cmake --build build -j "${JOBS:-2}" --target "$@"
else
  cmake --build build -j "${JOBS:-2}"
fi
