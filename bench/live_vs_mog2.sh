#!/usr/bin/env bash
# The online decomposer against OpenCV's MOG2 on a generated WIDTHxHEIGHT scene (300 frames, cycled
# to FRAMES), pre-decoded, in the same run: fps, latency median and p99, memory after 1,000 frames
# and at the end.
#   bench/live_vs_mog2.sh [BUILD_DIR] [FRAMES] [WIDTH HEIGHT]   (default build/release, 10000, 640 480)
set -euo pipefail
build=${1:-build/release}
frames=${2:-10000}
width=${3:-640}
height=${4:-480}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/samples/cleanplate-synth" "$work" --width "$width" --height "$height" --frames 300 --fps 30 --video-only > /dev/null
"$build/bench/bench_live_vs_mog2" "$work/scene.mkv" "$frames"
