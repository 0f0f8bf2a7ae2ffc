#!/usr/bin/env bash
# Reproduces models/c3d_small_synth_ce.pt and models/c3d_small_synth.pt, the trained models
# shipped with the project, from nothing: the benchmark splits, the random initial network, the
# cross-entropy training schedule exactly as it was run (stages 1-3 -> c3d_small_synth_ce.pt),
# the fine-tuning with the box explanation loss (stage 4 -> c3d_small_synth.pt), and the test
# accuracy of both. Model card: models/c3d_small_synth.md.
#
#   scripts/train_synth_model.sh [WORKDIR]        (default: build/synth-model)
#
# About 35 min on 2 cores (~45 s per epoch of 800 clips with validation, 34 + 10 epochs).
# Needs the project built (scripts/build.sh). Every stage resumes from its checkpoint if the
# script is run again after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-build/synth-model}
ev="$root/build/explain-video"
mkdir -p "$work"
cd "$work"

# 1. The benchmark: 8 classes × 100 training clips, × 25 validation and × 25 test clips, 32
#    frames of 160×120 each; the splits get different seeds derived from --seed 1.
[ -f synth/train/index.json ] || "$ev" synth --out synth --split train --clips-per-class 100 --frames 32 --seed 1 -q
[ -f synth/test/index.json ] || "$ev" synth --out synth --split val,test --clips-per-class 25 --frames 32 --seed 1 -q

# 2. The untrained network: C3D-small with batch norm, dropout 0.2, seed 1.
[ -f c3d_small_init.pt ] || /usr/bin/python3 "$root/scripts/export_c3d.py" --arch c3d-small --norm --dropout 0.2 \
    --seed 1 --out c3d_small_init.pt

common=(--data synth/train --val synth/val --batch-size 8 --optimizer adam --lr 2e-3 --weight-decay 1e-4
        --warmup-epochs 1 --threads 2)

# 3. The schedule as it was run: a 14-epoch cosine cycle; then a warm restart planned as a
#    40-epoch cosine and stopped after epoch 15; then the same restart re-planned to end at
#    epoch 34 (resuming with another --epochs re-plans the cosine from that point on).
epoch_of() { sed -n 's/^  "epoch": \([0-9]*\),$/\1/p' "$1/state.json" 2>/dev/null || true; }
if [ "$(epoch_of ckpt1)" != 14 ]; then
  "$ev" train --model c3d_small_init.pt "${common[@]}" --epochs 14 --checkpoint ckpt1 --out stage1.pt \
      --log train_log_stage1.json $([ -f ckpt1/state.json ] && echo --resume ckpt1)
fi
if [ "$(epoch_of ckpt2)" != 15 ]; then
  "$ev" train --resume "$([ -f ckpt2/state.json ] && echo ckpt2 || echo ckpt1)" --checkpoint ckpt2 "${common[@]}" \
      --epochs 40 --stop-after-epoch 15 --out stage2.pt
fi
if [ "$(epoch_of ckpt3)" != 34 ]; then
  "$ev" train --resume "$([ -f ckpt3/state.json ] && echo ckpt3 || echo ckpt2)" --checkpoint ckpt3 "${common[@]}" \
      --epochs 34 --out c3d_small_synth_ce.pt --log train_log.json
fi
# 4. Fine-tuning with the box loss: the model's own Grad-CAM++ map (default layer, pool5)
#    against the actor's ground-truth boxes, plus cross-entropy (docs/training.md). 10 epochs at
#    a tenth of the learning rate, a quarter-epoch warm-up; the best validation epoch is kept.
if [ "$(epoch_of ckpt4)" != 10 ]; then
  "$ev" train --model c3d_small_synth_ce.pt --data synth/train --val synth/val --batch-size 8 --optimizer adam \
      --lr 5e-4 --weight-decay 1e-4 --warmup-epochs 0.25 --epochs 10 --loss ce,box:10 --threads 2 \
      --checkpoint ckpt4 --out c3d_small_synth.pt --log train_log_box.json $([ -f ckpt4/state.json ] && echo --resume ckpt4)
fi

# 5. Held-out accuracy (the model card's numbers).
"$ev" accuracy --model c3d_small_synth_ce.pt --data synth/test --json test_accuracy_ce.json
"$ev" accuracy --model c3d_small_synth.pt --data synth/test --json test_accuracy.json
echo "models: $(pwd)/c3d_small_synth_ce.pt $(pwd)/c3d_small_synth.pt"
