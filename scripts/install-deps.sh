#!/usr/bin/env bash
# Installs everything cleanplate needs to build, test and benchmark, from Debian packages.
# Idempotent: packages already installed are left alone, and apt is not touched when none is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopencv-dev libeigen3-dev libtbb-dev libboost-program-options-dev
  libgtest-dev libbenchmark-dev libzip-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev   # video writers (libx264 preset, threads)
  nlohmann-json3-dev                                            # summary.json, eval.json
  libopenmpi-dev openmpi-bin                                    # mpirun -np N cleanplate separate
  pybind11-dev python3-dev python3-setuptools python3-pip python3-wheel python3-venv  # import cleanplate
  ffmpeg python3-numpy                            # end-to-end tests: stream serving, npz loading
  clang libclang-rt-14-dev clang-format           # fuzzing the model reader; scripts/format.sh
  xvfb                                            # --display test
  python3-sklearn libopenblas0-pthread            # benchmark peer (scikit-learn on OpenBLAS)
  python3-opencv time                             # benchmark peers (OpenCV MOG2 in Python), peak RSS
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "install-deps: all ${#packages[@]} packages present"; exit 0; }

sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
