#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds, runs every test (ctest).
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
cd "$BUILD_DIR"
# Long soak runs are opt-in: TEST_LABELS="-L soak" scripts/test.sh
ctest --output-on-failure --timeout 900 -j"${TEST_JOBS:-2}" ${TEST_LABELS:--LE soak} "$@"
