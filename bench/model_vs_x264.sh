#!/usr/bin/env bash
# Size and quality of cleanplate's model.npz against libx264 on the same frames, in the same run.
# The frames are the 8-bit grey frames `separate` analyses (rebuilt exactly from a lossless
# model, so both sides start from identical pixels). cleanplate runs with default settings;
# libx264 (ffmpeg, preset medium, gray) runs at a ladder of CRFs, and the CRF whose PSNR is
# closest to cleanplate's is the comparison. PSNR is over all frames (global MSE) on both sides.
#   bench/model_vs_x264.sh [INPUT] [BUILD_DIR]
#       INPUT: default ../shared/data/cdnet-baseline/highway/input; BUILD_DIR: build/release
set -euo pipefail
input=${1:-../shared/data/cdnet-baseline/highway/input}
build=${2:-build/release}
cleanplate="$build/pipeline/cleanplate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

json() { grep -o "\"$2\": [0-9.e+-]*" "$1" | head -1 | awk '{ print $2 }'; }

"$cleanplate" separate "$input" -q --outputs model -o "$work/exact" --lossless-foreground
"$cleanplate" rebuild -q "$work/exact/model.npz" -o "$work/frames"
fps=$(json "$work/exact/summary.json" fps); [ "${fps%.*}" -gt 0 ] || fps=25  # an image folder has none
frames=$(ls "$work/frames" | wc -l)
raw=$(json "$work/exact/summary.json" raw_bytes)

start=$(date +%s.%N)
"$cleanplate" separate "$work/frames" -q --outputs model -o "$work/model"
cp_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
cp_bytes=$(stat -c %s "$work/model/model.npz")
cp_psnr=$(json "$work/model/summary.json" psnr)

printf 'frames: %s grey 8-bit frames of %s, %s bytes raw\n\n' "$frames" "$input" "$raw"
printf '%-26s %12s %9s %9s %8s\n' "encoder" "bytes" "raw/size" "PSNR dB" "seconds"
printf '%-26s %12s %9.1f %9.2f %8s\n' "cleanplate (defaults)" "$cp_bytes" "$(echo "$raw / $cp_bytes" | bc -l)" "$cp_psnr" "$cp_seconds"
best_crf="" best_gap=1000
for crf in 14 17 20 23 26 29 32; do
  start=$(date +%s.%N)
  ffmpeg -nostdin -v error -framerate "${fps%.*}" -i "$work/frames/frame%06d.png" -c:v libx264 -preset medium -crf "$crf" -pix_fmt gray -y "$work/x264-$crf.mkv"
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  bytes=$(stat -c %s "$work/x264-$crf.mkv")
  psnr=$(ffmpeg -nostdin -i "$work/x264-$crf.mkv" -framerate "${fps%.*}" -i "$work/frames/frame%06d.png" -lavfi "[0:v][1:v]psnr" -f null - 2>&1 |
         grep -o 'average:[0-9.inf]*' | tail -1 | cut -d: -f2)
  printf '%-26s %12s %9.1f %9.2f %8s\n' "libx264 crf $crf" "$bytes" "$(echo "$raw / $bytes" | bc -l)" "$psnr" "$seconds"
  gap=$(echo "g = $psnr - $cp_psnr; if (g < 0) -g else g" | bc -l)
  if (($(echo "$gap < $best_gap" | bc -l))); then best_gap=$gap best_crf=$crf best_bytes=$bytes best_psnr=$psnr; fi
done
printf '\nat similar PSNR: cleanplate %s bytes (%.2f dB) vs libx264 crf %s %s bytes (%.2f dB): x264/cleanplate size ratio %.2f\n' \
  "$cp_bytes" "$cp_psnr" "$best_crf" "$best_bytes" "$best_psnr" "$(echo "$best_bytes / $cp_bytes" | bc -l)"
