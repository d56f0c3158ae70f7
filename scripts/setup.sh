#!/bin/bash
# Installs the Debian packages tandem needs (only the missing ones), then
# configures and builds tandem with CMake. Safe to run again: a machine that
# has everything only rebuilds what changed.
#
#   scripts/setup.sh                  release build in ./build
#   BUILD_DIR=DIR scripts/setup.sh    build elsewhere
#   CMAKE_ARGS="..." scripts/setup.sh extra cmake options
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build_dir="${BUILD_DIR:-$root/build}"

mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/packages.txt")

missing=()
for pkg in "${wanted[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
  if [[ $EUID -ne 0 ]]; then
    echo "setup: installing packages needs root; run as root or install them yourself" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all ${#wanted[@]} packages present"
fi

# shellcheck disable=SC2086
cmake -S "$root" -B "$build_dir" -G Ninja ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
echo "setup: built in $build_dir"
