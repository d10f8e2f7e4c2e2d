#!/usr/bin/env bash
# The analysis half of the test command (docs/security.md, "Secure development"), run by
# scripts/test.sh after the main suite; non-zero on any finding:
#   1. clang-tidy over the production sources, with the check set of .clang-tidy;
#   2. a clang build with AddressSanitizer + UndefinedBehaviorSanitizer, the lock annotations
#      checked as errors (-Wthread-safety) and the libFuzzer targets (TERNION_SANITIZE);
#   3. in that build: every unit test, a bounded run of every fuzz target, and the RPC fuzzing
#      of running (sanitized) daemons.
# Usage: scripts/analyze.sh   (MAIN_BUILD_DIR: the main build with compile_commands.json;
#                              ASAN_BUILD_DIR: where the sanitized build goes)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MAIN_BUILD_DIR=${MAIN_BUILD_DIR:-build}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
JOBS=$(nproc)

echo "== clang-tidy"
[ -f "$MAIN_BUILD_DIR/compile_commands.json" ] || {
  echo "no $MAIN_BUILD_DIR/compile_commands.json: run scripts/test.sh (or build) first" >&2
  exit 1
}
run-clang-tidy -p "$MAIN_BUILD_DIR" -j "$JOBS" -quiet \
  "^$ROOT/(common|security|chunkserver|master|client|bench)/.*\.cc$" > /tmp/ternion-tidy.$$ 2>&1 || {
  grep -E "(warning|error):" /tmp/ternion-tidy.$$ | sort -u | head -100
  rm -f /tmp/ternion-tidy.$$
  echo "clang-tidy: findings above" >&2
  exit 1
}
rm -f /tmp/ternion-tidy.$$

echo "== sanitized clang build ($ASAN_BUILD_DIR)"
CC=clang CXX=clang++ cmake -S . -B "$ASAN_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTERNION_SANITIZE=ON >/dev/null
cmake --build "$ASAN_BUILD_DIR" -j"$JOBS"

echo "== unit tests, fuzz targets and RPC fuzzing under ASan + UBSan"
cd "$ASAN_BUILD_DIR"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure --timeout 900 -j"${TEST_JOBS:-2}" -L 'unit|fuzz'
