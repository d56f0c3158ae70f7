#!/bin/bash
# A real file system on the mirror: two tandemd on 127.0.0.1, each exporting
# the resource as a FUSE file (device fuse) that loop turns into a block
# device. Needs root, /dev/fuse and loop devices; skips (exit 77) saying
# why when the machine lacks them. Everything is torn down on exit.
#
#   fs_on_mirror.sh SCENARIO TANDEMD TANDEMADM
#
# Scenarios:
#   ext4       mkfs.ext4 on the primary's loop device (direct I/O), mount, a
#              tree of files written with fsync, unmount; demote, promote the
#              peer, attach its device: fsck.ext4 -fn is clean and every
#              file's checksum matches. Then the old primary refuses writes.
#   file-io    the FUSE file itself: O_DIRECT and unaligned reads, O_DSYNC
#              writes, punch-hole/zero-range read back as zeros, unaligned
#              writes refused, EROFS on the secondary, demotion refused while
#              the file is open, a stale mount after kill -9 cleaned at start.
#   nbd-tcp    the same resource over NBD on TCP (device nbd ADDR:PORT):
#              nbdinfo sees it, nbdcopy writes through it, the peer's
#              backing file ends identical.
#   kernel-nbd the ext4 scenario on /dev/nbd0 and /dev/nbd1 (device nbd
#              /dev/nbdN): skips unless the nbd module can be loaded.
#   ublk       the ext4 scenario on /dev/ublkbN (device ublk N): skips
#              unless /dev/ublk-control exists (module ublk_drv).
set -euo pipefail

scenario=$1
TANDEMD=$2
TANDEMADM=$3
# shellcheck source=../../../scripts/lib/stop-processes.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/stop-processes.sh"
# shellcheck source=../../../scripts/lib/two-node-conf.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/two-node-conf.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (FUSE mounts and loop devices)"
[ -c /dev/fuse ] || skip "no /dev/fuse (modprobe fuse)"
case "$scenario" in
  ext4)
    [ -e /dev/loop-control ] || skip "no loop devices (modprobe loop)"
    command -v mkfs.ext4 > /dev/null || skip "mkfs.ext4 missing (package e2fsprogs)"
    ;;
  nbd-tcp)
    command -v nbdinfo > /dev/null || skip "nbdinfo missing (package libnbd-bin)"
    ;;
  kernel-nbd)
    command -v mkfs.ext4 > /dev/null || skip "mkfs.ext4 missing (package e2fsprogs)"
    [ -e /sys/module/nbd ] || modprobe nbd nbds_max=4 2> /dev/null ||
      skip "no nbd kernel module (modprobe nbd failed): the kernel nbd attach cannot run here"
    [ -b /dev/nbd1 ] || skip "/dev/nbd0 and /dev/nbd1 are needed (modprobe nbd nbds_max=2)"
    ;;
  ublk)
    command -v mkfs.ext4 > /dev/null || skip "mkfs.ext4 missing (package e2fsprogs)"
    [ -e /dev/ublk-control ] || modprobe ublk_drv 2> /dev/null || true
    [ -e /dev/ublk-control ] ||
      skip "no /dev/ublk-control (modprobe ublk_drv failed; needs Linux 6.0+ with ublk)"
    ;;
esac

work=$(mktemp -d /tmp/tandem-fs-XXXXXX)
pids=()
loops=()
mounted=()
cleanup() {
  local rc=$?
  local m l
  for m in "${mounted[@]}"; do umount "$m" 2> /dev/null || true; done
  for l in "${loops[@]}"; do losetup -d "$l" 2> /dev/null || true; done
  stop_processes "${pids[@]}"
  # tandemd unmounts on exit; a killed one leaves a mount to remove.
  for m in "$work"/run-*/r0.fuse; do
    grep -q " $m " /proc/self/mountinfo 2> /dev/null && umount -l "$m"
  done
  if [ "$rc" -ne 0 ]; then
    echo "---- FAILED ($scenario); daemon logs:"
    for n in alpha beta; do
      [ -f "$work/$n.log" ] && { echo "---- $n.log"; tail -n 40 "$work/$n.log"; }
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
adm() { local node=$1; shift; "$TANDEMADM" -c "$work/tandem.conf" --node "$node" --run-dir "$work/run-$node" "$@"; }

size_mib=${SIZE_MIB:-64}
base=$((20000 + ($$ % 15000) * 2))
port_a=$base
nbd_port=$((base + 2))
ublk_a=$((base % 1000 + 100))
ublk_b=$((ublk_a + 1))
if [ "$nbd_port" -gt 65000 ]; then nbd_port=$((base - 2)); fi

start_nodes() {  # start_nodes DEVICE_ALPHA DEVICE_BETA
  two_node_conf "$work" "$port_a" --secret fs-lab --device-alpha "$1" --device-beta "$2" > "$work/tandem.conf"
  local n
  for n in alpha beta; do
    truncate -s "${size_mib}M" "$work/$n.img"
    "$TANDEMADM" -c "$work/tandem.conf" --node "$n" create-md r0 > /dev/null
    start_daemon "$n"
  done
  adm alpha up r0
  adm beta up r0
  adm alpha wait-connect --timeout 20 r0 || fail "alpha did not connect"
  adm alpha primary --force r0
  adm alpha wait-sync --timeout 120 r0 || fail "initial sync did not finish"
}

start_daemon() {
  mkdir -p "$work/run-$1"
  "$TANDEMD" -c "$work/tandem.conf" --node "$1" --run-dir "$work/run-$1" \
    --log-file "$work/$1.log" 2> /dev/null
  pids+=("$(cat "$work/run-$1/tandemd.pid")")
}

file_of() { echo "$work/run-$1/r0.fuse/r0"; }

attach_loop() {  # attach_loop NODE [losetup options]: prints /dev/loopN
  local node=$1; shift
  local dev
  dev=$(losetup -f --show "$@" "$(file_of "$node")") || fail "losetup on $node's FUSE file failed"
  loops+=("$dev")
  echo "$dev"
}

detach_loop() {
  losetup -d "$1"
  local l keep=()
  for l in "${loops[@]}"; do [ "$l" = "$1" ] || keep+=("$l"); done
  loops=("${keep[@]}")
}

# fs_failover DEV_ALPHA DEV_BETA: ext4 on alpha's device, files written
# with fsync, unmount; demote alpha, promote beta; fsck and checksums on
# beta's device. "loop" means a direct-I/O loop device on the node's FUSE
# file.
fs_failover() {
  local dev
  dev=$(device_of alpha "$1")
  mkfs.ext4 -q "$dev" || fail "mkfs.ext4 on $dev failed"
  mkdir -p "$work/mnt"
  mount "$dev" "$work/mnt"
  mounted+=("$work/mnt")
  # A tree of files, each made durable with fsync (dd conv=fsync).
  local d f
  for d in 1 2 3; do
    mkdir -p "$work/mnt/dir$d/sub"
    for f in 1 2 3 4; do
      head -c $((d * f * 37 * 1024 + f)) /dev/urandom > "$work/tmp"
      dd if="$work/tmp" of="$work/mnt/dir$d/sub/file$f" bs=64k conv=fsync status=none
    done
  done
  head -c $((8 * 1024 * 1024)) /dev/urandom > "$work/mnt/big"
  sync -f "$work/mnt/big"
  (cd "$work/mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$work/sums"
  [ "$(wc -l < "$work/sums")" -eq 13 ] || fail "expected 13 files, got $(wc -l < "$work/sums")"
  umount "$work/mnt"
  mounted=()
  [ "$1" = loop ] && detach_loop "$dev"

  adm alpha secondary r0 || fail "alpha could not become secondary after its device was released"
  adm beta primary r0 || fail "beta could not be promoted"
  dev=$(device_of beta "$2")
  fsck.ext4 -fn "$dev" > "$work/fsck.out" 2>&1 || { cat "$work/fsck.out"; fail "fsck.ext4 -fn on beta's $dev is not clean"; }
  mount -o ro "$dev" "$work/mnt"
  mounted+=("$work/mnt")
  (cd "$work/mnt" && sha256sum --quiet -c "$work/sums") || fail "checksums differ on beta"
  echo "beta: fsck clean on $dev, $(wc -l < "$work/sums") files with matching checksums"
  umount "$work/mnt"
  mounted=()
  [ "$2" = loop ] && detach_loop "$dev"
  return 0
}

device_of() {  # device_of NODE DEV|loop
  if [ "$2" = loop ]; then
    local dev
    dev=$(attach_loop "$1" --direct-io=on)
    losetup -l -n -O DIO "$dev" | grep -q 1 || fail "loop did not enable direct I/O on the FUSE file"
    echo "$dev"
  else
    echo "$2"
  fi
}

data_bytes() {
  adm alpha status --json r0 | sed -n 's/.*"size_bytes":\([0-9]*\).*/\1/p'
}

case "$scenario" in
  ext4)
    start_nodes fuse fuse
    fs_failover loop loop
    # The old primary is Secondary now: its file cannot be opened for writing.
    if dd if=/dev/zero of="$(file_of alpha)" bs=4k count=1 conv=notrunc status=none 2> "$work/dd.err"; then
      fail "alpha (Secondary) accepted a write"
    fi
    grep -q "Read-only file system" "$work/dd.err" || fail "write on alpha failed without EROFS: $(cat "$work/dd.err")"
    ;;

  kernel-nbd)
    start_nodes "nbd /dev/nbd0" "nbd /dev/nbd1"
    grep -q "attached as /dev/nbd0" "$work/alpha.log" || fail "alpha did not attach /dev/nbd0"
    fs_failover /dev/nbd0 /dev/nbd1
    ;;

  ublk)
    start_nodes "ublk $ublk_a" "ublk $ublk_b"
    for _ in $(seq 50); do [ -b "/dev/ublkb$ublk_a" ] && [ -b "/dev/ublkb$ublk_b" ] && break; sleep 0.1; done
    [ -b "/dev/ublkb$ublk_a" ] || fail "/dev/ublkb$ublk_a did not appear"
    fs_failover "/dev/ublkb$ublk_a" "/dev/ublkb$ublk_b"
    ;;

  file-io)
    start_nodes fuse fuse
    f=$(file_of alpha)
    [ "$(stat -c %s "$f")" -eq "$(data_bytes)" ] || fail "file size $(stat -c %s "$f") is not the resource size"
    head -c $((4 * 1024 * 1024)) /dev/urandom > "$work/rnd"
    dd if="$work/rnd" of="$f" bs=1M oflag=direct,dsync conv=notrunc status=none || fail "O_DIRECT|O_DSYNC write"
    cmp -n $((4 * 1024 * 1024)) "$work/rnd" "$f" || fail "read back differs"
    dd if="$f" bs=4k skip=3 count=5 iflag=direct status=none | cmp - <(dd if="$work/rnd" bs=4k skip=3 count=5 status=none) ||
      fail "O_DIRECT read differs"
    dd if="$f" bs=100 skip=77 count=9 status=none | cmp - <(dd if="$work/rnd" bs=100 skip=77 count=9 status=none) ||
      fail "unaligned read differs"
    if dd if="$work/rnd" of="$f" bs=100 count=1 conv=notrunc status=none 2> /dev/null; then
      fail "an unaligned write was accepted"
    fi
    fallocate --punch-hole -o 1048576 -l 65536 "$f"
    cmp -i 1048576:0 -n 65536 "$f" /dev/zero || fail "punched hole does not read as zeros"
    fallocate --zero-range -o 2097152 -l 131072 "$f"
    cmp -i 2097152:0 -n 131072 "$f" /dev/zero || fail "zero range does not read as zeros"
    cmp -i 3145728:3145728 -n 1048576 "$f" "$work/rnd" || fail "data next to the zeroed ranges changed"
    # The peer holds the same bytes (protocol C: acknowledged means on both).
    adm alpha wait-sync --timeout 30 r0
    cmp -n $((4 * 1024 * 1024)) "$work/alpha.img" "$work/beta.img" || fail "backing files differ"
    # An open file blocks demotion, like a connected NBD client.
    exec 7< "$f"
    if adm alpha secondary r0 2> "$work/sec.err"; then fail "demotion with the file open was accepted"; fi
    grep -q "is open 1 time" "$work/sec.err" || fail "refusal does not say the file is open: $(cat "$work/sec.err")"
    exec 7<&-
    sleep 0.2
    adm alpha secondary r0 || fail "demotion after close refused"
    # Secondary: opening for writing fails with EROFS, reading works.
    if dd if=/dev/zero of="$f" bs=4k count=1 conv=notrunc status=none 2> "$work/dd.err"; then
      fail "Secondary accepted a write"
    fi
    grep -q "Read-only file system" "$work/dd.err" || fail "no EROFS: $(cat "$work/dd.err")"
    cmp -i 3145728:3145728 -n 1048576 "$f" "$work/rnd" || fail "Secondary reads differ"
    # kill -9 leaves a dead mount; the next tandemd removes it and mounts.
    kill -9 "$(cat "$work/run-alpha/tandemd.pid")"
    sleep 0.3
    stat "$f" > /dev/null 2>&1 && fail "the FUSE file is still served after kill -9"
    grep -q " $work/run-alpha/r0.fuse " /proc/self/mountinfo || fail "expected a stale mount after kill -9"
    start_daemon alpha
    adm alpha up r0
    grep -q "removed the stale FUSE mount" "$work/alpha.log" || fail "stale mount not reported"
    cmp -i 3145728:3145728 -n 1048576 "$f" "$work/rnd" || fail "reads after restart differ"
    # A clean stop unmounts.
    stop_processes "$(cat "$work/run-alpha/tandemd.pid")"
    if grep -q " $work/run-alpha/r0.fuse " /proc/self/mountinfo; then fail "tandemd left its mount behind"; fi
    echo "file-io: direct, unaligned, dsync, punch/zero, EROFS, open-file refusal, stale mount: ok"
    ;;

  nbd-tcp)
    start_nodes "nbd 127.0.0.1:$nbd_port" nbd
    uri="nbd://127.0.0.1:$nbd_port/r0"
    nbdinfo "$uri" > "$work/info" || fail "nbdinfo over TCP failed"
    grep -q "export-size: $(data_bytes)" "$work/info" || fail "nbdinfo size: $(cat "$work/info")"
    grep -q "tcp:127.0.0.1:$nbd_port" "$work/alpha.log" || fail "alpha does not log its TCP listener"
    if command -v nbdcopy > /dev/null; then
      head -c $((8 * 1024 * 1024)) /dev/urandom > "$work/rnd"
      truncate -s "$(data_bytes)" "$work/rnd"
      nbdcopy "$work/rnd" "$uri" || fail "nbdcopy to $uri failed"
      cmp -n "$(data_bytes)" "$work/rnd" "$work/alpha.img" || fail "alpha's backing file differs"
      cmp -n "$(data_bytes)" "$work/rnd" "$work/beta.img" || fail "beta's backing file differs"
    fi
    echo "nbd-tcp: nbdinfo and nbdcopy over $uri: ok"
    ;;

  *)
    echo "unknown scenario $scenario" >&2
    exit 2
    ;;
esac
echo "PASS: $scenario"
