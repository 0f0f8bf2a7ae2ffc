#!/usr/bin/env bash
# CTest: every command's --help ends with an EXAMPLES section; each example must run as
# written. Usage: help_examples.sh EXPLAIN_VIDEO SOURCE_DIR SCRATCH_DIR [COMMAND...]
# Each command's examples run in order in a fresh scratch copy of the repository's layout
# (clips/ and models/ copied, scripts/ linked, explain-video on the PATH), so an example may use
# what an earlier one of the same command wrote. Fails when a command's help has no examples
# or one of them exits with non-zero.
set -uo pipefail
cli=$(realpath "$1"); src=$(realpath "$2"); scratch=$3; shift 3
commands=("$@")
[ ${#commands[@]} -eq 0 ] && commands=(main synth train distill accuracy eval batch merge eval-merge)
rm -rf "$scratch" && mkdir -p "$scratch/bin" && ln -s "$cli" "$scratch/bin/explain-video"
failed=0
for c in "${commands[@]}"; do
  d="$scratch/$c"
  mkdir -p "$d" && cp -r "$src/clips" "$src/models" "$d/" && ln -s "$src/scripts" "$d/scripts"
  if [ "$c" = main ]; then help=$("$cli" --help); else help=$("$cli" help "$c"); fi
  # The lines after the Examples heading, continuations joined, comments left out.
  mapfile -t cmds < <(printf '%s\n' "$help" | awk '
    /^Examples/ { on = 1; next }
    on && /^  / { line = substr($0, 3); if (line ~ /^#/) next
                  if (acc != "") { sub(/^ +/, "", line); line = acc " " line }
                  if (line ~ /\\$/) { acc = substr(line, 1, length(line) - 1); next }
                  acc = ""; print line }')
  if [ ${#cmds[@]} -eq 0 ]; then echo "FAIL $c: no examples in its help"; failed=1; continue; fi
  for cmd in "${cmds[@]}"; do
    t0=$(date +%s%N)
    (cd "$d" && PATH="$scratch/bin:$PATH" bash -c "$cmd" >"$d/.out" 2>"$d/.err")
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    t=$((ms / 1000)).$((ms % 1000 / 100))
    if [ $rc -ne 0 ]; then
      echo "FAIL $c (exit $rc, ${t} s): $cmd"; tail -3 "$d/.err"; failed=1
    else
      echo "ok   $c (${t} s): $cmd"
    fi
  done
done
exit $failed
