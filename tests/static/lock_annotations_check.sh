#!/usr/bin/env bash
# Checks the lock annotations (ABSL_GUARDED_BY, ABSL_*_LOCKS_REQUIRED) of the daemons' and the
# client's sources with clang's thread-safety analysis: every guarded field read or written, and
# every annotated function called, with its lock held. GCC builds the code but ignores these
# annotations, so without this test they would be comments. Skipped (77) when clang is absent.
# Usage: lock_annotations_check.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
SRC=$1
BUILD=$2
CLANG=$(command -v clang++ || true)
if [ -z "$CLANG" ]; then
  echo "SKIPPED: clang++ is not installed (Debian package clang)"
  exit 77
fi
cd "$SRC"
# The sources with annotations: those that have some, or include a header of ours that has.
files=()
for f in master/*.cc common/*.cc chunkserver/*.cc client/*.cc security/*.cc; do
  headers=$(sed -n 's/^#include "\(\(master\|common\|chunkserver\|client\|security\)\/[^"]*\)"/\1/p' "$f")
  if grep -qE 'GUARDED_BY|LOCKS_REQUIRED' "$f" $headers 2>/dev/null; then files+=("$f"); fi
done
echo "checking ${#files[@]} files: ${files[*]}"
status=0
for f in "${files[@]}"; do
  if ! "$CLANG" -std=c++20 -pthread -I"$SRC" -I"$BUILD/gen" -I"$SRC/client/include" \
      -fsyntax-only -Wthread-safety -Werror=thread-safety "$f"; then
    echo "FAILED: $f"
    status=1
  fi
done
exit $status
