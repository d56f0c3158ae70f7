#!/bin/bash
# Sets up, builds and runs every test of tandem:
#   1. release build (warnings are errors): unit, differential, simulation and
#      lab tests through ctest;
#   2. ASan+UBSan build: unit and simulation tests;
#   3. clang libFuzzer build: a short smoke run of every fuzz target;
#   4. clang-format check of all C++ sources.
# Ends with one line "tests: N passed, N failed".
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    release build and ctest only
#   LAB_FULL=1 scripts/test.sh also the long lab scenarios
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

passed=0
failed=0
stage_failed=()

# run_ctest STAGE BUILD_DIR [ctest args...]: runs ctest and adds its counts.
run_ctest() {
  local stage="$1" dir="$2"
  shift 2
  local log
  log="$(mktemp)"
  ctest --test-dir "$dir" --output-on-failure --timeout 900 -j "$(nproc)" "$@" 2>&1 | tee "$log"
  local summary
  summary="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)"
  rm -f "$log"
  if [[ -z "$summary" ]]; then
    echo "test: $stage: ctest printed no summary" >&2
    stage_failed+=("$stage")
    failed=$((failed + 1))
    return
  fi
  local f total
  f="$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")"
  total="$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$summary")"
  passed=$((passed + total - f))
  failed=$((failed + f))
  ((f > 0)) && stage_failed+=("$stage")
}

build() {
  local stage="$1"
  shift
  if ! env "$@" "$here/setup.sh"; then
    echo "test: $stage: build failed" >&2
    stage_failed+=("$stage build")
    failed=$((failed + 1))
    return 1
  fi
}

echo "=== release build and tests"
if build release BUILD_DIR="$root/build"; then
  run_ctest release "$root/build"
fi

if ((quick == 0)); then
  echo "=== sanitizer build (ASan+UBSan): unit and simulation tests"
  if build asan BUILD_DIR="$root/build-asan" \
    CMAKE_ARGS="-DTANDEM_SANITIZE=ON -DTANDEM_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug"; then
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      run_ctest asan "$root/build-asan" -L 'unit|sim'
  fi

  echo "=== fuzz build (clang libFuzzer): smoke runs"
  if build fuzz BUILD_DIR="$root/build-fuzz" CC=clang CXX=clang++ \
    CMAKE_ARGS="-DTANDEM_FUZZ=ON -DTANDEM_BENCH=OFF"; then
    run_ctest fuzz "$root/build-fuzz" -L fuzz
  fi

  echo "=== clang-format check"
  mapfile -t sources < <(cd "$root" && git ls-files '*.cc' '*.h' '*.cpp' '*.hpp')
  if (cd "$root" && clang-format --dry-run --Werror "${sources[@]}"); then
    passed=$((passed + 1))
  else
    echo "test: clang-format: run 'clang-format -i' on the files above" >&2
    stage_failed+=("format")
    failed=$((failed + 1))
  fi
fi

if ((${#stage_failed[@]} > 0)); then
  echo "test: failing stages: ${stage_failed[*]}" >&2
fi
echo "tests: $passed passed, $failed failed"
((failed == 0))
