#!/bin/bash
# The table's figures are read by name (${!figure}), which shellcheck
# cannot follow.
# shellcheck disable=SC2034
# Resync benchmark: how fast two tandemd nodes on this machine copy a
# device to each other, against the physical limits measured in the same
# run.
#
#   1. raw backing file: 1 MiB sequential writes and reads at queue depth 4,
#      O_DIRECT (fio, io_uring engine), as tandemd's data path does; a
#      sequential read of one file while another is written, 256 KiB at
#      queue depth 16 each (what a resync between two nodes on this disk
#      does with tandemd's default window: the source reads, the target
#      writes; the disk's reads and writes together); and for comparison
#      one pass of uncached reads through the page cache;
#   2. loopback TCP bulk throughput (tcp_loopback_bench of the replication
#      benchmark);
#   3. tandem: two tandemd nodes on 127.0.0.1; `primary --force` on one of
#      them starts a full sync of the whole device to the other. The rate is
#      the sync's own, from the source's log ("resync done: N KiB in T s",
#      until the last block was acknowledged, as DRBD's "Resync done"); the
#      metadata write that records the end (with its flush of the device's
#      write cache) and the time from the command until `tandemadm
#      wait-sync` on the target returns (it looks every 200 ms; this
#      includes the flush) are recorded too.
#      Twice: with a fixed resync-rate of 4 GiB/s (the highest; the rate is
#      then not the limit), and with the dynamic controller (c-plan-ahead 20,
#      c-fill-target 16 MiB, c-max-rate 4 GiB/s, starting from resync-rate
#      1 GiB/s as DRBD's controller does).
#
# Target (issue 5): resync throughput >= 90% of min(disk limit, TCP), where
# the disk limit is the lower of half the raw sequential write figure (both
# nodes read and write the same disk of this machine) and half of what the
# disk reads and writes together when one file is read while another is
# written (each resynced byte is read once and written once). This
# machine's disk moves by a third or more within minutes, so the target is
# judged on interleaved pairs, taken last: the two raw disk figures, then
# a full sync with the fixed rate, alternately, --pairs times (default 5),
# compared by their medians. Every pair is printed.
#
#   resync_bench.sh [--build-dir DIR] [--dir DIR] [--size-mib N] [--pairs N]
#                   [--smoke]
#
# --dir must be on the disk to be measured (not tmpfs: O_DIRECT); the
# default is a new directory under /var/tmp, removed at the end. --smoke
# runs on 32 MiB files with short measurements (ctest).
# Exit 77 (skip) when fio or jq are missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=../../../scripts/lib/stop-processes.sh
source "$root/scripts/lib/stop-processes.sh"
# shellcheck source=../../../scripts/lib/two-node-conf.sh
source "$root/scripts/lib/two-node-conf.sh"
# shellcheck source=../../../scripts/lib/bench-figures.sh
source "$root/scripts/lib/bench-figures.sh"
build_dir="$root/build"
parent_dir="${TMPDIR:-/var/tmp}"
size_mib=1024
seconds=5
pairs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --dir) parent_dir=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --smoke) size_mib=32; seconds=0.3; pairs=1; shift ;;
    *) echo "resync_bench: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

tandemd="$build_dir/tools/tandemd/tandemd"
tandemadm="$build_dir/tools/tandemadm/tandemadm"
tcp_bench="$build_dir/tests/bench/replication/tcp_loopback_bench"
for bin in "$tandemd" "$tandemadm" "$tcp_bench"; do
  [ -x "$bin" ] || { echo "resync_bench: $bin is missing: build tandem first (or pass --build-dir)" >&2; exit 1; }
done
for tool in fio jq; do
  command -v "$tool" > /dev/null || { echo "resync_bench: SKIP: $tool is not installed (package $tool)" >&2; exit 77; }
done
if [ "$(stat -f -c %T "$parent_dir")" = tmpfs ]; then
  echo "resync_bench: $parent_dir is tmpfs (no O_DIRECT, not a disk): pass --dir on a disk" >&2
  exit 1
fi
runtime_ms=$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 1000 }')
[[ "$pairs" =~ ^[1-9][0-9]?$ ]] || { echo "resync_bench: --pairs must be 1 to 99, got '$pairs'" >&2; exit 2; }

work=$(mktemp -d "$parent_dir/tandem-resync-bench-XXXXXX")
pids=()
cleanup() {
  local rc=$?
  stop_processes "${pids[@]}"
  if [ "$rc" -ne 0 ]; then
    echo "resync_bench: failed; the last lines of each node's log:" >&2
    for n in alpha beta; do [ -f "$work/$n.log" ] && tail -n 15 "$work/$n.log" >&2; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { echo "resync_bench: $*" >&2; }
now() { date +%s.%N; }

# Written out in full so that no run pays for block allocation.
fill() { dd if=/dev/zero of="$1" bs=1M count="$size_mib" oflag=direct status=none; }

fio_job() {
  local out=$1; shift
  fio "$@" --output-format=json --output="$out" || {
    say "fio $* failed: error $(jq -r '.jobs[0].error' "$out" 2> /dev/null || cat "$out")"
    exit 1
  }
}

# --- 1. raw backing file ---------------------------------------------------
say "raw backing file ($size_mib MiB, O_DIRECT, io_uring, 1 MiB QD4), ${seconds} s per workload"
fill "$work/raw.img"
common=(--ioengine=io_uring --direct=1 "--filename=$work/raw.img" "--size=${size_mib}M" --bs=1M
  --iodepth=4 --time_based "--runtime=${runtime_ms}ms")
# raw_limits NAME: the two figures of the disk limit, into NAME-write.json
# (1 MiB sequential writes) and NAME-rw.json (what a resync on this one
# disk does: one file read while another is written, 256 KiB at queue
# depth 16 each, the chunks tandemd's default max-buffers window keeps in
# flight each way; raw.img may be in the page cache, the O_DIRECT read
# bypasses it).
raw_limits() {
  fio_job "$work/$1-write.json" --name=seqwrite --rw=write "${common[@]}"
  fio_job "$work/$1-rw.json" --ioengine=io_uring --direct=1 --bs=256k --iodepth=16 --time_based \
    "--runtime=${runtime_ms}ms" "--size=${size_mib}M" \
    --name=read --rw=read "--filename=$work/raw.img" \
    --name=write --rw=write "--filename=$work/raw2.img"
}
raw_write_of() { jq -r '.jobs[0].write.bw_bytes / 1e6' "$work/$1-write.json"; }
# Both directions together (the disk need not share them fairly; at this
# depth this one favours reads).
raw_rw_of() { jq -r '(.jobs[0].read.bw_bytes + .jobs[1].write.bw_bytes) / 1e6' "$work/$1-rw.json"; }
rw_split_of() { jq -r '"\(.jobs[0].read.bw_bytes / 1e6 | floor) read, \(.jobs[1].write.bw_bytes / 1e6 | floor) write"' "$work/$1-rw.json"; }
fio_job "$work/raw-read.json" --name=seqread --rw=read "${common[@]}"
# For comparison: the same file rewritten with O_DIRECT (so not cached),
# read once through the page cache with the resync's chunk size and depth,
# the path a resync source's reads took before tandemd used O_DIRECT.
fill "$work/raw.img"
fio_job "$work/cached-read.json" --name=cachedread --rw=read --ioengine=io_uring --direct=0 \
  "--filename=$work/raw.img" "--size=${size_mib}M" --bs=256k --iodepth=4
fill "$work/raw2.img"
raw_limits raw
raw_write=$(raw_write_of raw)
raw_read=$(jq -r '.jobs[0].read.bw_bytes / 1e6' "$work/raw-read.json")
cached_read=$(jq -r '.jobs[0].read.bw_bytes / 1e6' "$work/cached-read.json")
raw_rw=$(raw_rw_of raw)

# --- 2. loopback TCP -------------------------------------------------------
say "loopback TCP, ${seconds} s"
"$tcp_bench" --seconds "$seconds" > "$work/tcp.txt"
tcp_mbs=$(awk '$1 == "tcp_throughput_mbs" { print $2 }' "$work/tcp.txt")

# --- 3. tandem ---------------------------------------------------------------
# CPU time both daemons used so far, in clock ticks.
daemon_cpu_ticks() {
  local sum=0 p
  for p in "${pids[@]}"; do
    sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$sum"
}

# resync_run NAME DISK-OPTIONS: a full sync of the device; prints MB/s.
port=$((19000 + ($$ % 2000) * 2))
resync_run() {
  local name=$1 disk_options=$2
  port=$((port + 2))
  two_node_conf "$work" "$port" --secret bench-secret --resource "disk { $disk_options }" \
    --device-alpha /dev/drbd0 --device-beta /dev/drbd0 > "$work/$name.conf"
  adm() { local n=$1; shift; "$tandemadm" -c "$work/$name.conf" --node "$n" --run-dir "$work/run-$n" "$@"; }
  pids=()
  local n
  for n in alpha beta; do
    fill "$work/$n.img"
    adm "$n" create-md r0 > /dev/null
    mkdir -p "$work/run-$n"
    "$tandemd" -c "$work/$name.conf" --node "$n" --run-dir "$work/run-$n" \
      --log-file "$work/$n.log" 2> "$work/$n.start"
    pids+=("$(cat "$work/run-$n/tandemd.pid")")
  done
  {
    adm alpha up r0
    adm beta up r0
    adm alpha wait-connect --timeout 30 r0
  } >> "$work/adm.out"
  local t0 t1 state c0 c1
  t0=$(now)
  c0=$(daemon_cpu_ticks)
  adm alpha primary --force r0 >> "$work/adm.out"
  # One waiting process (it looks every 200 ms): polling with a new
  # tandemadm every few ms would take CPU from the daemons.
  adm beta wait-sync --timeout 600 r0 >> "$work/adm.out" 2>&1 || {
    say "$name: the sync did not finish: $(adm beta status r0 2>&1)"
    exit 1
  }
  t1=$(now)
  c1=$(daemon_cpu_ticks)
  awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.0f\n", (c1 - c0) / hz / (t1 - t0) * 100 }' > "$work/$name.cpu"
  state=$(adm alpha status --json r0)
  local sent size
  sent=$(jq -r '.resources[0].sync.bytes_sent' <<< "$state")
  size=$(jq -r '.resources[0].size_bytes' <<< "$state")
  [ "$sent" = "$size" ] || {
    say "$name: the source sent $sent bytes for a device of $size bytes: $state"
    exit 1
  }
  {
    adm alpha secondary r0
    adm alpha down r0
    adm beta down r0
  } >> "$work/adm.out"
  stop_processes "${pids[@]}"
  pids=()
  rm -rf "$work/run-alpha" "$work/run-beta" "$work/alpha.img" "$work/beta.img"
  mv "$work/alpha.log" "$work/$name-alpha.log"
  mv "$work/beta.log" "$work/$name-beta.log"
  # The sync's own rate, as the source logged it; then the command's.
  local done_line
  done_line=$(grep -o "resync done: [0-9]* KiB in [0-9.]* s .*metadata written in [0-9.]* s" \
    "$work/$name-alpha.log" | tail -n 1)
  [ -n "$done_line" ] || { say "$name: the source logged no 'resync done'"; exit 1; }
  awk -v line="$done_line" -v t0="$t0" -v t1="$t1" -v bytes="$size" 'BEGIN {
    n = split(line, f, " ")
    printf "%.1f %.1f %.3f\n", f[3] * 1024 / 1e6 / f[6], bytes / 1e6 / (t1 - t0), f[n - 1] }'
}
say "tandem: full sync of $size_mib MiB between two nodes on 127.0.0.1, fixed resync-rate 4G"
read -r fixed_mbs fixed_e2e fixed_md < <(resync_run fixed "c-plan-ahead 0; resync-rate 4G;")
say "tandem: the same with the dynamic controller"
read -r dynamic_mbs dynamic_e2e dynamic_md < <(resync_run dynamic "c-plan-ahead 20; c-fill-target 16M; c-max-rate 4G; c-min-rate 250k; resync-rate 1G;")
say "target: $pairs interleaved pairs of the raw disk figures and a full sync with the fixed rate"
for ((i = 1; i <= pairs; i++)); do
  raw_limits "pair$i"
  read -r mbs _ _ < <(resync_run "pair$i" "c-plan-ahead 0; resync-rate 4G;")
  echo "$mbs" > "$work/pair$i.mbs"
done

check_figures "" raw_write raw_read raw_rw cached_read tcp_mbs fixed_mbs fixed_e2e dynamic_mbs dynamic_e2e

awk -v rw="$raw_write" -v rr="$raw_read" -v rrw="$raw_rw" -v cr="$cached_read" -v tcp="$tcp_mbs" \
  -v fx="$fixed_mbs" -v fxe="$fixed_e2e" -v dy="$dynamic_mbs" -v dye="$dynamic_e2e" \
  -v fxm="$fixed_md" -v dym="$dynamic_md" -v rwsplit="$(rw_split_of raw)" \
  -v fx_cpu="$(cat "$work/fixed.cpu")" -v dy_cpu="$(cat "$work/dynamic.cpu")" \
  -v size_mib="$size_mib" -v seconds="$seconds" 'BEGIN {
  printf "resync benchmark: full sync of %s MiB, %s s per raw/TCP figure (MB/s = 1e6 bytes/s)\n\n", size_mib, seconds
  printf "| figure | MB/s |\n|---|---:|\n"
  printf "| raw seq write 1M QD4 O_DIRECT | %.1f |\n", rw
  printf "| raw seq read 1M QD4 O_DIRECT | %.1f |\n", rr
  printf "| raw read while writing another file, 256K QD16 each, O_DIRECT (%s; together) | %.1f |\n", rwsplit, rrw
  printf "| uncached read through the page cache, 256K QD4, once | %.1f |\n", cr
  printf "| loopback TCP | %.1f |\n", tcp
  printf "| tandem resync, fixed resync-rate 4G (both tandemd: %s%% of one core) | %.1f |\n", fx_cpu, fx
  printf "| (the same from primary --force until wait-sync returned; the final metadata write took %.3f s) | %.1f |\n", fxm, fxe
  printf "| tandem resync, dynamic controller (both tandemd: %s%% of one core) | %.1f |\n", dy_cpu, dy
  printf "| (the same from primary --force until wait-sync returned; the final metadata write took %.3f s) | %.1f |\n", dym, dye
}'
echo

# The target, from the interleaved pairs' medians.
# target_of RAW-WRITE RAW-RW: 90% of min(raw write / 2, read+write / 2, TCP)
target_of() {
  awk -v rw="$1" -v rrw="$2" -v tcp="$tcp_mbs" 'BEGIN {
    disk = (rw < rrw) ? rw / 2 : rrw / 2
    printf "%.1f\n", 0.9 * ((disk < tcp) ? disk : tcp) }'
}
echo "| pair | raw seq write | read while writing (read + write) | 90% of min(write/2, (read + write)/2, TCP) | tandem resync, fixed rate | ratio |"
echo "|---|---:|---:|---:|---:|---:|"
for ((i = 1; i <= pairs; i++)); do
  w=$(raw_write_of "pair$i"); rw=$(raw_rw_of "pair$i"); t=$(target_of "$w" "$rw"); m=$(cat "$work/pair$i.mbs")
  check_figures " in pair $i" w rw m
  echo "$t" >> "$work/targets"
  echo "$m" >> "$work/resyncs"
  awk -v i="$i" -v w="$w" -v rw="$rw" -v t="$t" -v m="$m" \
    'BEGIN { printf "| %d | %.1f | %.1f | %.1f | %.1f | %.2f |\n", i, w, rw, t, m, m / t }'
done
echo
awk -v target="$(median < "$work/targets")" -v fx="$(median < "$work/resyncs")" -v dy="$dynamic_mbs" \
  -v pairs="$pairs" 'BEGIN {
  printf "| target (medians of %d pairs) | limit | tandem | ratio | met |\n|---|---:|---:|---:|---|\n", pairs
  printf "| resync (fixed) >= 90%% of min(raw write/2, (read + write)/2, TCP) | %.1f MB/s | %.1f MB/s | %.2f | %s |\n", target, fx, fx / target, (fx >= target) ? "yes" : "NO"
  printf "| resync (dynamic, one run) >= 90%% of the same | %.1f MB/s | %.1f MB/s | %.2f | %s |\n", target, dy, dy / target, (dy >= target) ? "yes" : "NO"
}'
