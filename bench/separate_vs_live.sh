#!/usr/bin/env bash
# `cleanplate separate` against `cleanplate live --no-realtime -o` (mask.mp4) and ffmpeg's decode
# (`ffmpeg -i FILE -f null -`) on the same generated 900-frame H.264 video, at each size: separate
# with `--outputs mask,background` (the same mask video and a clean plate) and with its default
# outputs. Prints the median of RUNS interleaved runs of each (fps, peak RSS) and the ratios to live.
#   bench/separate_vs_live.sh [BUILD_DIR] [RUNS] [WIDTHxHEIGHT...]
#   (default build/release, 3, 640x480 1280x720 1920x1080)
set -euo pipefail
build=${1:-build/release}
runs=${2:-3}
shift $(($# < 2 ? $# : 2))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(640x480 1280x720 1920x1080)
cleanplate=$build/pipeline/cleanplate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
frames=900

run() {  # prints "wall-seconds peak-RSS-KiB" of a command
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2>&1
  cat "$work/time"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-10s %-28s %8s %8s %9s %8s\n' size run seconds fps 'RSS MiB' '/ live'
for size in "${sizes[@]}"; do
  video=$work/scene.mp4
  "$build/samples/cleanplate-synth" "$work" --width "${size%x*}" --height "${size#*x}" --frames $frames --fps 30 \
    --video scene.mp4 --video-only > /dev/null
  declare -A times=() memory=()
  names=("ffmpeg decode" "live -o" "separate mask,background" "separate (default outputs)")
  for ((i = 0; i < runs; i++)); do  # interleaved, so drift on a shared machine hits all alike
    for name in "${names[@]}"; do
      case $name in
        "ffmpeg decode") set -- ffmpeg -nostdin -v error -i "$video" -f null - ;;
        "live -o") set -- "$cleanplate" live "$video" --no-realtime -o "$work/live" ;;
        "separate mask,background") set -- "$cleanplate" separate "$video" -q -o "$work/sep" --outputs mask,background ;;
        *) set -- "$cleanplate" separate "$video" -q -o "$work/all" ;;
      esac
      read -r seconds rss < <(run "$@")
      times[$name]+="$seconds "
      memory[$name]+="$rss "
    done
  done
  live_s=$(printf '%s\n' ${times["live -o"]} | median)
  for name in "${names[@]}"; do
    s=$(printf '%s\n' ${times[$name]} | median)
    m=$(printf '%s\n' ${memory[$name]} | median)
    awk -v size="$size" -v name="$name" -v s="$s" -v m="$m" -v l="$live_s" -v f=$frames \
      'BEGIN { printf "%-10s %-28s %8.2f %8.1f %9.0f %8.2f\n", size, name, s, f / s, m / 1024, l / s }'
  done
  unset times memory
done
echo "fps of $frames frames, medians of $runs runs; '/ live': fps relative to live -o's (target for separate mask,background: 0.8)"
