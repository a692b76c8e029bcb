#!/usr/bin/env bash
# Formats the C++ sources with clang-format (.clang-format: Google style, 120 columns).
#   scripts/format.sh            rewrites the files in place
#   scripts/format.sh --check    changes nothing; lists the files that differ and fails if any does (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format > /dev/null || { echo "format.sh: clang-format is not installed (scripts/install-deps.sh)"; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [ "${1:-}" = "--check" ]; then
  differ=()
  for f in "${files[@]}"; do
    clang-format --style=file "$f" | cmp -s - "$f" || differ+=("$f")
  done
  [ ${#differ[@]} -eq 0 ] && { echo "format.sh: ${#files[@]} files formatted"; exit 0; }
  printf 'format.sh: not formatted (run scripts/format.sh): %s\n' "${differ[@]}"
  exit 1
fi
clang-format --style=file -i "${files[@]}"
