#!/usr/bin/env bash
# Installs every build, test and runtime dependency from Debian's packages.
# Safe to run repeatedly: apt-get skips what is already installed.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libboost-program-options-dev libgtest-dev nlohmann-json3-dev libjemalloc-dev
  python3-torch python3-torchvision python3-numpy
  slurmctld slurmd slurm-client munge
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
