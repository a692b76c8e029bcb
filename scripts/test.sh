#!/usr/bin/env bash
# Installs the dependencies, builds the release preset and runs every test, then says which tests
# were skipped and why (the real-data tests skip where ../shared/data is absent).
#   scripts/test.sh            the README's test command
#   scripts/test.sh asan       the same tests under AddressSanitizer + UBSan
#   scripts/test.sh asan -LE heavy   further arguments go to ctest (here: leave out whole-sequence tests)
# CLEANPLATE_WERROR=ON makes warnings errors (CI sets it); CLEANPLATE_SHARED_DATA=DIR reads the test
# data from DIR instead of ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
scripts/install-deps.sh
cmake --preset "$preset" -DCLEANPLATE_WERROR="${CLEANPLATE_WERROR:-OFF}" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
status=0
ctest --preset "$preset" -j"$(nproc)" "$@" || status=$?
# GoogleTest prints "file:line: Skipped" and the reason on the next line.
log=build/$preset/Testing/Temporary/LastTest.log
if [ -f "$log" ]; then
  # grep finds nothing when no test skipped, which pipefail would turn into a failure.
  { grep -A1 ': Skipped$' "$log" || true; } | { grep -v -e ': Skipped$' -e '^--$' || true; } | sort | uniq -c |
    while read -r count reason; do echo "test.sh: skipped $count test(s): $reason"; done
fi
exit "$status"
