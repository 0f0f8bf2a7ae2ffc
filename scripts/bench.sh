#!/usr/bin/env bash
# Benchmarks (explain-video-bench; every ratio measured in one run of it): for the demo model and
# a full-size C3D (random weights, 80 M parameters, exported here because it is too big to ship),
# on the 64-frame demo clip and a 240-frame benchmark clip: explain and --method all against
# inference-only; eval of one clip against its forward passes at the limit throughput; peak RSS
# of explain against inference-only and on a 10x longer clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
full=build/bench/c3d_full.pt
mkdir -p build/bench
[ -f "$full" ] || /usr/bin/python3 scripts/export_c3d.py --arch c3d --out "$full"
# A long clip as well (240 frames, 29 windows): on the 64-frame demo clip the fixed costs
# (model loading, the probe pass, the encoder's start) weigh on the ratio.
long=build/bench/long/bench/clip_000002.mp4
[ -f "$long" ] || ./build/explain-video synth --out build/bench/long --split bench --clips-per-class 1 \
    --frames 240 --seed 7 -q
# Ten times longer (2400 frames), for the memory check only.
long10=build/bench/long10.mp4
[ -f "$long10" ] || ffmpeg -loglevel error -y -stream_loop 9 -i "$long" -c copy "$long10"
for clip in clips/demo.mp4 "$long"; do
  for m in models/demo_c3d_small.pt "$full"; do
    ./build/explain-video-bench "$m" "$clip"
    echo
  done
done
./build/explain-video-bench --eval models/demo_c3d_small.pt clips/demo.mp4
echo
./build/explain-video-bench --rss models/demo_c3d_small.pt "$long" "$long10"
