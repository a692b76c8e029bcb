#!/usr/bin/env bash
# Runs samples/python/background_removal.py as a user would: on CDnet highway from the shared data
# ($CLEANPLATE_SHARED_DATA, else DATA), or, where that is absent, on a synthetic scene made here.
#   run_python_sample.sh PYTHON SAMPLE SYNTH DATA OUT
set -euo pipefail
python=$1 sample=$2 synth=$3 data=${CLEANPLATE_SHARED_DATA:-$4} out=$5
input=$data/cdnet-baseline/highway/input
if [ ! -d "$input" ]; then
  echo "run_python_sample: $input is absent; using a synthetic scene"
  rm -rf "$out/scene"
  "$synth" "$out/scene" --frames 60 > /dev/null
  input=$out/scene/input
fi
exec "$python" "$sample" "$input" "$out"
