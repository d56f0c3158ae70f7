#!/bin/bash
# run_smoke.sh TARGET SEED_CORPUS_DIR RUNS SECONDS
# Runs a libFuzzer target over its seed corpus and then RUNS random inputs
# (at most SECONDS). Fails on any crash, leak, sanitizer report or timeout.
set -euo pipefail
target="$1" seeds="$2" runs="$3" seconds="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[[ -d "$seeds" ]] || { echo "run_smoke: seed corpus $seeds missing" >&2; exit 1; }
cd "$work"
"$target" -runs="$runs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 "$work" "$seeds"
