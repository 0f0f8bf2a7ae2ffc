#!/usr/bin/env bash
# The real thing on one machine: a single-node Slurm (slurmctld, slurmd, munge from Debian's
# packages) runs scripts/slurm/submit.sh for `batch` and for `eval`, 3 shards each over 6 short
# clips plus the dependent merge jobs; the merged index and the merged eval must equal
# unsharded local runs. Stops the daemons it started, by PID. Exit 77 (CTest: skipped) when not
# root or Slurm is not installed.
#
#   tests/slurm/slurm_array_test.sh CLI SOURCE_DIR WORK_DIR
set -uo pipefail
cli="$1" src="$2" work="$3"
for t in slurmctld slurmd munged sbatch squeue sinfo scontrol; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/install-deps.sh installs Slurm)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the single-node Slurm of this test runs its daemons as root"; exit 77; }

rm -rf "$work"
mkdir -p "$work"/{state,spool,log}
work="$(cd "$work" && pwd)"
host="$(hostname -s)"
conf="$work/slurm.conf"
# Ports of our own, so that a Slurm already on the machine is not disturbed.
ctld_port=$((17000 + RANDOM % 2000)); d_port=$((ctld_port + 1))
cat > "$conf" <<CONF
ClusterName=evtest
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SlurmUser=root
SlurmdUser=root
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
NodeName=$host CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf"

started_munge=""
cleanup() {
  for f in "$work/slurmd.pid" "$work/slurmctld.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  [ -n "$started_munge" ] && kill "$started_munge" 2>/dev/null
  sleep 1
  for f in "$work/slurmd.pid" "$work/slurmctld.pid"; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$work"/log/*.log; do echo "--- $l"; tail -20 "$l"; done; exit 1; }

# munge: reuse a running one, else start it (its key comes with the package).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  [ -f /etc/munge/munge.key ] || { mungekey -c 2>/dev/null || fail "no munge key"; }
  munged --force --pid-file="$work/munged.pid" 2>/dev/null || fail "munged did not start"
  for _ in $(seq 50); do [ -s "$work/munged.pid" ] && break; sleep 0.1; done
  started_munge="$(cat "$work/munged.pid" 2>/dev/null)"
  munge -n | unmunge >/dev/null || fail "munge does not work"
fi
slurmctld -f "$conf" || fail "slurmctld did not start"
slurmd -f "$conf" || fail "slurmd did not start"
for _ in $(seq 60); do
  sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix)' && break
  sleep 0.5
done
sinfo -h -o %t | grep -qE '^(idle|mix)' || fail "the node did not come up: $(sinfo 2>&1)"

# Six short clips with ground truth (the synthetic benchmark), and the runs' options.
"$cli" synth --out "$work/data" --split test --clips-per-class 1 --frames 16 --width 80 --height 60 -q >/dev/null \
  || fail "synth failed"
printf 'path\n' > "$work/clips.csv"
for i in 0 1 2 3 4 5; do printf 'data/test/clip_%06d.mp4\n' "$i" >> "$work/clips.csv"; done
model="$src/models/c3d_small_synth.pt"
opts=(--model "$model" --labels "$src/models/labels.txt" --threads 1 -q)
eopts=(--curve-steps 3 --del-steps 2)

export EV_BIN="$cli"
"$src/scripts/slurm/submit.sh" batch 3 "$work/batch" -- "$work/clips.csv" "${opts[@]}" --no-video || fail "submit batch"
"$src/scripts/slurm/submit.sh" eval 3 "$work/eval" -- "$work/clips.csv" "${opts[@]}" "${eopts[@]}" || fail "submit eval"

# Wait (bounded) until the queue is empty.
deadline=$((SECONDS + 400))
while [ -n "$(squeue -h -o %i 2>/dev/null)" ]; do
  [ $SECONDS -lt $deadline ] || fail "jobs still queued after 400 s: $(squeue 2>&1)"
  sleep 1
done
[ -f "$work/batch/index.csv" ] || { cat "$work"/batch/slurm-*.out; fail "the batch merge job wrote no index.csv"; }
[ -f "$work/eval/eval.txt" ] || { cat "$work"/eval/slurm-*.out; fail "the eval merge job wrote no eval.txt"; }

# The same runs, unsharded, here.
"$cli" batch "$work/clips.csv" "${opts[@]}" --no-video --out-dir "$work/local_batch" >/dev/null 2>&1 || fail "local batch"
"$cli" eval "$work/clips.csv" "${opts[@]}" "${eopts[@]}" > "$work/local_eval.txt" 2>/dev/null || fail "local eval"

/usr/bin/python3 - "$work/batch/index.csv" "$work/local_batch/index.csv" <<'PY' || fail "merged index differs"
import csv, sys
a = list(csv.DictReader(open(sys.argv[1])))
b = list(csv.DictReader(open(sys.argv[2])))
assert len(a) == len(b) == 6, (len(a), len(b))
for x, y in zip(a, b):
    for k in ("position", "input", "status", "class_id", "class_name", "score", "frames", "windows"):
        assert x[k] == y[k], (k, x, y)
    assert x["status"] == "ok", x
assert sorted({x["shard"] for x in a}) == ["0/3", "1/3", "2/3"], a
print("merged index = unsharded index (6 rows, shards 0/3 1/3 2/3)")
PY
diff "$work/eval/eval.txt" "$work/local_eval.txt" || fail "merged eval table differs from the unsharded one"
echo "merged eval table = unsharded eval table"
echo "PASS"
