#!/bin/bash
# Backing device errors with on-io-error detach.
#
#   eio-detach  n1 (primary) runs on a loop device over a FUSE file that
#               starts failing every request to the written region in the
#               middle of a write storm. n1 must go Diskless and keep
#               serving the storm through n2: no write fails, and every
#               acknowledged write is on n2 and readable through n1.
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

MIB=$((1 << 20))
export LAB_DISK_EXTRA="on-io-error detach;"
export LAB_SIZE_MIB=64
need_fuse_and_loop
lab_up_net 2
lab_use_eio_disk 1 "$EIO_FILE"
lab_up_nodes
up_pair

log="$LAB_DIR/storm.log"
lab_spawn storm "$STORM" --uri "$(lab_uri 1)" --log "$log" --seed $$ \
  --offset 0 --size $((16 * MIB)) --depth 8 --max-blocks 8 --seconds 8 --fua
lab_wait 30 "200 acknowledged storm writes" bash -c "[ \$(grep -c '^A ' '$log') -ge 200 ]"
lab_eio 1 "fail rw 0 $((16 * MIB))"
at_failure=$(acked_writes "$log")
lab_wait 20 "n1 to detach its failing disk (Diskless)" lab_field_is 1 disk Diskless
rc=0
wait "$(cat "$LAB_DIR/storm.pid")" || rc=$?
cat "$LAB_DIR/storm.out"
[ "$rc" = 0 ] || lab_fail "a write failed in the application (storm exit $rc) although n2 had the data"
lab_eio 1
failed=$(lab_eio 1 | sed -n 's/^failed writes //p')
[ "$failed" -gt 0 ] || lab_fail "the FUSE disk failed no write: the scenario proved nothing"
total=$(acked_writes "$log")
[ "$total" -gt $((at_failure + 100)) ] || lab_fail "only $((total - at_failure)) writes after the disk failed"
echo "storm: $at_failure writes acknowledged before the disk failed, $total in all"
grep -m1 -i "i/o error\|io error\|detach" "$(lab_node_log 1)" || true
[ "$(lab_adm 1 role r0)" = Primary/Secondary ] || lab_fail "n1 roles: $(lab_adm 1 role r0)"
"$CHECK" "$log" "$(lab_node_disk 2)" || lab_fail "n2 lacks acknowledged writes"
"$CHECK" "$log" "$(lab_uri 1)" || lab_fail "n1's export (reading from n2) lacks acknowledged writes"
pass "n1 Diskless after $failed failed disk writes; $total writes acknowledged, none lost"
