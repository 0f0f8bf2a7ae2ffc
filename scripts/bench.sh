#!/usr/bin/env bash
# Benchmark: explain vs inference-only, for the demo model and a full-size C3D (random
# weights, 80 M parameters, exported here because it is too big to ship).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
full=build/bench/c3d_full.pt
mkdir -p build/bench
[ -f "$full" ] || /usr/bin/python3 scripts/export_c3d.py --arch c3d --out "$full"
for m in models/demo_c3d_small.pt "$full"; do
  ./build/explain-video-bench "$m" clips/demo.mp4
  echo
done
