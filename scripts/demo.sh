#!/usr/bin/env bash
# The README's main command: builds cleanplate and separates the bundled synthetic scene.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "cleanplate separate is not built yet (see the issue '\`cleanplate separate\`'); run scripts/test.sh for the library."
exit 1
