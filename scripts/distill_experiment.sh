#!/usr/bin/env bash
# The distillation experiment of docs/distill.md (the Grad-CAM++ paper's Table 4, on video):
# a c3d-tiny student trained on a data-limited split (10 clips per class) with each loss, 3
# seeds each, from the shipped teacher models/c3d_small_synth_ce.pt (TEACHER=path: another); test accuracy on the
# benchmark's test split and the pointing game of each student's own Grad-CAM++ maps.
#
#   scripts/distill_experiment.sh [WORKDIR]     (default: build/distill-experiment)
#
# Writes WORKDIR/results.csv (one row per run) and prints a summary table (mean ± std).
# Runs that finished are skipped when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-build/distill-experiment}
ev=${EV:-$root/build/explain-video}  # EV=path: another build of the CLI
teacher=${TEACHER:-$root/models/c3d_small_synth_ce.pt}
EPOCHS=${EPOCHS:-20}
SEEDS=${SEEDS:-"1 2 3"}
EXP_WEIGHT=${EXP_WEIGHT:-10}
mkdir -p "$work"
cd "$work"

# Data: a fresh 80-clip training split (split name "distill": other seeds than the teacher's
# training clips), the benchmark's test split (seed 1, as the teacher's card), and 3 test clips
# per class for the pointing game.
[ -f data/distill/index.json ] || "$ev" synth --out data --split distill --clips-per-class 10 --frames 32 --seed 1 -q
[ -f data/test/index.json ] || "$ev" synth --out data --split test --clips-per-class 25 --frames 32 --seed 1 -q
pointing_clips=()
for i in $(seq 0 23); do pointing_clips+=("data/test/$(printf 'clip_%06d.mp4' "$i")"); done

declare -A LOSSES=(
  [ce]="ce"
  [ce+kd]="ce,kd"
  [ce+exp]="ce,exp:$EXP_WEIGHT"
  [ce+kd+exp]="ce,kd,exp:$EXP_WEIGHT"
  [ce+exp-gradcam]="ce,exp:$EXP_WEIGHT"
)
ORDER="ce ce+kd ce+exp ce+kd+exp ce+exp-gradcam"

[ -f results.csv ] || echo "loss,seed,test_accuracy,pointing_gradcampp,seconds" > results.csv
for seed in $SEEDS; do
  [ -f "student_init_$seed.pt" ] || /usr/bin/python3 "$root/scripts/export_c3d.py" --arch c3d-tiny --norm --dropout 0.2 \
      --seed "$seed" --out "student_init_$seed.pt" > /dev/null
  for name in $ORDER; do
    grep -q "^$name,$seed," results.csv && continue
    method=gradcam++
    [ "$name" = ce+exp-gradcam ] && method=gradcam
    out="student_${name}_$seed.pt"
    start=$(date +%s)
    "$ev" distill --teacher "$teacher" --model "student_init_$seed.pt" --data data/distill --out "$out" \
        --checkpoint "ckpt_${name}_$seed" --log "log_${name}_$seed.json" --loss "${LOSSES[$name]}" \
        --exp-method "$method" --epochs "$EPOCHS" --batch-size 8 --optimizer adam --lr 2e-3 \
        --weight-decay 1e-4 --seed "$seed" --keep last --threads 2 -q > /dev/null
    secs=$(( $(date +%s) - start ))
    "$ev" accuracy --model "$out" --data data/test --json "acc_${name}_$seed.json" -q > /dev/null
    acc=$(sed -n 's/^  "top1": \([0-9.]*\),$/\1/p' "acc_${name}_$seed.json")
    "$ev" eval "${pointing_clips[@]}" --model "$out" --methods gradcam++ --class-source truth --curve-steps 0 \
        --del-steps 0 --json "eval_${name}_$seed.json" -q > /dev/null
    pointing=$(/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(round(j['summary']['gradcam++']['localization']['pointing'], 2))" "eval_${name}_$seed.json")
    echo "$name,$seed,$acc,$pointing,$secs" >> results.csv
    echo "$name seed $seed: test accuracy $acc, pointing $pointing%, ${secs}s"
  done
done

/usr/bin/python3 - <<'PY'
import csv, statistics as st
rows = list(csv.DictReader(open("results.csv")))
print("| loss | test error % (mean ± std) | pointing % of the student's Grad-CAM++ (mean ± std) | runs |")
print("|---|---|---|---|")
for name in ["ce", "ce+kd", "ce+exp", "ce+kd+exp", "ce+exp-gradcam"]:
    r = [x for x in rows if x["loss"] == name]
    if not r: continue
    err = [100 * (1 - float(x["test_accuracy"])) for x in r]
    pt = [float(x["pointing_gradcampp"]) for x in r]
    sd = lambda v: st.stdev(v) if len(v) > 1 else 0.0
    print(f"| {name} | {st.mean(err):.2f} ± {sd(err):.2f} | {st.mean(pt):.1f} ± {sd(pt):.1f} | {len(r)} |")
PY
