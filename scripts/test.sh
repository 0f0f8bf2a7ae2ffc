#!/usr/bin/env bash
# Installs and builds whatever is missing, then runs the whole test suite with CTest.
# Usage: scripts/test.sh [ctest args]
#        scripts/test.sh --sanitize [ctest args]: the same suite built with ASan + UBSan
#          (EV_SANITIZE=ON, no jemalloc) into build-sanitize/ (separate from build/), e.g.
#          scripts/test.sh --sanitize -R 'Video|Pipeline|cli_'
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  shift
  bash scripts/install-deps.sh
  # RelWithDebInfo: -O2 -g, so reports have file:line.
  cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEV_SANITIZE=ON >/dev/null
  cmake --build build-sanitize -j "${JOBS:-2}"
  cd build-sanitize
  ctest --output-on-failure -j "${CTEST_JOBS:-2}" "$@"
  exit
fi
bash scripts/build.sh
cd build
ctest --output-on-failure -j 2 "$@"
