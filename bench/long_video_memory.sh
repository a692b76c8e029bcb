#!/usr/bin/env bash
# `cleanplate separate` on long 1920x1080 videos in bounded memory: peak RSS and time against the
# video's length, next to decoding alone (`ffmpeg -i FILE -f null -`) in the same run, and the mask
# quality of the last minute against the ground truth.
#
# The video is the synthetic scene (moving objects, sensor noise, drifting light) at 1080p and 30 fps:
# one minute is generated with its ground truth, and longer ones repeat it without re-encoding
# (ffmpeg -stream_loop, -c copy), so frame j's truth is frame j mod 1800's.
#   bench/long_video_memory.sh [BUILD_DIR] [MINUTES...]    (default build/release, 1 5 10)
set -euo pipefail
build=${1:-build/release}
[ $# -gt 0 ] && shift
minutes=(1 5 10)
[ $# -gt 0 ] && minutes=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
budget=2G

# The scene takes minutes to make: kept in /tmp for the next run of the same generator.
scene=/tmp/cleanplate-bench-1080p-scene-$(stat -c %Y "$build/samples/cleanplate-synth")
if [ ! -f "$scene/scene.mp4" ]; then
  "$build/samples/cleanplate-synth" "$work/scene" --width 1920 --height 1080 --fps 30 --frames 1800 --video scene.mp4 > /dev/null
  rm -rf "$work/scene/input"  # 1800 PNGs: not needed, the video is the input
  mv "$work/scene" "$scene"
fi

wall() {  # wall seconds and peak RSS (KiB) of a command: "seconds kib"
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2>&1
  cat "$work/time"
}

printf '| minutes | frames | ffmpeg decode s | separate s | separate / decode time | peak RSS MiB | F, last minute |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for m in "${minutes[@]}"; do
  video="$work/scene-$m.mp4"
  ffmpeg -nostdin -v error -stream_loop $((m - 1)) -i "$scene/scene.mp4" -c copy "$video"
  frames=$((m * 1800))
  read -r decode _ < <(wall ffmpeg -nostdin -v error -i "$video" -f null -)
  read -r separate rss < <(wall "$build/pipeline/cleanplate" separate "$video" -q --max-memory $budget --lossless-masks -o "$work/out")
  f=$(/usr/bin/python3 "$(dirname "$0")/mask_video_f.py" "$work/out/mask.mp4" "$scene/groundtruth" $((frames - 1800)) 1800)
  awk -v m="$m" -v n=$frames -v d="$decode" -v s="$separate" -v r="$rss" -v f="$f" 'BEGIN {
    printf "| %d | %d | %.1f | %.1f | %.2f | %.0f | %s |\n", m, n, d, s, s / d, r / 1024, f }'
  rm -f "$video"
done
echo "per-stage seconds of the last run (summary.json):"
python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["sample_frames"], "frames sampled;", json.dumps(s["seconds"]))' "$work/out/summary.json"
