#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with Debian's clang (ASan + UBSan, coverage) into
# build-fuzz/, makes the seed corpora (scripts/make_fuzz_corpus.sh) and runs each target for
# SECONDS, one after another (each uses one core), then prints per target: executions, exec/s,
# coverage (libFuzzer's final cov and ft) and the crashes found (inputs in build-fuzz/artifacts/).
# Not part of the default build (scripts/build.sh needs none of this).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 s; targets: fuzz_video fuzz_labels
#        fuzz_npy fuzz_options; default all)
#        scripts/fuzz.sh --build-only
# Each target first re-runs its regression inputs (tests/fuzz/regressions/TARGET/: inputs that
# once failed, fixed since), then fuzzes from build-fuzz/corpus/TARGET (kept between runs) and
# the seeds. Exit status 1 when any target failed. NICE (default 19) is the runs' niceness.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build-fuzz

# ---- dependencies (Debian packages) ----
PKGS=(clang libclang-rt-dev pkg-config ffmpeg libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
      libopencv-core-dev libopencv-imgproc-dev python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
fi
CXX=$(command -v clang++-14 || command -v clang++ || true)
[ -n "$CXX" ] || { echo "fuzz: no clang++ found" >&2; exit 1; }

# ---- build: each target compiles only the source files it needs (none includes torch) ----
CXXFLAGS=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
          -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS -I"$root/include" -I"$root/src" -I/usr/include/opencv4)
declare -A SOURCES LIBS
SOURCES[fuzz_video]="tests/fuzz/fuzz_video.cpp src/video/video_reader.cpp"
LIBS[fuzz_video]="$(pkg-config --libs libavformat libavcodec libavutil libswscale)"
SOURCES[fuzz_labels]="tests/fuzz/fuzz_labels.cpp src/pipeline/explain.cpp"
LIBS[fuzz_labels]=""
SOURCES[fuzz_npy]="tests/fuzz/fuzz_npy.cpp src/io/npy.cpp"
LIBS[fuzz_npy]=""
SOURCES[fuzz_options]="tests/fuzz/fuzz_options.cpp src/cli/value_parsers.cpp src/pipeline/explain.cpp
  src/pipeline/class_choice.cpp src/windows/window_sampler.cpp src/windows/presets.cpp src/batch/shards.cpp"
LIBS[fuzz_options]="-lopencv_imgproc -lopencv_core"
ALL=(fuzz_video fuzz_labels fuzz_npy fuzz_options)

build() {
  local t=$1 bin=$out/bin/$1
  mkdir -p "$out/bin"
  # Rebuilt when any source or header it may include is newer than the binary.
  if [ -x "$bin" ] && [ -z "$(find include src tests/fuzz -newer "$bin" -name '*.[ch]pp' -print -quit)" ]; then
    return
  fi
  echo "fuzz: building $t"
  # shellcheck disable=SC2086
  nice -n "${NICE:-19}" "$CXX" "${CXXFLAGS[@]}" ${SOURCES[$t]} ${LIBS[$t]} -o "$bin"
}

SECONDS_PER_TARGET=60
BUILD_ONLY=0
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; shift;
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then SECONDS_PER_TARGET=$1; shift; fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
  [ -n "${SOURCES[$t]:-}" ] || { echo "fuzz: unknown target $t (one of: ${ALL[*]})" >&2; exit 2; }
  build "$t"
done
[ $BUILD_ONLY -eq 1 ] && exit 0

[ -d "$out/seeds/fuzz_video" ] || bash scripts/make_fuzz_corpus.sh "$out/seeds"

# Per target: the largest input tried, and the time one input may take.
declare -A MAXLEN=([fuzz_video]=131072 [fuzz_labels]=4096 [fuzz_npy]=4096 [fuzz_options]=512)
status=0
summary=()
for t in "${TARGETS[@]}"; do
  bin=$out/bin/$t log=$out/logs/$t.log art=$out/artifacts/$t/
  mkdir -p "$out/corpus/$t" "$art" "$out/logs"
  before=$(find "$art" -type f | wc -l)
  regressions=(tests/fuzz/regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    if ! nice -n "${NICE:-19}" "$bin" -runs=1 "${regressions[@]}" > "$out/logs/$t.regressions.log" 2>&1; then
      echo "fuzz: $t fails a regression input (see $out/logs/$t.regressions.log)" >&2
      summary+=("$(printf '%-13s regression input fails: %s' "$t" "$out/logs/$t.regressions.log")")
      status=1
      continue
    fi
  fi
  echo "fuzz: running $t for ${SECONDS_PER_TARGET}s (log: $log)"
  rc=0
  nice -n "${NICE:-19}" "$bin" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=30 \
    -rss_limit_mb=3072 -malloc_limit_mb=2048 -max_len="${MAXLEN[$t]}" -artifact_prefix="$art" \
    "$out/corpus/$t" "$out/seeds/$t" > "$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  found=$(( $(find "$art" -type f | wc -l) - before ))
  [ $rc -eq 0 ] && [ "$found" -eq 0 ] || status=1
  summary+=("$(printf '%-13s executions %-10s exec/s %-7s %-22s corpus %-5s crashes %s%s' "$t" "${execs:-?}" \
    "${rate:-?}" "${cov:-cov: ? ft: ?}" "$(find "$out/corpus/$t" -type f | wc -l)" "$found" \
    "$([ "$found" -gt 0 ] && echo " ($(ls -t "$art" | head -1))")")")
done
echo
echo "fuzz: ${SECONDS_PER_TARGET}s per target"
printf '%s\n' "${summary[@]}"
exit $status
