#!/bin/bash
# The sync handshake's outcomes between two real daemons, each asserting
# the direction and the amount of data copied (resync byte counters of
# `status --json`) and that both replicas end identical. The split-brain
# outcomes are in splitbrain.sh, "unrelated data" in refusals.sh.
#
#   no-sync        both Secondary, disconnect and reconnect: nothing copied
#   bitmap-to-n2   n2 away while n1 (primary) writes 2 MiB: n2 gets them
#   bitmap-to-n1   n1 away while n2 (primary now) writes 2 MiB: n1 gets them
#   full-sync      `invalidate` on n2: the whole device is copied to it
#   invalidate-away  `invalidate` on n2 while it is disconnected: it goes
#                  Inconsistent with every block out of sync, and the whole
#                  device is copied to it when it connects again
#   bitmap-1pct    1 GiB device; n2 away while a storm writes about 1% of it
#                  in small random pieces: the resync copies what n1 counted
#                  out of sync (not much more), and n2 then holds every
#                  acknowledged write
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

MIB=$((1 << 20))
[ "$SCENARIO" = bitmap-1pct ] && export LAB_SIZE_MIB=1024
lab_up 2
up_pair
device=$(lab_data_bytes)
write_pattern 1 0 $((8 * MIB)) 0x11
lab_adm 1 wait-sync --timeout 30 r0

# counters I: "sent received" of host nI.
counters() { echo "$(sync_bytes "$1" sent) $(sync_bytes "$1" received)"; }
received_since() {  # received_since I BEFORE: bytes nI received since
  local now
  now=$(sync_bytes "$1" received)
  [[ "$now" =~ ^[0-9]+$ ]] || lab_fail "status shows no resync byte counters (sync.bytes_received)"
  echo $((now - $2))
}
reconnect_and_sync() {  # the away host $1 connects again; wait for the end of the resync
  lab_adm "$1" connect r0
  lab_adm "$1" wait-connect --timeout 30 r0 || lab_fail "n$1 did not reconnect"
  lab_adm 1 wait-sync --timeout 120 r0 || lab_fail "the resync did not finish"
  lab_adm 2 wait-sync --timeout 120 r0 || lab_fail "the resync did not finish (n2)"
  for i in 1 2; do lab_wait 20 "n$i UpToDate" lab_field_is "$i" disk UpToDate; done
  same_data || lab_fail "the replicas differ"
}

case "$SCENARIO" in
  no-sync)
    lab_adm 1 secondary r0
    read -r _ before <<< "$(counters 2)"
    syncs=$(grep -c -- "-> SyncTarget" "$(lab_node_log 2)" || true)
    lab_adm 2 disconnect r0
    reconnect_and_sync 2
    [ "$(grep -c -- "-> SyncTarget" "$(lab_node_log 2)" || true)" = "$syncs" ] || lab_fail "a resync ran although nothing changed"
    got=$(received_since 2 "${before:-0}")
    [ "$got" = 0 ] || lab_fail "n2 received $got bytes although nothing changed"
    ;;
  bitmap-to-n2 | bitmap-to-n1)
    if [ "$SCENARIO" = bitmap-to-n2 ]; then src=1 dst=2; else src=2 dst=1; fi
    if [ "$src" = 2 ]; then
      lab_adm 1 secondary r0
      lab_adm 2 primary r0
    fi
    read -r _ before <<< "$(counters "$dst")"
    lab_adm "$dst" disconnect r0
    write_pattern "$src" $((16 * MIB)) $((2 * MIB)) 0x5$src
    reconnect_and_sync "$dst"
    pattern_file_ok "$(lab_node_disk "$dst")" $((16 * MIB)) $((2 * MIB)) "0x5$src" || lab_fail "n$dst lacks the writes"
    got=$(received_since "$dst" "${before:-0}")
    echo "n$dst received $got resync bytes for 2 MiB written while it was away"
    [ "$got" -ge $((2 * MIB)) ] || lab_fail "n$dst received less than was written"
    [ "$got" -le $((4 * MIB)) ] || lab_fail "n$dst received $got bytes: more than what changed"
    ;;
  full-sync)
    read -r _ before <<< "$(counters 2)"
    lab_adm 2 invalidate r0 || lab_fail "invalidate refused"
    lab_wait 20 "n2 to become SyncTarget or finish" bash -c "grep -q -- '-> SyncTarget' '$(lab_node_log 2)'"
    lab_adm 1 wait-sync --timeout 120 r0 || lab_fail "the full sync did not finish"
    lab_wait 20 "n2 UpToDate" lab_field_is 2 disk UpToDate
    same_data || lab_fail "the replicas differ"
    got=$(received_since 2 "${before:-0}")
    echo "n2 received $got of $device bytes"
    [ "$got" -ge "$device" ] || lab_fail "a full sync copied only $got of $device bytes"
    ;;
  invalidate-away)
    read -r _ before <<< "$(counters 2)"
    lab_adm 2 disconnect r0
    lab_adm 2 invalidate r0 || lab_fail "invalidate refused on a disconnected secondary"
    [ "$(lab_field 2 disk)" = Inconsistent ] || lab_fail "n2 is $(lab_field 2 disk) after invalidate, not Inconsistent"
    oos=$(lab_field 2 out_of_sync_bytes)
    [ "$oos" -ge "$device" ] || lab_fail "n2 marked only $oos of $device bytes out of sync"
    if lab_adm 1 invalidate r0 2> /dev/null; then lab_fail "invalidate accepted on the disconnected primary n1"; fi
    reconnect_and_sync 2
    got=$(received_since 2 "${before:-0}")
    echo "n2 received $got of $device bytes"
    [ "$got" -ge "$device" ] || lab_fail "the sync after invalidate copied only $got of $device bytes"
    ;;
  bitmap-1pct)
    read -r _ before <<< "$(counters 2)"
    lab_adm 2 disconnect r0
    log="$LAB_DIR/storm.log"
    "$STORM" --uri "$(lab_uri 1)" --log "$log" --seed $$ --max-blocks 4 --depth 8 --writes 1000 --seconds 60
    oos=$(lab_field 1 out_of_sync_bytes)
    echo "n1: $oos bytes out of sync after the storm ($(awk "BEGIN { printf \"%.2f\", $oos * 100 / $device }")% of $device)"
    [ "$oos" -ge $((2 * MIB)) ] || lab_fail "only $oos bytes out of sync: the storm did not run"
    reconnect_and_sync 2
    got=$(received_since 2 "${before:-0}")
    echo "n2 received $got resync bytes"
    [ "$got" -ge "$oos" ] || lab_fail "n2 received less than was out of sync"
    [ "$got" -le $((oos + oos / 10)) ] || lab_fail "n2 received $got bytes for $oos out of sync"
    "$CHECK" "$log" "$(lab_node_disk 2)" || lab_fail "n2 lacks acknowledged writes"
    ;;
  *) lab_fail "unknown scenario $SCENARIO" ;;
esac
pass
