#!/usr/bin/env bash
# What an operator and a compute job's developer get from the build:
# - `cmake --install` into a fresh prefix; the installed binaries start a local cluster;
# - an example project outside the tree (examples/client_project) finds the installed client
#   library with find_package(Ternion), builds, and writes and reads a file through it; the
#   same source builds with pkg-config;
# - `cpack -G DEB` makes the four packages, with the files, dependencies and postinst each needs.
set -euo pipefail
BUILD=$1
SRC=$2
DIR=$(mktemp -d /tmp/ternion-install.XXXXXX)
cleanup() { "$DIR/prefix/bin/ternion" local down --dir "$DIR/cluster" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$BUILD" --prefix "$DIR/prefix" >/dev/null
P=$DIR/prefix
for f in bin/ternion bin/ternion-master bin/ternion-chunkserver include/ternion/client.h \
         include/ternion/table.h lib/libternion.so lib/pkgconfig/ternion.pc \
         lib/cmake/Ternion/TernionConfig.cmake lib/systemd/system/ternion-master.service \
         lib/systemd/system/ternion-chunkserver.service share/ternion/examples/master.toml \
         share/ternion/examples/chunkserver-rack1.toml share/ternion/examples/alerts.yml; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
grep -q "^ExecStart=$P/bin/ternion-master --config /etc/ternion/master.toml$" \
  "$P/lib/systemd/system/ternion-master.service" || fail "the master unit names another binary"
grep -q '^Type=notify$' "$P/lib/systemd/system/ternion-chunkserver.service" || fail "unit type"
# The units are valid, and hardened (systemd's own exposure score: 0 best .. 10 worst).
if command -v systemd-analyze >/dev/null; then
  (cd "$P/lib/systemd/system" && systemd-analyze verify ./ternion-master.service \
    ./ternion-chunkserver.service) || fail "systemd-analyze verify"
  for unit in ternion-master ternion-chunkserver; do
    score=$(cd "$P/lib/systemd/system" && systemd-analyze security --offline=yes "./$unit.service" |
      awk '/Overall exposure level/ {print $(NF-2)}')
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 4 else 1)" "$score" ||
      fail "$unit exposure $score"
    echo "$unit: systemd exposure $score"
  done
fi
# Only the client's API is exported by the library, not the internals it carries.
nm -D --defined-only "$P/lib/libternion.so" > "$DIR/symbols"
grep -q 'Client7Connect' "$DIR/symbols" || fail "no Client::Connect"
if grep -q 'WriteReadyFile' "$DIR/symbols"; then
  fail "libternion.so exports Ternion's internals"
fi

# The example job, built against the installed files only.
cmake -S "$SRC/examples/client_project" -B "$DIR/job" -G Ninja -DCMAKE_PREFIX_PATH="$P" >/dev/null
cmake --build "$DIR/job" >/dev/null
PKG_CONFIG_PATH="$P/lib/pkgconfig" c++ -std=c++20 "$SRC/examples/client_project/example_job.cc" \
  -o "$DIR/job_pkgconfig" $(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs ternion)

"$P/bin/ternion" local up --dir "$DIR/cluster" --racks 3 --per-rack 1 >/dev/null
source "$DIR/cluster/cluster.env"
export TERNION_MASTER TERNION_PROFILE
"$P/bin/ternion" project create jobs
[ "$(LD_LIBRARY_PATH=$P/lib "$DIR/job/example_job" jobs out/a "hello from cmake")" = \
  "hello from cmake" ] || fail "the find_package example job"
[ "$(LD_LIBRARY_PATH=$P/lib "$DIR/job_pkgconfig" jobs out/b "hello from pkg-config")" = \
  "hello from pkg-config" ] || fail "the pkg-config example job"
"$P/bin/ternion" cat jobs/out/a | grep -x "hello from cmake" >/dev/null || fail "the CLI reads the job's file"

# The Debian packages.
(cd "$BUILD" && cpack -G DEB -B "$DIR/debs" >/dev/null)
for pkg in ternion-master ternion-chunkserver ternion-client libternion-dev; do
  deb=$(ls "$DIR"/debs/${pkg}_*.deb 2>/dev/null) || fail "no package $pkg"
  dpkg-deb -f "$deb" Package | grep -x "$pkg" >/dev/null || fail "$deb is not $pkg"
  dpkg-deb -c "$deb" > "$DIR/$pkg.files"
done
grep -q './usr/bin/ternion-master$' "$DIR/ternion-master.files" || fail "master binary"
grep -q './usr/lib/systemd/system/ternion-master.service$' "$DIR/ternion-master.files" || fail "unit"
grep -q './usr/bin/ternion-chunkserver$' "$DIR/ternion-chunkserver.files" || fail "chunkserver"
grep -q './usr/lib/x86_64-linux-gnu/libternion.so.0$\|./usr/lib/libternion.so.0' \
  "$DIR/ternion-client.files" || fail "library in ternion-client"
grep -q './usr/include/ternion/client.h$' "$DIR/libternion-dev.files" || fail "headers"
grep -q 'Ternion/TernionConfig.cmake$' "$DIR/libternion-dev.files" || fail "CMake config"
sh -n "$SRC/deploy/debian/postinst" || fail "postinst is not valid sh"
for pkg in ternion-master ternion-chunkserver; do
  dpkg-deb --ctrl-tarfile "$DIR"/debs/${pkg}_*.deb | tar -xO ./postinst | grep 'useradd --system' >/dev/null \
    || fail "$pkg creates no ternion user"
  dpkg-deb -f "$DIR"/debs/${pkg}_*.deb Depends | grep 'libgrpc++' >/dev/null || fail "$pkg dependencies"
done
echo "install OK"
