#!/usr/bin/env bash
# Reproduces the sanity-check results published in docs/eval.md ("Sanity checks: the shipped
# model"): a synthetic test split of one clip per class, then eval --sanity cascade for every
# registered method (in two runs: the gradient methods, then the perturbation methods with 250
# RISE masks), and --sanity labels for all of them. About 25 min on one core.
# Usage: scripts/sanity_results.sh OUTDIR   (needs build/explain-video)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ev="$here/build/explain-video"
model="$here/models/c3d_small_synth.pt"
out="${1:?usage: scripts/sanity_results.sh OUTDIR}"
mkdir -p "$out"
cd "$out"
"$ev" synth --out data --split test --clips-per-class 1 -q
gradient=gradcam++,gradcam,gradcam-per-time,xgradcam,layercam,hirescam,eigencam  # cam: this model has no GAP + linear head
perturbation=scorecam,ablationcam,smoothgradcam++,rise
"$ev" eval data/test -m "$model" --methods "$gradient" --threads 1 -q --sanity cascade \
    --csv-dir cascade_gradient --plots cascade_gradient --json cascade_gradient.json | tee cascade_gradient.txt
"$ev" eval data/test -m "$model" --methods "$perturbation" --rise-masks 250 --threads 1 -q --sanity cascade \
    --csv-dir cascade_perturbation --plots cascade_perturbation --json cascade_perturbation.json | tee cascade_perturbation.txt
"$ev" eval data/test -m "$model" --methods "$gradient,$perturbation" --rise-masks 250 --threads 1 -q --sanity labels \
    --csv-dir labels --json labels.json | tee labels.txt
