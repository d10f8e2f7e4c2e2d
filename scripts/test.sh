#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds, runs every test (ctest), then
# the analysis (scripts/analyze.sh: clang-tidy, the ASan+UBSan build with its unit tests, fuzz
# targets and RPC fuzzing). Exits non-zero on any failure.
#   TEST_LABELS="-L soak" scripts/test.sh   long soak runs (opt-in)
#   ANALYZE=0 scripts/test.sh               the main suite only (a quicker local run)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
(
  cd "$BUILD_DIR"
  ctest --output-on-failure --timeout 900 -j"${TEST_JOBS:-2}" ${TEST_LABELS:--LE soak} "$@"
)
if [ "${ANALYZE:-1}" != "0" ]; then
  MAIN_BUILD_DIR="$BUILD_DIR" scripts/analyze.sh
fi
