#!/usr/bin/env bash
# Installs every Debian package onceonly needs to build, test and run the demo.
# Idempotent, and quick when everything is already there (no apt-get update then).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libabsl-dev
  libssl-dev openssl libsqlite3-dev sqlite3 libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev   # libclang-rt: the sanitizer and libFuzzer runtimes (make fuzz)
  python3 python3-grpcio python3-protobuf python3-h2
  libmicrohttpd-dev
)
# `make bench` also needs the peers it measures against and the chart tool.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(nginx gnuplot-nox nghttp2-client)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bootstrap: done"
