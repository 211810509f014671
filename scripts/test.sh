#!/usr/bin/env bash
# Installs what is missing, configures, builds with warnings as errors and
# runs every test (unit, probes, Apache end-to-end) through ctest.
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only the tests labelled "unit" (ctest args pass through)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"

build="${BUILD_DIR:-$here/build/test}"
mkdir -p "$build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTS_WARNINGS_AS_ERRORS=ON > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@"
