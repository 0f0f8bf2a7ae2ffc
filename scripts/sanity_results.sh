#!/usr/bin/env bash
# Reproduces the sanity-check results published in docs/eval.md ("Sanity checks: the shipped
# model"): a synthetic test split of one clip per class, then eval --sanity cascade for every
# registered method that runs on the model (the gradient methods on all 8 clips; the perturbation
# methods, hundreds of passes per window and step, on the first 4 with 100 RISE masks and 16
# scored channels), and --sanity labels for all of them. About 35 min on one core.
# Usage: scripts/sanity_results.sh OUTDIR   (needs build/explain-video)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ev="$here/build/explain-video"
model="$here/models/c3d_small_synth.pt"
out="${1:?usage: scripts/sanity_results.sh OUTDIR}"
mkdir -p "$out"
cd "$out"
"$ev" synth --out data --split test --clips-per-class 1 -q
ls data/test/clip_00000[0-3].mp4 > four.txt
gradient=gradcam++,gradcam,gradcam-per-time,xgradcam,layercam,hirescam,eigencam  # cam: this model has no GAP + linear head
perturbation=scorecam,ablationcam,smoothgradcam++,rise
samples=(--rise-masks 100 --score-channels 16)
"$ev" eval data/test -m "$model" --methods "$gradient" --threads 1 -q --sanity cascade \
    --csv-dir cascade_gradient --plots cascade_gradient --json cascade_gradient.json | tee cascade_gradient.txt
"$ev" eval four.txt -m "$model" --methods "$perturbation" "${samples[@]}" --threads 1 -q --sanity cascade \
    --csv-dir cascade_perturbation --plots cascade_perturbation --json cascade_perturbation.json | tee cascade_perturbation.txt
"$ev" eval data/test -m "$model" --methods "$gradient,$perturbation" "${samples[@]}" --threads 1 -q --sanity labels \
    --csv-dir labels --json labels.json | tee labels.txt
