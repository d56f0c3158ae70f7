#!/bin/bash
# Interop test of tandem's NBD server with real NBD clients: nbdinfo and
# nbdcopy (libnbd) and qemu-img/qemu-io (qemu). Starts tandem-nbd-serve on a
# temporary file over a unix socket and over TCP, copies 64 MiB of random
# data in and out, exercises write/FUA/flush/zeroes/discard/read with
# patterns, copies sparse images (whose holes become large write-zeroes),
# and checks that a read-only export refuses writes.
#
#   nbd_interop.sh PATH/TO/tandem-nbd-serve
#
# The clients come from the Debian packages libnbd-bin and qemu-utils
# (scripts/packages.txt); a missing client fails the test.
set -euo pipefail

serve="$1"
for tool in nbdinfo nbdcopy qemu-img qemu-io; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is missing; run scripts/setup.sh (packages libnbd-bin, qemu-utils)" >&2
    exit 1
  fi
done

work="$(mktemp -d /tmp/tandem-nbd-lab.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do
    [[ -f "$log" ]] && { echo "--- $log" >&2; tail -20 "$log" >&2; }
  done
  exit 1
}
step() { echo "== $*"; }

# start_server NAME ARGS...: starts tandem-nbd-serve, waits for its ready line.
start_server() {
  local name="$1"
  shift
  "$serve" -v "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "exporting" "$work/$name.out" 2>/dev/null && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$name: tandem-nbd-serve exited early"
    sleep 0.1
  done
  fail "$name: tandem-nbd-serve did not start within 10 s"
}

size=$((64 * 1024 * 1024))
disk="$work/disk.img"
truncate -s "$size" "$disk"
sock="$work/rw.sock"
uri="nbd+unix:///r0?socket=$sock"
start_server rw --socket "$sock" --tcp 127.0.0.1:0 --name r0 "$disk"

step "nbdinfo shows the export, its size and capabilities"
info="$(nbdinfo "$uri")" || fail "nbdinfo failed"
echo "$info"
[[ "$(nbdinfo --size "$uri")" == "$size" ]] || fail "nbdinfo --size is not $size"
grep -q "is_read_only: false" <<<"$info" || fail "export should be writable"
# libnbd and qemu negotiate structured replies, so reads travel as data chunks.
grep -q "using structured packets" <<<"$info" || fail "structured replies were not negotiated"
for cap in can_flush can_fua can_trim can_zero can_multi_conn; do
  grep -q "$cap: true" <<<"$info" || fail "nbdinfo does not report $cap: true"
done
nbdinfo --list "nbd+unix:///?socket=$sock" | grep -q 'export="r0"' || fail "NBD_OPT_LIST lacks r0"

step "nbdcopy 64 MiB of random data in and out"
head -c "$size" /dev/urandom >"$work/random.bin"
nbdcopy "$work/random.bin" "$uri" || fail "nbdcopy into the export failed"
nbdcopy "$uri" "$work/copy.bin" || fail "nbdcopy out of the export failed"
want="$(sha256sum <"$work/random.bin" | cut -d' ' -f1)"
[[ "$(sha256sum <"$work/copy.bin" | cut -d' ' -f1)" == "$want" ]] ||
  fail "data copied out differs from data copied in"
[[ "$(sha256sum <"$disk" | cut -d' ' -f1)" == "$want" ]] || fail "backing file differs"

step "qemu-img info and compare"
qemu-img info -f raw "$uri" | tee "$work/qemu-img-info.txt"
grep -q "virtual size: 64 MiB" "$work/qemu-img-info.txt" || fail "qemu-img info size"
qemu-img compare -f raw -F raw "$work/random.bin" "$uri" || fail "qemu-img compare found a difference"

step "nbdinfo over TCP"
port="$(sed -n 's/.* tcp:127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/rw.out")"
[[ -n "$port" ]] || fail "no TCP port in the server's ready line"
[[ "$(nbdinfo --size "nbd://127.0.0.1:$port/r0")" == "$size" ]] || fail "TCP export size"

step "qemu-io writes (plain and FUA), flush, zeroes, discard, reads with patterns"
qemu-io -f raw \
  -c "write -P 0xab 1M 64k" \
  -c "write -f -P 0xcd 2M 4k" \
  -c "flush" \
  -c "write -z 3M 128k" \
  -c "discard 4M 64k" \
  -c "read -P 0xab 1M 64k" \
  -c "read -P 0xcd 2M 4k" \
  -c "read -P 0 3M 128k" \
  -c "read -v 2M 16" \
  "$uri" >"$work/qemu-io.txt" 2>&1 || fail "qemu-io exited with an error: $(cat "$work/qemu-io.txt")"
cat "$work/qemu-io.txt"
grep -qi "fail\|error" "$work/qemu-io.txt" && fail "qemu-io reported a failure"
grep -q "00200000:  cd cd cd cd" "$work/qemu-io.txt" || fail "read -v did not show the pattern"
# The backing file holds what qemu-io wrote.
cmp -s <(head -c 65536 /dev/zero | tr '\0' '\253') <(dd if="$disk" bs=1M skip=1 count=1 2>/dev/null | head -c 65536) ||
  fail "backing file lacks the 0xab pattern at 1 MiB"
cmp -s <(head -c 131072 /dev/zero) <(dd if="$disk" bs=1M skip=3 count=1 2>/dev/null | head -c 131072) ||
  fail "backing file is not zero at 3 MiB"
# Untouched data around the writes survived.
cmp -s <(dd if="$work/random.bin" bs=1M skip=5 2>/dev/null) <(dd if="$disk" bs=1M skip=5 2>/dev/null) ||
  fail "data past 5 MiB changed"

step "sparse images: nbdcopy and qemu-img convert zero the holes (large write-zeroes)"
sparse="$work/sparse.img"
truncate -s "$size" "$sparse"
printf 'tandem' | dd of="$sparse" bs=1 seek=$((10 * 1024 * 1024)) conv=notrunc 2>/dev/null
sparse_sum="$(sha256sum <"$sparse" | cut -d' ' -f1)"
nbdcopy "$sparse" "$uri" || fail "nbdcopy of a sparse image failed"
[[ "$(sha256sum <"$disk" | cut -d' ' -f1)" == "$sparse_sum" ]] || fail "nbdcopy left data in the holes"
nbdcopy "$work/random.bin" "$uri" || fail "nbdcopy of random data (second time) failed"
qemu-img convert -n -f raw -O raw "$sparse" "$uri" || fail "qemu-img convert of a sparse image failed"
qemu-img compare -f raw -F raw "$sparse" "$uri" || fail "qemu-img convert left data in the holes"
[[ "$(sha256sum <"$disk" | cut -d' ' -f1)" == "$sparse_sum" ]] || fail "backing file differs after convert"

step "read-only export: clients see it read-only and writes are refused"
ro_sock="$work/ro.sock"
ro_uri="nbd+unix:///?socket=$ro_sock"
before="$(sha256sum <"$disk" | cut -d' ' -f1)"
start_server ro --socket "$ro_sock" --read-only "$disk"
nbdinfo "$ro_uri" | grep -q "is_read_only: true" || fail "read-only export not flagged"
# qemu sees NBD_FLAG_READ_ONLY and refuses to open the image for writing.
if qemu-io -f raw -c "write -P 0x11 0 4k" "$ro_uri" >"$work/ro-qemu-io.txt" 2>&1; then
  fail "qemu-io wrote to a read-only export: $(cat "$work/ro-qemu-io.txt")"
fi
grep -qi "permission denied\|read-only" "$work/ro-qemu-io.txt" ||
  fail "qemu-io failed for another reason than a read-only export: $(cat "$work/ro-qemu-io.txt")"
if nbdcopy "$work/random.bin" "$ro_uri" 2>"$work/ro-nbdcopy.txt"; then
  fail "nbdcopy into a read-only export succeeded"
fi
grep -q "read-only" "$work/ro-nbdcopy.txt" || fail "nbdcopy: $(cat "$work/ro-nbdcopy.txt")"
nbdcopy "$ro_uri" "$work/ro-copy.bin" || fail "reading the read-only export failed"
[[ "$(sha256sum <"$work/ro-copy.bin" | cut -d' ' -f1)" == "$before" ]] || fail "read-only read differs"
[[ "$(sha256sum <"$disk" | cut -d' ' -f1)" == "$before" ]] || fail "read-only export changed the file"

step "the server logged clean disconnects and no protocol errors"
grep -q "NBD_CMD_DISC" "$work/rw.log" || fail "no clean disconnect logged"
if grep -q "closing connection" "$work/rw.log" "$work/ro.log"; then
  fail "a client was disconnected for a protocol violation"
fi
step "servers stop cleanly on SIGTERM and remove their sockets"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do
  wait "$pid" || fail "tandem-nbd-serve (pid $pid) exited with status $?"
done
pids=()
[[ ! -e "$sock" && ! -e "$ro_sock" ]] || fail "a unix socket was left behind"
if grep -l "Sanitizer\|runtime error" "$work"/*.log; then
  fail "a sanitizer reported a problem"
fi
echo "PASS: nbd interop"
