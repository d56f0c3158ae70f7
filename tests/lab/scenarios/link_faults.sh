#!/bin/bash
# Network and peer faults under a write storm on the primary n1. Whatever
# the fault, no write may fail in the application (n1's disk is healthy),
# and after the fault ends n2 must be resynced to hold every acknowledged
# write, byte-identical to n1.
#
#   cut     n2's link is unplugged for 4 s (packets silently dropped)
#   stall   n2's replication traffic is dropped by nftables for 4 s
#   freeze  n2's tandemd is stopped (SIGSTOP) for 4 s, then continued
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

MIB=$((1 << 20))
case "$SCENARIO" in
  cut) fault_begin() { lab_cut 2; } && fault_end() { lab_heal 2; } ;;
  stall) fault_begin() { lab_stall_begin 2; } && fault_end() { lab_stall_end 2; } ;;
  freeze) fault_begin() { lab_freeze 2; } && fault_end() { lab_thaw 2; } ;;
  *) lab_fail "unknown scenario $SCENARIO" ;;
esac

lab_up 2
up_pair
log="$LAB_DIR/storm.log"
lab_spawn storm "$STORM" --uri "$(lab_uri 1)" --log "$log" --seed $$ \
  --offset 0 --size $((16 * MIB)) --depth 8 --max-blocks 8 --seconds 12
lab_wait 30 "200 acknowledged storm writes" bash -c "[ \$(grep -c '^A ' '$log') -ge 200 ]"
fault_begin
before=$(acked_writes "$log")
noticed=no
end=$((SECONDS + 4))
while ((SECONDS < end)); do
  [ "$(lab_field 1 connection)" != Connected ] && noticed=yes
  sleep 0.2
done
during=$(($(acked_writes "$log") - before))
fault_end
echo "n1 noticed the fault (left Connected): $noticed"
# A cut or stalled link must be noticed within ping-timeout (1 s); a frozen
# peer's kernel still answers TCP, so only ko-count would notice it.
[ "$SCENARIO" = freeze ] || [ "$noticed" = yes ] || lab_fail "n1 never noticed the $SCENARIO: the fault did not take effect"
echo "storm: $during writes acknowledged during the 4 s $SCENARIO"
rc=0
wait "$(cat "$LAB_DIR/storm.pid")" || rc=$?
tail -n 1 "$LAB_DIR/storm.out"
[ "$rc" = 0 ] || lab_fail "writes failed in the application during the $SCENARIO (storm exit $rc)"
[ "$during" -gt 0 ] || lab_fail "no write completed during the $SCENARIO: the primary hung on its peer"
lab_adm 1 wait-connect --timeout 60 r0 || lab_fail "n1 and n2 did not reconnect after the $SCENARIO"
lab_adm 1 wait-sync --timeout 120 r0 || lab_fail "the resync did not finish"
lab_wait 20 "n2 UpToDate" lab_field_is 2 disk UpToDate
"$CHECK" "$log" "$(lab_node_disk 1)" || lab_fail "n1 lacks acknowledged writes"
"$CHECK" "$log" "$(lab_node_disk 2)" || lab_fail "n2 lacks acknowledged writes"
same_data || lab_fail "the replicas differ"
pass "$(acked_writes "$log") writes acknowledged, $during during the fault"
