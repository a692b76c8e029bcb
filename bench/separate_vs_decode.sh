#!/usr/bin/env bash
# Throughput of `cleanplate separate` (default outputs) against decoding the same file alone with
# ffmpeg (`ffmpeg -i FILE -f null -`), in the same run, on a generated 640x480, 1,000-frame H.264
# video. Prints the median of RUNS runs of each, both in frames per second, and their ratio.
#   bench/separate_vs_decode.sh [BUILD_DIR] [RUNS]     (default build/release, 5)
set -euo pipefail
build=${1:-build/release}
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
frames=1000

"$build/samples/cleanplate-synth" "$work" --width 640 --height 480 --frames $frames --fps 30 --video bench.mp4 --video-only > /dev/null
video="$work/bench.mp4"

seconds() {  # wall seconds of a command
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

decode=() separate=()
for ((i = 0; i < runs; i++)); do  # interleaved, so drift on a shared machine hits both alike
  decode+=("$(seconds ffmpeg -nostdin -v error -i "$video" -f null -)")
  separate+=("$(seconds "$build/pipeline/cleanplate" separate "$video" -q -o "$work/out")")
done
decode_s=$(printf '%s\n' "${decode[@]}" | median)
separate_s=$(printf '%s\n' "${separate[@]}" | median)
printf 'input: %s frames, 640x480, H.264 (%s bytes); medians of %s runs\n' $frames "$(stat -c %s "$video")" "$runs"
awk -v f=$frames -v d="$decode_s" -v s="$separate_s" 'BEGIN {
  printf "ffmpeg decode only:   %6.2f s  %7.1f fps\n", d, f / d
  printf "cleanplate separate:  %6.2f s  %7.1f fps\n", s, f / s
  printf "separate / decode throughput: %.3f (target >= 0.50)\n", d / s }'
echo "per-stage seconds of the last separate run (summary.json):"
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["seconds"]))' "$work/out/summary.json"
