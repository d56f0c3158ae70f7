#!/bin/bash
# Lab tests with two real tandemd processes on 127.0.0.1: separate run
# directories, distinct ports, sparse backing files in a temporary directory.
# Everything is torn down on exit, also when a check fails.
#
#   two_nodes.sh SCENARIO TANDEMD TANDEMADM
#
# Scenarios: connect-auth, wrong-secret, mirror, dual-primary, status-sync,
# degraded, protocol-a, protocol-b, crash-secondary, crash-primary,
# handlers, adjust, resync-after.
set -euo pipefail

scenario=$1
TANDEMD=$2
TANDEMADM=$3
# shellcheck source=../../../scripts/lib/stop-processes.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/stop-processes.sh"
# shellcheck source=../../../scripts/lib/two-node-conf.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/two-node-conf.sh"

work=$(mktemp -d /tmp/tandem-lab-XXXXXX)
pids=()
cleanup() {
  local rc=$?
  stop_processes "${pids[@]}"
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
status_field() {  # status_field NODE FIELD: one field of `status --json`
  adm "$1" status --json r0 | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"
}

size_mib=${SIZE_MIB:-64}
base=$((20000 + ($$ % 15000) * 2))
port_a=$base
port_b=$((base + 1))

write_config() {  # write_config SECRET_A SECRET_B [extra net options]
  local secret_a=$1 secret_b=$2 extra=${3:-}
  for n in alpha beta; do
    local secret=$secret_a
    [ "$n" = beta ] && secret=$secret_b
    two_node_conf "$work" "$port_a" --secret "$secret" --protocol "${PROTOCOL:-C}" \
      --net "$extra" --resource "${RESOURCE_EXTRA:-}" \
      --device-alpha /dev/drbd0 --device-beta /dev/drbd0 > "$work/$n.conf"
  done
}

start_nodes() {
  for n in alpha beta; do
    truncate -s "${size_mib}M" "$work/$n.img"
    "$TANDEMADM" -c "$work/$n.conf" --node "$n" create-md r0 > /dev/null
    mkdir -p "$work/run-$n"
    "$TANDEMD" -c "$work/$n.conf" --node "$n" --run-dir "$work/run-$n" \
      --log-file "$work/$n.log" 2> /dev/null
    pids+=("$(cat "$work/run-$n/tandemd.pid")")
  done
  # tandemadm reads the config of the node it acts for (same resource).
  cp "$work/alpha.conf" "$work/tandem.conf"
  adm alpha up r0
  adm beta up r0
}

data_bytes() {  # size of the exported data area
  adm alpha status --json r0 | sed -n 's/.*"size_bytes":\([0-9]*\).*/\1/p'
}

same_data() {  # both backing files hold identical data areas
  local n
  n=$(data_bytes)
  cmp -n "$n" "$work/alpha.img" "$work/beta.img"
}

uri() { echo "nbd+unix:///r0?socket=$work/run-$1/r0.nbd"; }
# wait_writing N: until the background writer $writer has finished N writes
# (a line each in $work/progress), then fail unless it is still writing, so
# that what the caller does next happens during the stream whatever this
# machine's speed.
wait_writing() {
  local done=0
  for _ in $(seq 200); do
    done=$({ cat "$work/progress" 2> /dev/null || true; } | wc -l)  # none yet: no file
    [ "$done" -ge "$1" ] && break
    sleep 0.05
  done
  kill -0 "$writer" 2> /dev/null || fail "the writes ended before the kill ($done done): the test proves nothing"
}

case "$scenario" in
  connect-auth)
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0 || fail "alpha did not connect"
    adm beta wait-connect --timeout 20 r0 || fail "beta did not connect"
    [ "$(adm alpha cstate r0)" = Connected ] || fail "alpha cstate"
    [ "$(adm beta dstate r0)" = "Inconsistent/Inconsistent" ] || fail "beta dstate: $(adm beta dstate r0)"
    grep -q "peer beta: connected .*authenticated" "$work/alpha.log" || fail "alpha log lacks the authenticated connection"
    grep -q "peer alpha: connected .*authenticated" "$work/beta.log" || fail "beta log lacks the authenticated connection"
    # Disconnect goes StandAlone on this side and Connecting on the other.
    adm alpha disconnect r0
    [ "$(adm alpha cstate r0)" = StandAlone ] || fail "alpha not StandAlone after disconnect"
    for _ in $(seq 50); do [ "$(adm beta cstate r0)" = Connecting ] && break; sleep 0.1; done
    [ "$(adm beta cstate r0)" = Connecting ] || fail "beta did not notice the disconnect"
    adm alpha connect r0
    adm beta wait-connect --timeout 20 r0 || fail "no reconnect"
    adm alpha down r0
    adm beta down r0
    [ "$(adm beta dstate r0)" = "Diskless/DUnknown" ] || fail "beta not Diskless after down"
    ;;

  wrong-secret)
    write_config right-secret wrong-secret
    start_nodes
    for _ in $(seq 100); do
      grep -q "wrong shared-secret" "$work/alpha.log" && grep -q "wrong shared-secret" "$work/beta.log" && break
      sleep 0.1
    done
    grep "wrong shared-secret" "$work/alpha.log" | head -n 1
    grep "wrong shared-secret" "$work/beta.log" | head -n 1
    grep -q "wrong shared-secret" "$work/alpha.log" || fail "alpha did not log the authentication failure"
    grep -q "wrong shared-secret" "$work/beta.log" || fail "beta did not log the authentication failure"
    [ "$(adm alpha cstate r0)" = Connecting ] || fail "alpha should keep trying (Connecting)"
    adm alpha status r0 | grep -q "last error: .*wrong shared-secret" || fail "status does not say why"
    if grep -q "connected (" "$work/alpha.log" "$work/beta.log"; then fail "a connection was accepted"; fi
    if adm alpha wait-connect --timeout 2 r0 2> /dev/null; then fail "wait-connect succeeded"; fi
    ;;

  mirror)
    size_mib=300
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 120 r0 || fail "initial sync did not finish"
    [ "$(adm beta dstate r0)" = "UpToDate/UpToDate" ] || fail "beta not UpToDate after sync"
    head -c 256M /dev/urandom > "$work/data.bin"
    nbdcopy "$work/data.bin" "$(uri alpha)"
    cmp -n 268435456 "$work/data.bin" "$work/alpha.img" || fail "alpha does not hold the written data"
    cmp -n 268435456 "$work/data.bin" "$work/beta.img" || fail "beta does not hold the written data"
    same_data || fail "backing devices differ"
    # A 1 MiB write (the largest request, FUA, its own random data) at an
    # offset that is not a multiple of its size, found on both nodes.
    head -c 1M /dev/urandom > "$work/piece.bin"
    qemu-io -f raw -c "write -f -s $work/piece.bin 65540K 1M" "$(uri alpha)" > /dev/null ||
      fail "1 MiB write failed"
    for img in alpha beta; do
      cmp -i 0:67112960 -n 1048576 "$work/piece.bin" "$work/$img.img" || fail "$img lacks the 1 MiB write"
    done
    cmp -i 68161536 -n 4096 "$work/data.bin" "$work/beta.img" || fail "the 1 MiB write touched data after it"
    same_data || fail "backing devices differ after the 1 MiB write"
    # Write-zeroes larger than one request (the daemon splits it), with FUA.
    qemu-io -f raw -c "write -z -f 4M 9M" "$(uri alpha)" > /dev/null || fail "write-zeroes failed"
    qemu-io -f raw -c "read -P 0 4M 9M" "$(uri alpha)" | grep -q "read 9437184" || fail "zeroes not read back"
    cmp -n 4194304 "$work/data.bin" "$work/beta.img" || fail "write-zeroes touched data before it"
    cmp -i 13631488 -n 1048576 "$work/data.bin" "$work/beta.img" || fail "write-zeroes touched data after it"
    # A large one goes out a few pieces at a time.
    qemu-io -f raw -c "write -z 200M 56M" "$(uri alpha)" > /dev/null || fail "large write-zeroes failed"
    qemu-io -f raw -c "read -P 0 200M 56M" "$(uri alpha)" | grep -q "read 58720256" || fail "large zeroes not read back"
    same_data || fail "backing devices differ after write-zeroes"
    # A secondary refuses writes (and says so in its log).
    if nbdcopy "$work/data.bin" "$(uri beta)" 2> "$work/err"; then fail "secondary accepted writes"; fi
    grep -qi "permission\|read-only\|operation not permitted" "$work/err" || { cat "$work/err"; fail "unclear refusal"; }
    grep -q "resource r0: refusing writes from NBD clients: this node is Secondary" "$work/beta.log" ||
      fail "beta did not log why it refused the writes"
    n=$(data_bytes)
    for img in alpha beta; do
      echo "$img data area: $(head -c "$n" "$work/$img.img" | sha256sum | cut -d' ' -f1)"
    done
    ;;

  integrity)
    # data-integrity-alg: the data travels with its digest and arrives
    # intact; nodes with different algorithms refuse each other, saying why.
    write_config s3cret s3cret "data-integrity-alg sha256;"
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0 || fail "initial sync did not finish"
    head -c 32M /dev/urandom > "$work/data.bin"
    nbdcopy "$work/data.bin" "$(uri alpha)"
    cmp -n 33554432 "$work/data.bin" "$work/beta.img" || fail "beta does not hold the written data"
    same_data || fail "backing devices differ"
    if grep -q "data integrity check failed" "$work/alpha.log" "$work/beta.log"; then
      fail "a digest did not match"
    fi
    sed -i 's/data-integrity-alg sha256;/data-integrity-alg crc32c;/' "$work/beta.conf"
    adm beta adjust r0 | tee "$work/out"
    grep -q "applied data-integrity-alg" "$work/out" || fail "beta did not apply data-integrity-alg"
    for _ in $(seq 100); do
      grep -q "data-integrity-alg differs (this node sha256, the peer crc32c)" "$work/alpha.log" && break
      sleep 0.1
    done
    grep -q "data-integrity-alg differs (this node sha256, the peer crc32c)" "$work/alpha.log" ||
      fail "alpha did not log why it refused beta"
    [ "$(adm alpha cstate r0)" = StandAlone ] || fail "alpha cstate: $(adm alpha cstate r0)"
    ;;

  dual-primary)
    write_config s3cret s3cret "allow-two-primaries yes;"
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0
    adm beta primary r0 || fail "beta could not become primary with allow-two-primaries"
    [ "$(adm alpha role r0)" = "Primary/Primary" ] || fail "roles: $(adm alpha role r0)"
    # Disjoint regions, written at the same time from both nodes.
    qemu-io -f raw -c "write -P 0xaa 0 16M" "$(uri alpha)" > /dev/null &
    qa=$!
    qemu-io -f raw -c "write -P 0x55 32M 16M" "$(uri beta)" > /dev/null &
    qb=$!
    wait "$qa" || fail "alpha's write failed"
    wait "$qb" || fail "beta's write failed"
    qemu-io -f raw -c "read -P 0xaa 0 16M" -c "read -P 0x55 32M 16M" "$(uri alpha)" | grep -q "read 16777216" || fail "alpha reads back wrong data"
    qemu-io -f raw -c "read -P 0xaa 0 16M" -c "read -P 0x55 32M 16M" "$(uri beta)" > "$work/rb"
    grep -c "read 16777216" "$work/rb" | grep -q 2 || fail "beta reads back wrong data"
    same_data || fail "backing devices differ after disjoint writes"
    # Overlapping writes, concurrently, many times over the same region:
    # whatever wins, both replicas must end identical.
    for i in $(seq 8); do
      qemu-io -f raw -c "write -P 0x1$i 40M 4M" "$(uri alpha)" > /dev/null &
      qa=$!
      qemu-io -f raw -c "write -P 0x2$i 41M 4M" "$(uri beta)" > /dev/null &
      qb=$!
      wait "$qa" && wait "$qb" || fail "overlapping write failed"
    done
    adm alpha wait-sync --timeout 30 r0
    same_data || fail "backing devices differ after overlapping writes"
    ;;

  status-sync)
    size_mib=512
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha status r0 | tee "$work/st"
    adm alpha status --json r0 > "$work/st.json"
    grep -q "replication:SyncSource" "$work/st" || fail "no SyncSource state right after primary --force"
    grep -q "sync: .*% done" "$work/st" || fail "no sync progress line"
    grep -q '"active":true' "$work/st.json" || fail "json: sync not active"
    [ "$(adm beta cstate r0)" = SyncTarget ] || [ "$(adm beta cstate r0)" = Connected ] || fail "beta cstate"
    adm alpha wait-sync --timeout 120 r0
    adm alpha status --json r0 | grep -q '"peer_disk":"UpToDate"' || fail "peer not UpToDate after sync"
    same_data || fail "backing devices differ after the sync"
    ;;

  degraded)
    # Writes while the peer is away are marked out of sync and resynced when
    # it is back: after an orderly disconnect and after a kill -9.
    size_mib=200
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0
    adm beta disconnect r0
    head -c 32M /dev/urandom > "$work/d1.bin"
    nbdcopy "$work/d1.bin" "$(uri alpha)"
    adm alpha status --json r0 | grep -q '"out_of_sync_bytes":0,' && fail "no out-of-sync data recorded"
    [ "$(adm alpha dstate r0)" = "UpToDate/DUnknown" ] || fail "alpha dstate while alone: $(adm alpha dstate r0)"
    adm beta connect r0
    adm alpha wait-sync --timeout 60 r0 || fail "no resync after reconnect"
    same_data || fail "replicas differ after the resync"
    cmp -n 33554432 "$work/d1.bin" "$work/beta.img" || fail "beta lacks the data written while away"

    # The secondary's daemon dies during a stream of writes: five rounds
    # over the first 160 MiB, each 4 MiB always with the same pattern.
    (
      for round in $(seq 5); do
        for i in $(seq 0 39); do
          qemu-io -f raw -c "write -P $((i + 1)) $((i * 4))M 4M" "$(uri alpha)" > /dev/null || exit 1
          echo "$round $i" >> "$work/progress"
        done
      done
    ) &
    writer=$!
    wait_writing 3
    kill -9 "${pids[1]}"
    wait "$writer" || fail "writes on the primary failed when the peer died"
    for i in 0 7 21 39; do
      qemu-io -f raw -c "read -P $((i + 1)) $((i * 4))M 4M" "$(uri alpha)" | grep -q "read 4194304" ||
        fail "alpha lacks acknowledged write $i"
    done
    rm -f "$work/run-beta/tandemd.sock"
    "$TANDEMD" -c "$work/beta.conf" --node beta --run-dir "$work/run-beta" \
      --log-file "$work/beta.log" 2> /dev/null
    pids[1]=$(cat "$work/run-beta/tandemd.pid")
    adm beta up r0
    adm alpha wait-sync --timeout 60 r0 || fail "no resync after the peer restarted"
    [ "$(adm beta dstate r0)" = "UpToDate/UpToDate" ] || fail "beta: $(adm beta dstate r0)"
    same_data || fail "replicas differ after the peer's restart"
    ;;

  protocol-a | protocol-b)
    # The asynchronous protocols mirror too; once the writes are done and the
    # peer has caught up (wait-sync after a flush), both disks are equal.
    PROTOCOL=$(tr 'ab' 'AB' <<< "${scenario#protocol-}")
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0
    head -c 48M /dev/urandom > "$work/data.bin"
    nbdcopy --flush "$work/data.bin" "$(uri alpha)"
    adm alpha wait-sync --timeout 60 r0
    for _ in $(seq 50); do cmp -s -n 50331648 "$work/data.bin" "$work/beta.img" && break; sleep 0.1; done
    cmp -n 50331648 "$work/data.bin" "$work/beta.img" || fail "protocol $PROTOCOL: beta lacks the data"
    same_data || fail "protocol $PROTOCOL: backing devices differ"
    ;;

  crash-secondary | crash-primary)
    # kill -9 of a node's tandemd while the primary writes: its activity log
    # on disk still lists the hot extents (al-clean not set), and when it
    # attaches again they come back as out of sync, then resync.
    size_mib=128
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0
    victim=beta
    victim_index=1
    [ "$scenario" = crash-primary ] && victim=alpha && victim_index=0
    (
      # Round after round over the first 100 MiB: still writing at the kill.
      for i in $(seq 0 99); do
        qemu-io -f raw -c "write -P $((i % 25 + 1)) $((i % 25 * 4))M 4M" "$(uri alpha)" > /dev/null 2>&1 || exit 0
        echo "$i" >> "$work/progress"
      done
    ) &
    writer=$!
    wait_writing 3
    kill -9 "${pids[$victim_index]}"
    wait "$writer" || true
    adm "$victim" dump-md r0 > "$work/dump"
    grep '^flags' "$work/dump"
    grep '^hot-extents' "$work/dump"
    if grep '^flags' "$work/dump" | grep -q al-clean; then fail "al-clean set after kill -9"; fi
    hot=$(sed -n 's/^hot-extents {\([0-9 ]*\)}.*/\1/p' "$work/dump" | wc -w)
    [ "$hot" -gt 0 ] || fail "no hot extents in the activity log after writes and kill -9"
    rm -f "$work/run-$victim/tandemd.sock"
    "$TANDEMD" -c "$work/$victim.conf" --node "$victim" --run-dir "$work/run-$victim" \
      --log-file "$work/$victim.log" 2> /dev/null
    pids[victim_index]=$(cat "$work/run-$victim/tandemd.pid")
    adm "$victim" attach r0
    grep -q "resource r0: .* was not detached cleanly (crash or kill -9): $hot activity-log extent" \
      "$work/$victim.log" || fail "$victim did not report the unclean stop and its $hot hot extents"
    # What the daemon hands the core at attach (DiskInfo::out_of_sync).
    att_kib=$(sed -n 's/.*resource r0: attached .*, \([0-9]*\) KiB out of sync.*/\1/p' "$work/$victim.log" | tail -n 1)
    [ "${att_kib:-0}" -ge $((hot * 4096)) ] || fail "hot extents not out of sync at attach: ${att_kib:-0} KiB < $hot x 4 MiB"
    adm "$victim" status --json r0 > "$work/st.json"
    grep -q '"attached_unclean":true' "$work/st.json" || fail "status does not show the unclean attach"
    oos_kib=$(sed -n 's/.*"out_of_sync_kib":\([0-9]*\).*/\1/p' "$work/st.json")
    echo "$victim after restart: $hot hot extents, $att_kib KiB out of sync at attach, core status ${oos_kib} KiB"
    [ "${oos_kib:-0}" -ge $((hot * 4096)) ] || fail "status: ${oos_kib:-0} KiB out of sync < $hot x 4 MiB"
    adm "$victim" connect r0
    adm alpha wait-sync --timeout 90 r0 || fail "no resync after the restart"
    adm beta wait-sync --timeout 30 r0 || fail "beta: no resync after the restart"
    same_data || fail "replicas differ after the restart of $victim"
    for n in alpha beta; do
      adm "$n" status --json r0 | sed -n 's/.*\("bytes_sent":[0-9]*,"bytes_received":[0-9]*\).*/'"$n"' resync \1/p'
    done
    # An orderly stop leaves a clean, empty log behind.
    adm alpha secondary r0 2> /dev/null || true
    adm "$victim" down r0
    adm "$victim" dump-md r0 > "$work/dump"
    grep '^flags' "$work/dump" | grep -q al-clean || fail "al-clean not set after down: $(grep '^flags' "$work/dump")"
    grep -q '^hot-extents { }' "$work/dump" || fail "hot extents left after down: $(grep '^hot-extents' "$work/dump")"
    ;;

  adjust)
    # adjust re-reads the file: connection options reconnect, engine options
    # re-attach a Secondary and are refused (with a note) on a Primary, a
    # resource that is down comes up, a broken file changes nothing.
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0
    sed -i 's/shared-secret "s3cret"/shared-secret "n3w-secret"/' "$work/alpha.conf" "$work/beta.conf"
    adm alpha adjust r0 | tee "$work/out"
    grep -q "reconnecting with the new net options" "$work/out" || fail "alpha: no reconnect note"
    for _ in $(seq 100); do grep -q "wrong shared-secret" "$work/alpha.log" && break; sleep 0.1; done
    grep -q "wrong shared-secret" "$work/alpha.log" || fail "alpha did not use the new secret"
    adm beta adjust r0 | tee "$work/out"
    adm alpha wait-connect --timeout 20 r0 || fail "no connection with the new secret on both"
    # Engine options: applied on the Secondary, kept (with a note) on the Primary.
    sed -i 's/ko-count-placeholder//; s/connect-int 1;/connect-int 1;\n    ko-count 3;\n    max-buffers 4096;/' "$work/alpha.conf" "$work/beta.conf"
    adm beta adjust r0 | tee "$work/out"
    grep -q "applied ko-count, max-buffers (detached, re-attached and reconnected)" "$work/out" || fail "beta did not apply ko-count and max-buffers"
    adm alpha adjust r0 | tee "$work/out"
    grep -q "ko-count, max-buffers changed, but this node is Primary" "$work/out" || fail "alpha gave no note for the Primary"
    adm alpha wait-sync --timeout 30 r0 || fail "no resync after beta's re-attach"
    [ "$(adm beta dstate r0)" = "UpToDate/UpToDate" ] || fail "beta after adjust: $(adm beta dstate r0)"
    # A resource that is down comes up.
    adm beta down r0
    adm beta adjust r0 | tee "$work/out"
    grep -q "attached" "$work/out" || fail "adjust did not attach"
    adm alpha wait-sync --timeout 30 r0 || fail "beta did not come back"
    # A broken file: nothing changes, the error names the file and line.
    echo "resource broken {" >> "$work/beta.conf"
    if adm beta adjust r0 2> "$work/err"; then fail "adjust accepted a broken file"; fi
    cat "$work/err"
    grep -q "beta.conf:[0-9]" "$work/err" || fail "the error does not name file:line"
    grep -q "nothing was changed" "$work/err" || fail "the error does not say nothing changed"
    [ "$(adm beta cstate r0)" = Connected ] || fail "a failed adjust changed the state"
    same_data || fail "replicas differ after the adjustments"
    ;;

  resync-after)
    # r1 follows r0: while r0 syncs (slowed down to 8 MiB/s), r1 waits and
    # says why; then it syncs.
    size_mib=40
    port_c=$((base + 2))
    port_d=$((base + 3))
    for n in alpha beta; do
      cat > "$work/$n.conf" <<CONF
common {
  net { protocol C; connect-int 1; }
}
resource r0 {
  disk { resync-rate 8M; c-plan-ahead 0; }
  on alpha { node-id 0; device /dev/drbd0; disk $work/alpha.img; meta-disk internal; address 127.0.0.1:$port_a; }
  on beta { node-id 1; device /dev/drbd0; disk $work/beta.img; meta-disk internal; address 127.0.0.1:$port_b; }
}
resource r1 {
  disk { resync-after r0; }
  on alpha { node-id 0; device /dev/drbd1; disk $work/alpha1.img; meta-disk internal; address 127.0.0.1:$port_c; }
  on beta { node-id 1; device /dev/drbd1; disk $work/beta1.img; meta-disk internal; address 127.0.0.1:$port_d; }
}
CONF
      truncate -s "${size_mib}M" "$work/$n.img" "$work/${n}1.img"
      "$TANDEMADM" -c "$work/$n.conf" --node "$n" create-md r0 > /dev/null
      "$TANDEMADM" -c "$work/$n.conf" --node "$n" create-md r1 > /dev/null
      mkdir -p "$work/run-$n"
      "$TANDEMD" -c "$work/$n.conf" --node "$n" --run-dir "$work/run-$n" \
        --log-file "$work/$n.log" 2> /dev/null
      pids+=("$(cat "$work/run-$n/tandemd.pid")")
    done
    cp "$work/alpha.conf" "$work/tandem.conf"
    adm alpha up all
    adm beta up all
    adm alpha wait-connect --timeout 20 all
    adm alpha primary --force r0
    adm alpha primary --force r1
    sleep 1
    adm alpha status r1 | tee "$work/st"
    grep -q "sync paused: resync-after r0" "$work/st" || fail "r1 does not wait for r0"
    adm alpha status --json r1 | grep -q '"paused_dependency":true' || fail "json: r1 not paused"
    [ "$(adm alpha cstate r0)" = SyncSource ] || fail "r0 is not syncing: $(adm alpha cstate r0)"
    adm alpha wait-sync --timeout 60 r0 || fail "r0 did not finish"
    adm alpha wait-sync --timeout 60 r1 || fail "r1 did not sync after r0"
    grep -q "resource r1: resync may run again" "$work/alpha.log" || fail "no log line when r1 was released"
    n=$(data_bytes)
    cmp -n "$n" "$work/alpha1.img" "$work/beta1.img" || fail "r1 replicas differ"
    ;;

  handlers)
    # fencing resource-only: the primary that loses its peer runs fence-peer
    # with the DRBD environment; its exit code (7: peer fenced) is logged
    # and handed to the engine. A hung handler is killed after the timeout
    # (here the fixed 120 s would be too long: only the start is checked).
    RESOURCE_EXTRA="disk { fencing resource-only; }
  handlers {
    fence-peer \"env | grep -E '^(DRBD|TANDEM)_' | sort > $work/fence-\$TANDEM_NODE.env; echo fencing \$DRBD_PEER; exit 7\";
  }"
    write_config s3cret s3cret
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0
    kill -9 "${pids[1]}"
    for _ in $(seq 100); do [ -s "$work/fence-alpha.env" ] && grep -q "handler fence-peer: exit code" "$work/alpha.log" && break; sleep 0.1; done
    [ -s "$work/fence-alpha.env" ] || fail "fence-peer did not run on alpha"
    cat "$work/fence-alpha.env"
    grep -qx "DRBD_RESOURCE=r0" "$work/fence-alpha.env" || fail "DRBD_RESOURCE"
    grep -qx "DRBD_PEER=beta" "$work/fence-alpha.env" || fail "DRBD_PEER"
    grep -qx "DRBD_PEER_ADDRESS=127.0.0.1" "$work/fence-alpha.env" || fail "DRBD_PEER_ADDRESS"
    grep -qx "DRBD_PEER_AF=ipv4" "$work/fence-alpha.env" || fail "DRBD_PEER_AF"
    grep -qx "DRBD_BACKING_DEV=$work/alpha.img" "$work/fence-alpha.env" || fail "DRBD_BACKING_DEV"
    grep -qx "DRBD_CONF=$work/alpha.conf" "$work/fence-alpha.env" || fail "DRBD_CONF"
    grep -qx "DRBD_MINOR=0" "$work/fence-alpha.env" || fail "DRBD_MINOR"
    grep -qx "TANDEM_HANDLER=fence-peer" "$work/fence-alpha.env" || fail "TANDEM_HANDLER"
    grep -q "resource r0: handler fence-peer: fencing beta" "$work/alpha.log" || fail "handler output not logged"
    grep -q "resource r0: handler fence-peer: exit code 7" "$work/alpha.log" || fail "exit code not logged"
    [ ! -e "$work/fence-beta.env" ] || fail "the secondary ran fence-peer"
    [ "$(adm alpha role r0)" = "Primary/Unknown" ] || fail "alpha: $(adm alpha role r0)"
    ;;

  verbs)
    # invalidate, invalidate-remote, pause-sync/resume-sync, verify and
    # resume-io through tandemadm, and what status shows for each.
    size_mib=48
    RESOURCE_EXTRA="disk { resync-rate 16M; c-plan-ahead 0; }"
    write_config s3cret s3cret "verify-alg crc32c;"
    start_nodes
    adm alpha wait-connect --timeout 20 r0
    adm alpha primary --force r0
    adm alpha wait-sync --timeout 60 r0
    if adm alpha resume-io r0 2> "$work/err"; then fail "resume-io without frozen I/O succeeded"; fi
    grep -q "r0" "$work/err" || fail "resume-io error does not name the resource: $(cat "$work/err")"
    # The peer's data is thrown away: full sync, paused and resumed on the way.
    adm alpha invalidate-remote r0
    adm alpha pause-sync r0
    adm alpha status r0 | tee "$work/st"
    grep -q "sync paused: user" "$work/st" || fail "status does not show the user's pause"
    adm alpha status --json r0 | grep -q '"paused_user":true' || fail "json: paused_user"
    adm beta status --json r0 | grep -q '"paused_peer":true' || fail "json on beta: paused_peer"
    done1=$(adm alpha status --json r0 | sed -n 's/.*"done_bytes":\([0-9]*\).*/\1/p')
    sleep 1
    done2=$(adm alpha status --json r0 | sed -n 's/.*"done_bytes":\([0-9]*\).*/\1/p')
    [ "$done1" = "$done2" ] || fail "the paused sync went on ($done1 -> $done2)"
    adm alpha resume-sync r0
    adm alpha wait-sync --timeout 60 r0 || fail "no sync after resume-sync"
    [ "$(adm beta dstate r0)" = "UpToDate/UpToDate" ] || fail "beta after invalidate-remote: $(adm beta dstate r0)"
    # This node's data is thrown away (on the secondary).
    adm beta invalidate r0
    adm beta wait-sync --timeout 60 r0 || fail "no sync after invalidate"
    adm beta status --json r0 | grep -q '"bytes_received":[1-9]' || fail "beta received no resync data"
    same_data || fail "replicas differ after invalidate"
    # Online verify: clean, then after corrupting 64 KiB of beta's disk
    # behind tandem's back.
    adm alpha verify r0
    for _ in $(seq 200); do adm alpha status --json r0 | grep -q '"verify":{"running":false,"total_bytes":[1-9]' && break; sleep 0.1; done
    adm alpha status r0 | tee "$work/st"
    grep -q "verify: finished 100.0% .*, 0 KiB differ" "$work/st" || fail "clean verify not reported"
    dd if=/dev/urandom of="$work/beta.img" bs=64K seek=100 count=1 conv=notrunc status=none
    adm alpha verify r0
    for _ in $(seq 200); do adm alpha status --json r0 | grep -q '"verify":{"running":false' && break; sleep 0.1; done
    adm alpha status r0 | tee "$work/st"
    # Verify compares in chunks (up to 256 KiB): the 64 KiB lie inside one.
    differ=$(sed -n 's/.*verify: finished 100.0% .*, \([0-9]*\) KiB differ.*/\1/p' "$work/st")
    [ "${differ:-0}" -ge 64 ] && [ "$differ" -le 512 ] || fail "the corruption was not found (${differ:-?} KiB differ)"
    oos=$(adm alpha status --json r0 | sed -n 's/.*"out_of_sync_kib":\([0-9]*\).*/\1/p')
    [ "$oos" -ge 64 ] || fail "the difference is not out of sync ($oos KiB)"
    adm beta disconnect r0
    adm beta connect r0
    adm alpha wait-sync --timeout 60 r0
    same_data || fail "replicas differ after the resync of the verify's findings"
    ;;

  *)
    fail "unknown scenario $scenario"
    ;;
esac
echo "PASS: $scenario"
