#!/usr/bin/env bash
# Builds the model-reader fuzzer with clang (libFuzzer + ASan + UBSan) and runs it for SECONDS,
# seeded with real model.npz files that the release build makes from a small synthetic scene.
#   scripts/fuzz.sh [SECONDS] [RELEASE_BUILD_DIR]      (default 60, build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
release=${2:-build/release}
cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLEANPLATE_LINALG_ONLY=ON \
  -DCLEANPLATE_FUZZ=ON -DCLEANPLATE_SANITIZE=ON -DCLEANPLATE_NATIVE=OFF -DBUILD_TESTING=OFF -DCLEANPLATE_BENCH=OFF \
  -DCLEANPLATE_WERROR="${CLEANPLATE_WERROR:-OFF}" > /dev/null
cmake --build build/fuzz --target npz_reader_fuzzer
corpus=build/fuzz/corpus
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$corpus"
"$release/samples/cleanplate-synth" "$seeds/scene" --width 64 --height 48 --frames 20 > /dev/null
"$release/pipeline/cleanplate" separate "$seeds/scene/scene.mkv" -q --outputs model -o "$seeds/grey"
"$release/pipeline/cleanplate" separate "$seeds/scene/scene.mkv" -q --outputs model --color --rank 2 -o "$seeds/colour"
"$release/pipeline/cleanplate" separate "$seeds/scene/scene.mkv" -q --outputs model --model-version 1 -o "$seeds/v1"
cp "$seeds/grey/model.npz" "$corpus/grey.npz"        # version 2
cp "$seeds/colour/model.npz" "$corpus/colour.npz"    # version 2, rank 2
cp "$seeds/v1/model.npz" "$corpus/version1.npz"
cd build/fuzz  # crash-* files land here
tests/fuzz/npz_reader_fuzzer -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 corpus ../../tests/fuzz/regressions
