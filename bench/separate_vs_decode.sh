#!/usr/bin/env bash
# Throughput of `cleanplate separate` (default outputs) and of `cleanplate live --no-realtime -o`
# (mask.mp4) against decoding the same file alone with ffmpeg (`ffmpeg -i FILE -f null -`) and
# against the peer pipeline a user would write with OpenCV (decode, MOG2 apply, mask video:
# bench/opencv_mog2_peer.py), in the same run, on a generated 1,000-frame H.264 video of
# WIDTHxHEIGHT. Prints the median of RUNS runs of each in frames per second, and the ratios.
#   bench/separate_vs_decode.sh [BUILD_DIR] [RUNS] [WIDTH HEIGHT]   (default build/release, 5, 640 480)
set -euo pipefail
build=${1:-build/release}
runs=${2:-5}
width=${3:-640}
height=${4:-480}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
frames=1000

"$build/samples/cleanplate-synth" "$work" --width $width --height $height --frames $frames --fps 30 --video bench.mp4 --video-only > /dev/null
video="$work/bench.mp4"

seconds() {  # wall seconds of a command
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

decode=() separate=() live=() peer=()
for ((i = 0; i < runs; i++)); do  # interleaved, so drift on a shared machine hits all alike
  decode+=("$(seconds ffmpeg -nostdin -v error -i "$video" -f null -)")
  separate+=("$(seconds "$build/pipeline/cleanplate" separate "$video" -q -o "$work/out")")
  live+=("$(seconds "$build/pipeline/cleanplate" live "$video" --no-realtime -o "$work/live")")
  peer+=("$(seconds /usr/bin/python3 "$(dirname "$0")/opencv_mog2_peer.py" "$video" "$work/peer.mp4")")
done
decode_s=$(printf '%s\n' "${decode[@]}" | median)
separate_s=$(printf '%s\n' "${separate[@]}" | median)
peer_s=$(printf '%s\n' "${peer[@]}" | median)
live_s=$(printf '%s\n' "${live[@]}" | median)
printf 'input: %s frames, %sx%s, H.264 (%s bytes); medians of %s runs\n' $frames $width $height "$(stat -c %s "$video")" "$runs"
awk -v f=$frames -v d="$decode_s" -v s="$separate_s" -v p="$peer_s" -v l="$live_s" 'BEGIN {
  printf "ffmpeg decode only:               %6.2f s  %7.1f fps\n", d, f / d
  printf "cleanplate separate:              %6.2f s  %7.1f fps\n", s, f / s
  printf "cleanplate live --no-realtime -o: %6.2f s  %7.1f fps\n", l, f / l
  printf "OpenCV decode + MOG2 + mask video: %6.2f s  %7.1f fps\n", p, f / p
  printf "separate / decode throughput: %.3f (target >= 0.50); separate / OpenCV peer: %.2f\n", d / s, p / s
  printf "live / OpenCV peer: %.2f\n", p / l }'
echo "per-stage seconds of the last separate run (summary.json):"
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["seconds"]))' "$work/out/summary.json"
