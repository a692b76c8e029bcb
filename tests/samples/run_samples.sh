#!/usr/bin/env bash
# Runs each C++ sample as a user would and checks what it prints.
#   run_samples.sh SAMPLES_BUILD_DIR
set -euo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# PCA: 50 features near a 3-dimensional subspace -> 3 components hold 99% of the variance.
out=$("$bin/cleanplate-pca")
echo "$out"
grep -q "^3 components hold 99% of the variance" <<< "$out" || fail "cleanplate-pca did not find the 3 directions"

# SVD compression of the synthetic scene's clean plate: PSNR grows with the rank, past 30 dB at 64.
"$bin/cleanplate-synth" "$work/scene" --width 160 --height 120 --frames 40 --fps 25 --video scene.mp4 > /dev/null
out=$("$bin/cleanplate-svd-image" "$work/scene/background.png" "$work/ranks")
echo "$out"
awk 'NR > 1 { if ($3 + 0 < previous) bad = 1; previous = $3 + 0; last = $3 + 0 } END { exit (bad || last < 30) }' \
  <<< "$out" || fail "cleanplate-svd-image: PSNR not increasing with the rank, or below 30 dB at the largest"
[ -s "$work/ranks/rank_1.png" ] || fail "cleanplate-svd-image wrote no images"

# The subtractor in a capture loop: every frame processed, the objects found in the last one.
out=$("$bin/cleanplate-subtractor-sample" "$work/scene/scene.mp4" "$work/masks.mkv")
echo "$out"
grep -qE "^40 frames; foreground in the last: [0-9.]+%" <<< "$out" || fail "cleanplate-subtractor-sample: unexpected output"
share=$(sed -E 's/.*: ([0-9.]+)%/\1/' <<< "$out")
awk -v s="$share" 'BEGIN { exit !(s > 0.5 && s < 50) }' || fail "cleanplate-subtractor-sample: foreground share $share% is implausible"
[ -s "$work/masks.mkv" ] || fail "cleanplate-subtractor-sample wrote no mask video"
if "$bin/cleanplate-subtractor-sample" "$work/missing.mp4" 2> "$work/err"; then fail "a missing input was accepted"; fi
grep -q "cannot open" "$work/err" || fail "no clear error for a missing input"
echo "samples: all checks passed"
