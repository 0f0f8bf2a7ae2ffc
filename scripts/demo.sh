#!/usr/bin/env bash
# Fresh machine to annotated video: install, build, explain the demo clip with the demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
out=build/demo/demo.explained.mp4
mkdir -p build/demo
./build/explain-video clips/demo.mp4 --model models/demo_c3d_small.pt --out "$out" --json build/demo/demo.json
echo "annotated video: $(pwd)/$out"
