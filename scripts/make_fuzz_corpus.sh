#!/usr/bin/env bash
# Seed corpora for the fuzz targets (tests/fuzz/), made fresh with the ffmpeg CLI and printf:
# small clips of several containers and codecs, a cut-off one, labels files, .npy files,
# option values. Usage: scripts/make_fuzz_corpus.sh [DIR] (default build-fuzz/seeds); DIR/TARGET/
# holds each target's seeds. Not committed (build-fuzz/ is ignored); scripts/fuzz.sh runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-fuzz/seeds}
mkdir -p "$out"/{fuzz_video,fuzz_labels,fuzz_npy,fuzz_options}

# ---- videos: 8 frames of 32x24 (64x48 where a codec wants more), a moving test pattern ----
v=$out/fuzz_video
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
src=(-f lavfi -i "testsrc2=size=32x24:rate=8:duration=1")
ff "${src[@]}" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 4 "$v/h264.mp4"
ff "${src[@]}" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart "$v/h264_faststart.mp4"
ff "${src[@]}" -c:v libx264 -preset ultrafast -pix_fmt yuv444p "$v/h264_444.mkv"
ff "${src[@]}" -c:v libx265 -preset ultrafast -x265-params log-level=none "$v/hevc.mp4"
ff "${src[@]}" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 "$v/vp9.webm"
ff "${src[@]}" -c:v libvpx -deadline realtime "$v/vp8.webm"
ff "${src[@]}" -c:v mpeg4 "$v/mpeg4.mkv"
ff "${src[@]}" -c:v mpeg4 -f avi "$v/mpeg4.avi"
ff "${src[@]}" -c:v mjpeg -pix_fmt yuvj420p "$v/mjpeg.avi"
ff "${src[@]}" -c:v mpeg2video "$v/mpeg2.mpg"
ff "${src[@]}" -c:v mpeg2video -f mpegts "$v/mpeg2.ts"
ff "${src[@]}" -c:v ffv1 "$v/ffv1.mkv"
ff "${src[@]}" -c:v prores "$v/prores.mov"
ff "${src[@]}" -c:v png "$v/png.mov"
ff "${src[@]}" -pix_fmt yuv420p "$v/raw.y4m"
ff "${src[@]}" -pix_fmt rgb8 "$v/anim.gif"
ff "${src[@]}" -c:v flv "$v/flv.flv"
ff "${src[@]}" -c:v h263 -s 128x96 "$v/h263.3gp"
ff "${src[@]}" -frames:v 1 "$v/still.png"
ff "${src[@]}" -frames:v 1 "$v/still.jpg"
ff -f lavfi -i "testsrc2=size=64x48:rate=8:duration=1" -c:v libaom-av1 -cpu-used 8 -row-mt 1 "$v/av1.mkv" 2>/dev/null ||
  echo "make_fuzz_corpus: no libaom-av1 encoder, no AV1 seed"
# A display matrix (rotation), an audio stream beside the video, odd sizes.
ff "${src[@]}" -c:v libx264 -preset ultrafast -metadata:s:v rotate=90 "$v/rotated.mp4"
ff "${src[@]}" -f lavfi -i "sine=frequency=440:duration=1" -c:v libx264 -preset ultrafast -c:a aac -shortest "$v/with_audio.mp4"
ff -f lavfi -i "testsrc2=size=33x25:rate=8:duration=1" -c:v mpeg4 "$v/odd.avi"
# Cut off: the first 40% of an MP4 (no index) and of a Matroska file.
head -c "$(( $(stat -c %s "$v/h264.mp4") * 4 / 10 ))" "$v/h264.mp4" > "$v/truncated.mp4"
head -c "$(( $(stat -c %s "$v/vp9.webm") * 4 / 10 ))" "$v/vp9.webm" > "$v/truncated.webm"

# ---- labels files ----
l=$out/fuzz_labels
printf 'move_up\nmove_down\nbounce\n' > "$l/plain.txt"
printf 'a\r\nb\r\n\r\n' > "$l/crlf.txt"
printf '\n\n  \n' > "$l/blank.txt"
printf 'caf\xe9\n\xff\xfe\n' > "$l/latin1.txt"
printf 'no newline at the end' > "$l/no_eol.txt"
cp models/labels.txt "$l/shipped.txt" 2>/dev/null || true

# ---- .npy files (written by NumPy when Debian's python3-numpy is there, else by hand) ----
n=$out/fuzz_npy
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  /usr/bin/python3 - "$n" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(f"{d}/f4_3d.npy", np.arange(24, dtype="<f4").reshape(2, 3, 4))
np.save(f"{d}/f4_1d.npy", np.ones(5, dtype="<f4"))
np.save(f"{d}/f4_scalar.npy", np.float32(1.5))
np.save(f"{d}/f4_empty.npy", np.zeros((0, 3), dtype="<f4"))
np.save(f"{d}/f8.npy", np.ones(3, dtype="<f8"))
np.save(f"{d}/fortran.npy", np.asfortranarray(np.ones((2, 2), dtype="<f4")))
np.save(f"{d}/big_endian.npy", np.ones(2, dtype=">f4"))
PY
fi
printf "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }%*s\n" 58 '' > "$n/hand.npy"
printf '\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40' >> "$n/hand.npy"

# ---- option values: the first byte picks the parser (tests/fuzz/fuzz_options.cpp) ----
o=$out/fuzz_options
i=0
seed() { printf "$1" > "$o/$i"; i=$((i + 1)); }
seed '\x000.43216,0.394666,0.37645'; seed '\x010.5'; seed '\x021/255'; seed '\x020.003921'
seed '\x03128x171'; seed '\x03112x112'; seed '\x04video-max'; seed '\x04frame'; seed '\x05tiles'
seed '\x06kinetics'; seed '\x06c3d-sports1m'; seed '\x070/4'; seed '\x0712/1000'
seed '\x08a,"b,c",d'; seed '\x08"q""uote",,x'
seed '\x09128x171 112x112 16 8 1 crop'; seed '\x09112x199 112x112 16 4 2 tiles'; seed '\x09 64x64 1 1 1 full'
seed '\x193\0a\nb\nc\nd\n'; seed '\x19top3\0'; seed '\x19b, 0\0a\nb\n'; seed '\x19top2\0top2\nx\n'
echo "make_fuzz_corpus: $(find "$out" -type f | wc -l) seeds in $out"
