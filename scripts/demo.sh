#!/usr/bin/env bash
# The README's main command: installs dependencies, builds cleanplate, renders the bundled
# synthetic scene (with ground truth) and separates it.
#   scripts/demo.sh [OUT]      (default out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/demo}
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target cleanplate cleanplate-synth
rm -rf "$out"
build/release/samples/cleanplate-synth "$out/scene"
build/release/pipeline/cleanplate separate "$out/scene/scene.mkv" -o "$out/separated" --png
build/release/pipeline/cleanplate rebuild "$out/separated/model.npz" -o "$out/rebuilt.mp4"
echo
build/release/pipeline/cleanplate info "$out/separated/model.npz" | head -5
echo
echo "input:   $out/scene/scene.mkv (ground truth: $out/scene/groundtruth/, true background: $out/scene/background.png)"
echo "outputs: $out/separated/"
ls -1 "$out/separated" | sed 's/^/           /'
echo "rebuilt from model.npz: $out/rebuilt.mp4"
echo "look at $out/separated/preview.png first: original | background | foreground | mask"
