#!/usr/bin/env bash
# Installs every Debian package that certledger's build, tests and tools need.
# Idempotent: when everything is present it does nothing (no apt-get update).
#   bash scripts/setup.sh [--build-only]   (--build-only: only what building the binary needs)
set -euo pipefail

# What building the certledger binary needs (the container image's build stage: --build-only).
BUILD_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl python3
  libleveldb-dev libsnappy-dev libsecp256k1-dev libssl-dev libcereal-dev
  libboost-dev libboost-system-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libqrencode-dev libpng-dev libzbar0
  prometheus-cpp-dev libtomlplusplus-dev
)
# Tests, benchmarks, fuzzing, formatting, the browser and network-namespace tests.
TEST_PACKAGES=(
  bc python3-yaml
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  clang-format clang-tidy
  clang libclang-rt-14-dev
  chromium wrk nginx iproute2
)
PACKAGES=("${BUILD_PACKAGES[@]}")
if [ "${1:-}" != "--build-only" ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
