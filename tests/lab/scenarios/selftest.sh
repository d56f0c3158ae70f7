#!/bin/bash
# The lab's own tools, proven able to fail (negative controls):
#
#   tools    the write checker accepts a storm's result and rejects it once
#            one acknowledged sector is overwritten (on nbdkit's memory
#            plugin, no tandem involved); the FUSE disk fails exactly the
#            chosen range through a loop device and stops when cleared.
#   harness  lab up 3 creates the namespaces, links, addresses and daemons;
#            hosts reach each other; lab down leaves nothing behind.
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

MIB=$((1 << 20))
case "$SCENARIO" in
  tools)
    command -v nbdkit > /dev/null || lab_fail "nbdkit is missing: run scripts/setup.sh"
    need_fuse_and_loop
    mkdir -p "$LAB_DIR"
    echo "$$" > "$LAB_DIR/owner"
    : > "$LAB_DIR/registry"
    sock="$LAB_DIR/mem.sock"
    lab_spawn nbdkit nbdkit -f -U "$sock" memory 64M
    lab_wait 10 "nbdkit's socket" test -S "$sock"
    uri="nbd+unix:///?socket=$sock"
    log="$LAB_DIR/storm.log"
    "$STORM" --uri "$uri" --log "$log" --seed 7 --size $((8 * MIB)) --seconds 2 --depth 8
    "$CHECK" "$log" "$uri" || lab_fail "the checker rejects a correct storm result"
    # The last acknowledged write's first sector is overwritten: must fail.
    read -r _ id off _ < <(grep '^I ' "$log" | tail -n 1)
    grep -q "^A $id\$" "$log" || lab_fail "the storm's last write was not acknowledged"
    qemu-io -f raw -c "write -P 0x33 $off 512" "$uri" > /dev/null
    if "$CHECK" "$log" "$uri" 2> "$LAB_DIR/check.err"; then lab_fail "the checker missed a lost sector"; fi
    grep -q "lacks acknowledged write $id" "$LAB_DIR/check.err" || lab_fail "the checker does not name the lost write: $(cat "$LAB_DIR/check.err")"

    # FUSE disk through loop.
    truncate -s 16M "$LAB_DIR/img"
    mkdir -p "$LAB_DIR/eio"
    lab_spawn eio "$EIO_FILE" "$LAB_DIR/img" "$LAB_DIR/eio"
    lab_record mount "$LAB_DIR/eio"
    lab_wait 10 "the FUSE file" test -e "$LAB_DIR/eio/disk"
    dev=$(lab_loop_attach "$LAB_DIR/eio/disk")
    dd if=/dev/urandom of="$dev" bs=4k count=16 oflag=direct status=none || lab_fail "writes to the healthy loop device fail"
    echo "fail write 32768 4096" > "$LAB_DIR/eio/control"
    dd if=/dev/zero of="$dev" bs=4k count=8 oflag=direct status=none || lab_fail "a write outside the failing range failed"
    if dd if=/dev/zero of="$dev" bs=4k seek=8 count=1 oflag=direct status=none 2> /dev/null; then
      lab_fail "a write into the failing range succeeded"
    fi
    dd if="$dev" of=/dev/null bs=4k skip=8 count=1 iflag=direct status=none || lab_fail "reads fail although only writes should"
    grep -q "failed writes 1" "$LAB_DIR/eio/control" || lab_fail "control: $(cat "$LAB_DIR/eio/control")"
    echo clear > "$LAB_DIR/eio/control"
    dd if=/dev/zero of="$dev" bs=4k seek=8 count=1 oflag=direct status=none || lab_fail "still failing after clear"
    ;;
  harness)
    lab_up 3
    for i in 1 2 3; do
      lab_exec "$i" ping -c 1 -W 2 "$(lab_node_addr $((i % 3 + 1)))" > /dev/null || lab_fail "n$i cannot reach n$((i % 3 + 1))"
    done
    lab_cut 3
    if lab_exec 1 ping -c 1 -W 1 "$(lab_node_addr 3)" > /dev/null; then lab_fail "n3 reachable with its link cut"; fi
    lab_heal 3
    lab_wait 10 "n3 reachable again" lab_exec 1 ping -c 1 -W 1 "$(lab_node_addr 3)"
    for i in 1 2; do lab_adm "$i" status r0 > /dev/null || lab_fail "n$i's tandemd does not answer"; done
    dir=$LAB_DIR
    lab_down
    trap - EXIT
    leftovers=$(ip netns list | grep -c "^tl${LAB_ID}-" || true)
    [ "$leftovers" = 0 ] || lab_fail "namespaces left behind"
    ! ip link show "$LAB_BRIDGE" > /dev/null 2>&1 || lab_fail "bridge left behind"
    [ ! -e "$dir" ] || lab_fail "lab directory left behind"
    ;;
  *) lab_fail "unknown scenario $SCENARIO" ;;
esac
pass
