#!/bin/bash
# The table's figures are read by name (${!figure}), which shellcheck
# cannot follow.
# shellcheck disable=SC2034
# Replication benchmark: the physical limits and tandem, in one run, on one
# disk.
#
#   1. raw backing file, O_DIRECT (fio, io_uring engine), the path tandemd's
#      data writes take, and for comparison the same file through the page
#      cache;
#   2. loopback TCP: small-message round trip and bulk throughput
#      (tcp_loopback_bench);
#   3. tandem: two tandemd nodes on 127.0.0.1, protocol C, both Connected
#      and UpToDate, driven through the primary's NBD unix socket (fio, nbd
#      engine), with the CPU time both daemons use per workload.
#
# Workloads, the same for 1 and 3: 4 KiB random writes at queue depth 1
# (latency p50/p99), 4 KiB random writes at queue depth 32 (IOPS), 1 MiB
# sequential writes at queue depth 4 (MB/s, 1 MB = 1e6 bytes), and 4 KiB
# writes each followed by a flush (mean time per pair). No FUA, and no
# flush outside the last workload, on either side. tandemd writes its
# backing files with O_DIRECT like the raw runs, so a plain write completes
# once the device (possibly its volatile cache) has it; the write + flush
# pairs compare durable writes.
#
# Then the issue's targets:
#   QD1:        tandem p50 <= raw p50 + TCP round trip p50 + 30 us
#   throughput: tandem seq >= 90% of min(raw seq / 2, TCP throughput)
#               (both nodes share this machine's disk: half the raw figure)
# This machine's disk moves by a third or more within minutes, so the
# targets are judged on interleaved pairs, taken last: the raw QD1 and
# sequential workloads, the loopback figures, then tandem's workloads,
# --pairs times (default 3), and compared by their medians. Every pair is
# printed.
#
#   replication_bench.sh [--build-dir DIR] [--dir DIR] [--size-mib N]
#                        [--seconds S] [--pairs N] [--smoke]
#
# --dir must be on the disk to be measured (not tmpfs: O_DIRECT); the
# default is a new directory under /var/tmp, removed at the end. --smoke
# runs everything for a fraction of a second on small files (ctest).
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
seconds=10
pairs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --dir) parent_dir=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --smoke) size_mib=32; seconds=0.2; pairs=1; shift ;;
    *) echo "replication_bench: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

tandemd="$build_dir/tools/tandemd/tandemd"
tandemadm="$build_dir/tools/tandemadm/tandemadm"
tcp_bench="$build_dir/tests/bench/replication/tcp_loopback_bench"
for bin in "$tandemd" "$tandemadm" "$tcp_bench"; do
  [ -x "$bin" ] || { echo "replication_bench: $bin is missing: build tandem first (or pass --build-dir)" >&2; exit 1; }
done
for tool in fio jq; do
  command -v "$tool" > /dev/null || { echo "replication_bench: SKIP: $tool is not installed (package $tool)" >&2; exit 77; }
done
fio --enghelp 2>&1 | grep -qw nbd || { echo "replication_bench: SKIP: this fio has no nbd engine" >&2; exit 77; }
if [ "$(stat -f -c %T "$parent_dir")" = tmpfs ]; then
  echo "replication_bench: $parent_dir is tmpfs (no O_DIRECT, not a disk): pass --dir on a disk" >&2
  exit 1
fi

runtime_ms=$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 1000 }')
[ "$runtime_ms" -gt 0 ] || { echo "replication_bench: --seconds must be positive, got '$seconds'" >&2; exit 2; }
[[ "$pairs" =~ ^[1-9][0-9]?$ ]] || { echo "replication_bench: --pairs must be 1 to 99, got '$pairs'" >&2; exit 2; }

work=$(mktemp -d "$parent_dir/tandem-bench-XXXXXX")
pids=()
cleanup() {
  local rc=$?
  stop_processes "${pids[@]}"
  if [ "$rc" -ne 0 ]; then
    echo "replication_bench: failed; the last lines of each node's log:" >&2
    for n in alpha beta; do [ -f "$work/$n.log" ] && tail -n 15 "$work/$n.log" >&2; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { echo "replication_bench: $*" >&2; }

# Written out in full so that no run pays for block allocation.
fill() { dd if=/dev/zero of="$1" bs=1M count="$size_mib" oflag=direct status=none; }

# fio_job OUT OPTIONS...: one fio job, JSON into OUT; a failure shows fio's reason.
# While tandemd runs, OUT.cpu gets the CPU time both daemons used during
# the job, in % of one core: it shows whether a figure is CPU-bound.
fio_job() {
  local out=$1; shift
  cpu_start
  fio "$@" --output-format=json --output="$out" || {
    say "fio $* failed: error $(jq -r '.jobs[0].error' "$out" 2> /dev/null || cat "$out")"
    exit 1
  }
  cpu_percent > "$out.cpu"
}
cpu_start() { cpu_t0=$(date +%s.%N); cpu_c0=$(daemon_cpu_ticks); }
cpu_percent() {
  awk -v t0="$cpu_t0" -v t1="$(date +%s.%N)" -v c0="$cpu_c0" -v c1="$(daemon_cpu_ticks)" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f\n", (c1 - c0) / hz / (t1 - t0) * 100 }'
}
daemon_cpu_ticks() {
  local sum=0 p
  for p in "${pids[@]}"; do
    sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$sum"
}

# Options of every workload: then the engine and target (JOB-OPTIONS).
job_common=(--time_based "--runtime=${runtime_ms}ms" --norandommap --randrepeat=0
  --lat_percentiles=1 --percentile_list=50:99)
# run_fio NAME JOB-OPTIONS...: the workloads, results in $work/NAME-*.json
run_fio() {
  local name=$1; shift
  local common=("${job_common[@]}" "$@")
  run_target_jobs "$name" "$@"
  fio_job "$work/$name-qd32.json" --name=qd32 --rw=randwrite --bs=4k --iodepth=32 "${common[@]}"
  # Durable writes: each 4 KiB write followed by a flush (fsync on a file,
  # NBD_CMD_FLUSH on the export; fio's nbd engine has no fdatasync), one
  # pair at a time.
  fio_job "$work/$name-durable.json" --name=durable --rw=randwrite --bs=4k --iodepth=1 --fsync=1 \
    "${common[@]}"
}
# run_target_jobs NAME JOB-OPTIONS...: the two workloads the targets are
# about, QD1 and sequential, into $work/NAME-qd1.json and NAME-seq.json.
run_target_jobs() {
  local name=$1; shift
  local common=("${job_common[@]}" "$@")
  fio_job "$work/$name-qd1.json" --name=qd1 --rw=randwrite --bs=4k --iodepth=1 "${common[@]}"
  fio_job "$work/$name-seq.json" --name=seq --rw=write --bs=1M --iodepth=4 "${common[@]}"
}
lat_us() { jq -r ".jobs[0].write.lat_ns.percentile[\"$2\"] / 1000" "$work/$1-qd1.json"; }
iops() { jq -r '.jobs[0].write.iops' "$work/$1-qd32.json"; }
mbs() { jq -r '.jobs[0].write.bw_bytes / 1e6' "$work/$1-seq.json"; }
# Mean time of one write + flush pair.
durable_us() { jq -r '1e6 / .jobs[0].write.iops' "$work/$1-durable.json"; }

# --- 1. raw backing file ---------------------------------------------------
say "raw backing file ($size_mib MiB, O_DIRECT, io_uring), ${seconds} s per workload"
fill "$work/raw.img"
run_fio raw --ioengine=io_uring --direct=1 "--filename=$work/raw.img" "--size=${size_mib}M"
# For comparison, the same file without O_DIRECT: what a data path through
# the page cache would give (tandemd's was one until it used O_DIRECT).
say "raw backing file through the page cache (no O_DIRECT), ${seconds} s per workload"
run_fio buffered --ioengine=io_uring --direct=0 "--filename=$work/raw.img" "--size=${size_mib}M"
sync "$work/raw.img"  # its dirty pages must not be written back during the next parts

# --- 2. loopback TCP -------------------------------------------------------
say "loopback TCP, ${seconds} s per figure"
"$tcp_bench" --seconds "$seconds" > "$work/tcp.txt"
# tcp FIGURE [NAME]: a figure of $work/NAME.txt (default: tcp).
tcp() { awk -v k="$1" '$1 == k { print $2 }' "$work/${2:-tcp}.txt"; }

# --- 3. tandem, two nodes, protocol C --------------------------------------
say "tandem: two nodes on 127.0.0.1, protocol C"
port=$((18000 + ($$ % 2000) * 2))
two_node_conf "$work" "$port" --secret bench-secret \
  --device-alpha /dev/drbd0 --device-beta /dev/drbd0 > "$work/tandem.conf"
adm() { local n=$1; shift; "$tandemadm" -c "$work/tandem.conf" --node "$n" --run-dir "$work/run-$n" "$@"; }
for n in alpha beta; do
  fill "$work/$n.img"
  adm "$n" create-md r0 > /dev/null
  mkdir -p "$work/run-$n"
  "$tandemd" -c "$work/tandem.conf" --node "$n" --run-dir "$work/run-$n" \
    --log-file "$work/$n.log" 2> "$work/$n.start"
  pids+=("$(cat "$work/run-$n/tandemd.pid")")
done
{
  adm alpha up r0
  adm beta up r0
  adm alpha wait-connect --timeout 30 r0
  adm alpha primary --force r0
  adm alpha wait-sync --timeout 600 r0
} >> "$work/adm.out"
state=$(adm alpha status --json r0)
for want in '"role":"Primary"' '"disk":"UpToDate"' '"connection":"Connected"' \
  '"peer_disk":"UpToDate"' '"replication":"Established"'; do
  grep -qF "$want" <<< "$state" || { say "tandem is not ready to measure (want $want): $state"; exit 1; }
done
# tandemd wrote the initial sync with O_DIRECT; the sync also empties the
# device's cache of it, so that the measurement starts as the raw runs did.
sync "$work/alpha.img" "$work/beta.img"
cpu_start
sleep "$seconds"
cpu_percent > "$work/tandem-idle.json.cpu"
tandem_job=(--ioengine=nbd "--uri=nbd+unix:///r0?socket=$work/run-alpha/r0.nbd")
raw_job=(--ioengine=io_uring --direct=1 "--filename=$work/raw.img" "--size=${size_mib}M")
run_fio tandem "${tandem_job[@]}"
# --- 4. interleaved pairs for the targets ----------------------------------
# Each pair measures its own limits: the raw file, then the loopback
# network (its round trip moves by a third between minutes here), then
# tandem.
say "targets: $pairs interleaved pairs of raw O_DIRECT, loopback TCP and tandem (QD1, then sequential), ${seconds} s each"
for ((i = 1; i <= pairs; i++)); do
  run_target_jobs "pair$i-raw" "${raw_job[@]}"
  "$tcp_bench" --seconds "$seconds" > "$work/pair$i-tcp.txt"
  run_target_jobs "pair$i-tandem" "${tandem_job[@]}"
done
state=$(adm alpha status --json r0)
grep -qF '"peer_disk":"UpToDate"' <<< "$state" || { say "peer left UpToDate during the run: $state"; exit 1; }
{
  adm alpha secondary r0
  adm alpha down r0
  adm beta down r0
} >> "$work/adm.out"

# --- table -------------------------------------------------------------------
raw_p50=$(lat_us raw 50.000000); raw_p99=$(lat_us raw 99.000000)
buf_p50=$(lat_us buffered 50.000000); buf_p99=$(lat_us buffered 99.000000)
t_p50=$(lat_us tandem 50.000000); t_p99=$(lat_us tandem 99.000000)
raw_iops=$(iops raw); buf_iops=$(iops buffered); t_iops=$(iops tandem)
raw_mbs=$(mbs raw); buf_mbs=$(mbs buffered); t_mbs=$(mbs tandem)
raw_dur=$(durable_us raw); buf_dur=$(durable_us buffered); t_dur=$(durable_us tandem)
rtt_p50=$(tcp tcp_rtt_p50_us); rtt_p99=$(tcp tcp_rtt_p99_us); tcp_mbs=$(tcp tcp_throughput_mbs)
figures=(raw_p50 raw_p99 buf_p50 buf_p99 t_p50 t_p99 raw_iops buf_iops t_iops raw_mbs buf_mbs
  t_mbs raw_dur buf_dur t_dur rtt_p50 rtt_p99 tcp_mbs)
check_figures ": see the fio and tcp_loopback_bench output above" "${figures[@]}"
vars=()
for figure in "${figures[@]}"; do vars+=(-v "$figure=${!figure}"); done

awk "${vars[@]}" -v seconds="$seconds" -v size_mib="$size_mib" 'BEGIN {
  printf "replication benchmark: %s s per workload, %s MiB files, protocol C over loopback\n\n", seconds, size_mib
  printf "| workload | raw O_DIRECT | raw page cache | loopback TCP | tandem | tandem/raw O_DIRECT |\n"
  printf "|---|---:|---:|---:|---:|---:|\n"
  printf "| 4k randwrite QD1 p50 (us) | %.1f | %.1f | %.1f (RTT) | %.1f | %.2f |\n", raw_p50, buf_p50, rtt_p50, t_p50, t_p50 / raw_p50
  printf "| 4k randwrite QD1 p99 (us) | %.1f | %.1f | %.1f (RTT) | %.1f | %.2f |\n", raw_p99, buf_p99, rtt_p99, t_p99, t_p99 / raw_p99
  printf "| 4k randwrite QD32 IOPS | %.0f | %.0f | | %.0f | %.2f |\n", raw_iops, buf_iops, t_iops, t_iops / raw_iops
  printf "| 1M seqwrite QD4 MB/s | %.1f | %.1f | %.1f | %.1f | %.2f |\n", raw_mbs, buf_mbs, tcp_mbs, t_mbs, t_mbs / raw_mbs
  printf "| 4k write + flush QD1, mean (us) | %.1f | %.1f | | %.1f | %.2f |\n", raw_dur, buf_dur, t_dur, t_dur / raw_dur
}'
echo

# The targets, from the interleaved pairs' medians.
echo "| pair | raw QD1 p50 (us) | RTT p50 (us) | tandem QD1 p50 (us) | tandem QD1 / (raw + RTT + 30 us) | raw 1M seq MB/s | TCP MB/s | tandem 1M seq MB/s | tandem seq / 90% of min(raw/2, TCP) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for ((i = 1; i <= pairs; i++)); do
  awk -v i="$i" -v rl="$(lat_us "pair$i-raw" 50.000000)" -v tl="$(lat_us "pair$i-tandem" 50.000000)" \
    -v rtt="$(tcp tcp_rtt_p50_us "pair$i-tcp")" -v tcp="$(tcp tcp_throughput_mbs "pair$i-tcp")" \
    -v rs="$(mbs "pair$i-raw")" -v ts="$(mbs "pair$i-tandem")" 'BEGIN {
    limit = (rs / 2 < tcp) ? rs / 2 : tcp
    printf "| %d | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.2f |\n", i, rl, rtt, tl, tl / (rl + rtt + 30), rs, tcp, ts, ts / (0.9 * limit) }'
done
m_raw_p50=$(for ((i = 1; i <= pairs; i++)); do lat_us "pair$i-raw" 50.000000; done | median)
m_rtt_p50=$(for ((i = 1; i <= pairs; i++)); do tcp tcp_rtt_p50_us "pair$i-tcp"; done | median)
m_t_p50=$(for ((i = 1; i <= pairs; i++)); do lat_us "pair$i-tandem" 50.000000; done | median)
m_raw_mbs=$(for ((i = 1; i <= pairs; i++)); do mbs "pair$i-raw"; done | median)
m_tcp_mbs=$(for ((i = 1; i <= pairs; i++)); do tcp tcp_throughput_mbs "pair$i-tcp"; done | median)
m_t_mbs=$(for ((i = 1; i <= pairs; i++)); do mbs "pair$i-tandem"; done | median)
check_figures ": see the fio and tcp_loopback_bench output above" \
  m_raw_p50 m_rtt_p50 m_t_p50 m_raw_mbs m_tcp_mbs m_t_mbs
echo
awk -v raw_p50="$m_raw_p50" -v t_p50="$m_t_p50" -v raw_mbs="$m_raw_mbs" -v t_mbs="$m_t_mbs" \
  -v rtt_p50="$m_rtt_p50" -v tcp_mbs="$m_tcp_mbs" -v pairs="$pairs" 'BEGIN {
  lat_target = raw_p50 + rtt_p50 + 30
  limit = (raw_mbs / 2 < tcp_mbs) ? raw_mbs / 2 : tcp_mbs
  seq_target = 0.9 * limit
  printf "| target (medians of %d pairs) | limit | tandem | ratio | met |\n", pairs
  printf "|---|---:|---:|---:|---|\n"
  printf "| QD1 p50 <= raw p50 + RTT p50 + 30 us | %.1f us | %.1f us | %.2f | %s |\n", lat_target, t_p50, t_p50 / lat_target, (t_p50 <= lat_target) ? "yes" : "NO"
  printf "| seq >= 90%% of min(raw/2, TCP) | %.1f MB/s | %.1f MB/s | %.2f | %s |\n", seq_target, t_mbs, t_mbs / seq_target, (t_mbs >= seq_target) ? "yes" : "NO"
}'

echo
echo "| tandem workload | CPU of both tandemd (% of one core) | per request (us) | CPU of fio (% of one core) |"
echo "|---|---:|---:|---:|"
echo "| (idle, connected) | $(cat "$work/tandem-idle.json.cpu") | | |"
for job in qd1 qd32 seq durable; do
  cpu=$(cat "$work/tandem-$job.json.cpu")
  jq -r --argjson cpu "$cpu" --arg job "$job" '.jobs[0] |
    "| \($job) | \($cpu) | \($cpu / 100 * 1e6 / .write.iops | floor) | \(.usr_cpu + .sys_cpu | floor) |"' \
    "$work/tandem-$job.json"
done
echo "($(nproc) CPUs)"
