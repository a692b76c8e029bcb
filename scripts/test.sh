#!/usr/bin/env bash
# Installs the dependencies, builds the release preset and runs every test.
#   scripts/test.sh            the README's test command
#   scripts/test.sh asan       the same tests under AddressSanitizer + UBSan
#   scripts/test.sh asan -LE heavy   further arguments go to ctest (here: leave out whole-sequence tests)
# CLEANPLATE_WERROR=ON makes warnings errors (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
scripts/install-deps.sh
cmake --preset "$preset" -DCLEANPLATE_WERROR="${CLEANPLATE_WERROR:-OFF}" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
ctest --preset "$preset" -j"$(nproc)" "$@"
