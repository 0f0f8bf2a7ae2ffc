#!/usr/bin/python3
"""Writes the demo clip clips/demo.mp4: a red square crossing a textured background from
frame 12 to frame 52 of 64, with a static blue square as a distractor (320x240, 25 fps).
Needs numpy and the ffmpeg CLI:
    /usr/bin/python3 scripts/make_demo_clip.py clips/demo.mp4
"""
import subprocess
import sys

import numpy as np


def frames(width=320, height=240, count=64, present=(12, 52), size=32):
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:height, 0:width]
    # Static texture (the same noise every frame keeps the file small).
    base = 100 + 40 * np.sin(xx / 6.0) * np.cos(yy / 9.0) + rng.integers(-10, 11, xx.shape)
    for i in range(count):
        img = np.clip(base, 0, 255).astype(np.uint8)
        f = np.repeat(img[:, :, None], 3, axis=2)
        f[40:70, 210:240] = (20, 40, 235)
        if present[0] <= i < present[1]:
            k = (i - present[0]) / (present[1] - present[0] - 1)
            x = int(60 + k * (250 - size - 60))
            y = int(120 + 30 * np.sin(k * 6.28))
            f[y:y + size, x:x + size] = (235, 20, 20)
        yield f


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "clips/demo.mp4"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "320x240", "-r", "25",
           "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart", out]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for f in frames():
        proc.stdin.write(f.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        sys.exit("ffmpeg failed")
    print(out)


if __name__ == "__main__":
    main()
