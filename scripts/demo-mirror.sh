#!/bin/bash
# Live demo: two tandem nodes on this machine mirror one device.
#
# Two tandemd processes (nodes "alpha" and "beta") run on 127.0.0.1 with
# their own run directories and backing files in a temporary directory.
# The demo creates the metadata, brings the resource up, makes alpha
# primary with --force (its data overwrites beta's: initial full sync),
# shows the status while the sync runs, writes random data through alpha's
# NBD export, and shows that both backing devices hold identical data.
# Everything is stopped and removed at the end, also on failure.
#
#   scripts/demo-mirror.sh            (after scripts/setup.sh has built tandem)
#   BUILD_DIR=... SIZE_MIB=1024 DATA_MIB=256 scripts/demo-mirror.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=lib/stop-processes.sh
source "$here/lib/stop-processes.sh"
# shellcheck source=lib/two-node-conf.sh
source "$here/lib/two-node-conf.sh"
build_dir="${BUILD_DIR:-$root/build}"
tandemd="$build_dir/tools/tandemd/tandemd"
tandemadm="$build_dir/tools/tandemadm/tandemadm"
size_mib=${SIZE_MIB:-512}
data_mib=${DATA_MIB:-128}

for bin in "$tandemd" "$tandemadm"; do
  [ -x "$bin" ] || { echo "demo-mirror: $bin is missing: run scripts/setup.sh first" >&2; exit 1; }
done
command -v nbdcopy > /dev/null || { echo "demo-mirror: nbdcopy is missing (package libnbd-bin)" >&2; exit 1; }

work=$(mktemp -d /tmp/tandem-demo-XXXXXX)
pids=()
cleanup() {
  local rc=$?
  stop_processes "${pids[@]}"
  if [ "$rc" -ne 0 ]; then
    echo "demo-mirror: failed; the last lines of each node's log:" >&2
    for n in alpha beta; do [ -f "$work/$n.log" ] && tail -n 15 "$work/$n.log" >&2; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$work|\$DEMO|g; s|$build_dir/tools/[a-z]*/||g"; "$@"; }
adm() { local n=$1; shift; run "$tandemadm" -c "$work/tandem.conf" --node "$n" --run-dir "$work/run-$n" "$@"; }
adm_quiet() { local n=$1; shift; "$tandemadm" -c "$work/tandem.conf" --node "$n" --run-dir "$work/run-$n" "$@"; }

port=$((17000 + ($$ % 2000) * 2))
two_node_conf "$work" "$port" --secret demo-secret > "$work/tandem.conf"

step "configuration ($work/tandem.conf)"
sed "s|$work|\$DEMO|g" "$work/tandem.conf"

step "backing files of ${size_mib} MiB and tandem metadata on each"
for n in alpha beta; do
  truncate -s "${size_mib}M" "$work/$n.img"
  run "$tandemadm" -c "$work/tandem.conf" --node "$n" create-md r0
done

step "one tandemd per node"
for n in alpha beta; do
  mkdir -p "$work/run-$n"
  run "$tandemd" -c "$work/tandem.conf" --node "$n" --run-dir "$work/run-$n" \
    --log-file "$work/$n.log" 2> /dev/null
  pids+=("$(cat "$work/run-$n/tandemd.pid")")
done

step "up: attach the backing device and connect (authenticated with the shared secret)"
adm alpha up r0
adm beta up r0
adm alpha wait-connect --timeout 30 r0
adm alpha status r0

step "primary --force on alpha: its data becomes UpToDate and overwrites beta (full sync)"
adm alpha primary --force r0
while true; do
  adm_quiet alpha status r0
  adm_quiet alpha cstate r0 | grep -q Sync || break
  sleep 0.5
done
adm alpha wait-sync --timeout 300 r0
adm alpha status r0
adm beta dstate r0

step "write ${data_mib} MiB of random data through alpha's NBD export"
head -c "${data_mib}M" /dev/urandom > "$work/data.bin"
uri="nbd+unix:///r0?socket=$work/run-alpha/r0.nbd"
run nbdcopy "$work/data.bin" "$uri"
adm alpha status r0

step "checksums: the data written, and the data area of both backing devices"
data_bytes=$(adm_quiet alpha status --json r0 | sed -n 's/.*"size_bytes":\([0-9]*\).*/\1/p')
sum_written=$(sha256sum < "$work/data.bin" | cut -d' ' -f1)
echo "written data (${data_mib} MiB):   $sum_written"
for n in alpha beta; do
  echo "$n first ${data_mib} MiB:     $(head -c "${data_mib}M" "$work/$n.img" | sha256sum | cut -d' ' -f1)"
done
sum_a=$(head -c "$data_bytes" "$work/alpha.img" | sha256sum | cut -d' ' -f1)
sum_b=$(head -c "$data_bytes" "$work/beta.img" | sha256sum | cut -d' ' -f1)
echo "alpha whole data area:      $sum_a"
echo "beta whole data area:       $sum_b"
if [ "$sum_a" != "$sum_b" ]; then
  echo "demo-mirror: the replicas DIFFER" >&2
  exit 1
fi
[ "$(head -c "${data_mib}M" "$work/beta.img" | sha256sum | cut -d' ' -f1)" = "$sum_written" ] || {
  echo "demo-mirror: beta does not hold the written data" >&2
  exit 1
}
echo "both replicas are identical and hold the data written on alpha"

step "tear down"
adm alpha secondary r0
adm alpha down r0
adm beta down r0
