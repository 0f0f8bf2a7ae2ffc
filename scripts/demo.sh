#!/usr/bin/env bash
# Fresh machine to annotated video: install, build the explain-video executable (only it: the
# test suite and its models are built by scripts/test.sh), explain the benchmark demo clip with
# the shipped trained model (models/c3d_small_synth.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh explain-video
out=build/demo/synth_move_up.explained.mp4
mkdir -p build/demo
./build/explain-video clips/synth_move_up.mp4 --model models/c3d_small_synth.pt --labels models/labels.txt \
    --out "$out" --json build/demo/synth_move_up.json
echo "annotated video: $(pwd)/$out"
