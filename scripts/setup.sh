#!/usr/bin/env bash
# Installs every Debian 12 package that the build, the tests and the demo need.
# Idempotent: packages already installed are skipped; apt-get runs only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  librocksdb-dev libssl-dev libsodium-dev libisal-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcivetweb-dev civetweb prometheus-cpp-dev libsystemd-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev
  prometheus curl iproute2 dpkg-dev chromium poppler-utils clang clang-tidy libclang-rt-14-dev openssl python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# prometheus pulls in a service; we only need promtool, so avoid recommends.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
