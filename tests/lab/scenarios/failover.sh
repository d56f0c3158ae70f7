#!/bin/bash
# Crash of the primary under a write storm, failover, and the crashed
# node's return.
#
#   kill-primary    write storm on n1; kill -9 of n1's tandemd mid-storm;
#                   n2 is promoted; every write the storm saw acknowledged
#                   is on n2, byte for byte (through n2's export and on its
#                   backing file).
#   restart-resync  the same, then n2 writes more while n1 is down; n1's
#                   tandemd restarts and reconnects; n1 is resynced with
#                   only what changed (the resync byte counters stay far
#                   below the device size) and ends byte-identical to n2.
#   kill-secondary  write storm on n1; kill -9 of n2's tandemd mid-storm: no
#                   write fails in the application; n2's tandemd restarts
#                   and is resynced with what changed (the storm's region
#                   and its own hot activity-log extents, not the device),
#                   then holds every acknowledged write.
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

MIB=$((1 << 20))
LAB_SIZE_MIB=128 lab_up 2
up_pair
device=$(lab_data_bytes)

log="$LAB_DIR/storm.log"
if [ "$SCENARIO" = kill-secondary ]; then
  lab_spawn storm "$STORM" --uri "$(lab_uri 1)" --log "$log" --seed $$ \
    --offset 0 --size $((16 * MIB)) --depth 16 --max-blocks 16 --seconds 8
  lab_wait 30 "500 acknowledged storm writes" bash -c "[ \$(grep -c '^A ' '$log') -ge 500 ]"
  lab_kill 2
  rc=0
  wait "$(cat "$LAB_DIR/storm.pid")" || rc=$?
  tail -n 1 "$LAB_DIR/storm.out"
  [ "$rc" = 0 ] || lab_fail "writes failed in the application when the secondary died (storm exit $rc)"
  lab_start 2
  lab_adm 2 up r0
  lab_adm 2 wait-connect --timeout 30 r0 || lab_fail "n2 did not reconnect after its restart"
  lab_adm 1 wait-sync --timeout 120 r0 || lab_fail "the resync did not finish"
  lab_wait 10 "n2 UpToDate" lab_field_is 2 disk UpToDate
  same_data || lab_fail "n1 and n2 differ after the resync"
  "$CHECK" "$log" "$(lab_node_disk 2)" || lab_fail "n2 lacks acknowledged writes after the resync"
  received=$(sync_bytes 2 received)
  echo "resync: n2 received $received of $device bytes"
  [ "$received" -le $((32 * MIB)) ] || lab_fail "n2 received $received bytes: more than what changed (a full sync?)"
  pass "resynced $received of $device bytes; every acknowledged write on n2"
  exit 0
fi
lab_spawn storm "$STORM" --uri "$(lab_uri 1)" --log "$log" --seed $$ \
  --offset 0 --size $((16 * MIB)) --depth 16 --max-blocks 16 --seconds 60
lab_wait 30 "500 acknowledged storm writes" bash -c "[ \$(grep -c '^A ' '$log') -ge 500 ]"
# The bits the initial sync cleared reach the disk within a second; a
# crash sooner would (rightly) resync them again, which restart-resync
# would count as more than what changed.
sleep 3
lab_kill 1
storm_pid=$(cat "$LAB_DIR/storm.pid")
rc=0
wait "$storm_pid" || rc=$?
cat "$LAB_DIR/storm.out"
[ "$rc" = 3 ] || lab_fail "the storm should have seen the primary die (exit 3), it exited $rc"
echo "storm: $(acked_writes "$log") writes acknowledged before the kill"

lab_wait 20 "n2 to notice that n1 is gone" bash -c "[ \"\$($LAB_TANDEMADM -c $(lab_node_conf 2) --node n2 --run-dir $(lab_node_run 2) cstate r0)\" != Connected ]"
lab_adm 2 primary r0 || lab_fail "n2 could not be promoted after n1's crash"
[ "$(lab_adm 2 role r0)" = Primary/Unknown ] || lab_fail "n2 role: $(lab_adm 2 role r0)"
"$CHECK" "$log" "$(lab_uri 2)" || lab_fail "n2's export lacks acknowledged writes"
"$CHECK" "$log" "$(lab_node_disk 2)" || lab_fail "n2's backing device lacks acknowledged writes"

if [ "$SCENARIO" = kill-primary ]; then
  pass "$(acked_writes "$log") acknowledged writes survived on n2"
  exit 0
fi
[ "$SCENARIO" = restart-resync ] || lab_fail "unknown scenario $SCENARIO"

# n2 writes 8 MiB elsewhere while n1 is down.
write_pattern 2 $((64 * MIB)) $((8 * MIB)) 0x5a
lab_start 1
lab_adm 1 up r0
lab_adm 1 wait-connect --timeout 30 r0 || lab_fail "n1 did not reconnect after its restart"
lab_adm 2 wait-sync --timeout 120 r0 || lab_fail "the resync did not finish"
lab_wait 10 "n1 UpToDate" lab_field_is 1 disk UpToDate
same_data || lab_fail "n1 and n2 differ after the resync"
"$CHECK" "$log" "$(lab_node_disk 1)" || lab_fail "n1 lacks acknowledged writes after the resync"
pattern_file_ok "$(lab_node_disk 1)" $((64 * MIB)) $((8 * MIB)) 0x5a || lab_fail "n1 lacks n2's later writes"

sent=$(sync_bytes 2 sent)
received=$(sync_bytes 1 received)
echo "resync: n2 sent $sent bytes, n1 received $received bytes (device $device bytes)"
[[ "$sent" =~ ^[0-9]+$ && "$received" =~ ^[0-9]+$ ]] || lab_fail "status shows no resync byte counters (sync.bytes_sent/received)"
[ "$received" -ge $((8 * MIB)) ] || lab_fail "n1 received less than n2 wrote while it was down"
# What changed: n2's 8 MiB, plus n1's hot activity-log extents over the
# 16 MiB storm region (extents of 4 MiB: at most 24 MiB in all).
[ "$received" -le $((32 * MIB)) ] || lab_fail "n1 received $received bytes: more than what changed (a full sync?)"
pass "resynced $received of $device bytes; both replicas identical"
