#!/usr/bin/env bash
# Installs missing dependencies (Debian packages) and builds into ./build (Release, ccache).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "${JOBS:-2}"
