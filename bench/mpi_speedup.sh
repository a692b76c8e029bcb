#!/usr/bin/env bash
# `mpirun -np 2 cleanplate separate` against one process on the same long H.264 video (generated:
# FRAMES frames of WIDTHxHEIGHT at 30 fps), default outputs, interleaved runs. Prints the medians,
# the speedup, each rank's times from summary.json, and the cost model of the README fitted to the
# one-process run and checked against the two-process one.
#   bench/mpi_speedup.sh [BUILD_DIR] [RUNS] [FRAMES] [WIDTH HEIGHT]   (default build/release, 3, 1800, 1280 720)
set -euo pipefail
build=${1:-build/release}
runs=${2:-3}
frames=${3:-1800}
width=${4:-1280}
height=${5:-720}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # CI and containers run as root
cleanplate="$build/pipeline/cleanplate"

"$build/samples/cleanplate-synth" "$work" --width "$width" --height "$height" --frames "$frames" --fps 30 \
  --video bench.mp4 --video-only > /dev/null
video="$work/bench.mp4"

seconds() {  # "wall cpu" seconds of a command (cpu: user + system, all its processes)
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" > /dev/null 2>&1
  awk '{ print $1, $2 + $3 }' "$work/time"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

one=() two=() decode=()
for ((i = 0; i < runs; i++)); do  # interleaved, so drift on a shared machine hits both alike
  decode+=("$(seconds ffmpeg -nostdin -v error -i "$video" -f null -)")
  one+=("$(seconds "$cleanplate" separate "$video" -q -o "$work/one")")
  two+=("$(seconds mpirun --oversubscribe -np 2 "$cleanplate" separate "$video" -q -o "$work/two")")
done
decode_s=$(printf '%s\n' "${decode[@]}" | cut -d' ' -f1 | median)
one_s=$(printf '%s\n' "${one[@]}" | cut -d' ' -f1 | median)
two_s=$(printf '%s\n' "${two[@]}" | cut -d' ' -f1 | median)
one_cpu=$(printf '%s\n' "${one[@]}" | cut -d' ' -f2 | median)
two_cpu=$(printf '%s\n' "${two[@]}" | cut -d' ' -f2 | median)
printf 'input: %s frames, %sx%s, H.264; %s cores; medians of %s runs\n' "$frames" "$width" "$height" "$(nproc)" "$runs"
awk -v f="$frames" -v d="$decode_s" -v a="$one_s" -v b="$two_s" 'BEGIN {
  printf "ffmpeg decode only:    %7.2f s  %7.1f fps\n", d, f / d
  printf "1 process:             %7.2f s  %7.1f fps\n", a, f / a
  printf "mpirun -np 2:          %7.2f s  %7.1f fps\n", b, f / b
  printf "speedup: %.2fx (target >= 1.7)\n", a / b }'
/usr/bin/python3 "$(dirname "$0")/mpi_cost_model.py" "$work/one/summary.json" "$one_s" "$one_cpu" \
  "$work/two/summary.json" "$two_s" "$two_cpu" "$(nproc)" "$(du -sb "$work/one" | cut -f1)"
