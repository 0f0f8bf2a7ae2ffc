#!/usr/bin/env bash
# Submits a sharded explain-video run to Slurm: a job array of N shard tasks and a merge job
# that starts when all of them succeeded. Prints the two job ids.
#
#   scripts/slurm/submit.sh batch N OUT_DIR [sbatch options --] INPUT... --model M.pt [batch options]
#   scripts/slurm/submit.sh eval  N OUT_DIR [sbatch options --] INPUT... --model M.pt [eval options]
#
# batch writes every video's outputs and DIR/index.shard-K-of-N.csv into OUT_DIR, merged into
# OUT_DIR/index.csv; eval writes OUT_DIR/eval.shard-K-of-N.json, merged into OUT_DIR/eval.json,
# eval.txt, csv/ and plots/. sbatch options (partition, time, memory, cpus) go before a `--`.
# EV_BIN selects the executable (default: the build's, else explain-video on PATH).
# docs/cluster.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 3 ]; then sed -n '2,15p' "$0" >&2; exit 2; fi
mode="$1" n="$2" out="$3"
shift 3
case "$mode" in batch|eval) ;; *) echo "submit.sh: mode must be batch or eval" >&2; exit 2 ;; esac
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a positive number of shards" >&2; exit 2; }
sb=()
# (A loop, not `printf | grep -q`: with pipefail, grep quitting early can SIGPIPE printf and make
# the test fail at random, passing `--` on to explain-video.)
has_sep=""
for a in "$@"; do [ "$a" = "--" ] && { has_sep=1; break; }; done
if [ -n "$has_sep" ]; then
  while [ "$1" != "--" ]; do sb+=("$1"); shift; done
  shift
fi
if [ -z "${EV_BIN:-}" ]; then
  if [ -x "$here/../../build/explain-video" ]; then EV_BIN="$(cd "$here/../../build" && pwd)/explain-video"
  else EV_BIN="$(command -v explain-video)"; fi
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export EV_BIN EV_MODE="$mode" EV_SHARDS="$n" EV_OUT="$out"
args=("$@")
[ "$mode" = batch ] && args+=(--out-dir "$out")
array=$(sbatch --parsable --export=ALL --array="0-$((n - 1))" --chdir="$PWD" --output="$out/slurm-%A_%a.out" \
  "${sb[@]}" "$here/shard_task.sbatch" "${args[@]}")
array="${array%%;*}"
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" --chdir="$PWD" --output="$out/slurm-merge-%j.out" \
  "${sb[@]}" "$here/merge.sbatch")
merge="${merge%%;*}"
echo "array job $array ($n tasks), merge job $merge; outputs in $out"
