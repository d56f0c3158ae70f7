# shellcheck shell=bash
# The lab: N test hosts on this machine, one network namespace each, joined
# by one bridge, each running its own tandemd with its own run directory,
# backing file and configuration. Sourced by tests/lab/lab.sh (by hand) and
# by the scenarios (tests/lab/scenarios).
#
# Every object the lab creates (namespace, link, process, loop device,
# mount) is recorded in $LAB_DIR/registry the moment it
# exists, so that lab_down can remove exactly those objects, also from
# another process (`lab.sh down`) or after the owner died (stale labs are
# reaped by the next lab_init). Names carry the lab id, so labs run in
# parallel (ctest -j) without colliding.
#
# Environment read by lab_up (set before calling it):
#   LAB_TANDEMD, LAB_TANDEMADM  the programs (default: build/tools/...)
#   LAB_SIZE_MIB                backing file size (default 64)
#   LAB_PROTOCOL                replication protocol (default C)
#   LAB_NET_EXTRA, LAB_DISK_EXTRA, LAB_HANDLERS
#                               extra lines for net { }, disk { }, handlers { }
#   LAB_SECRET_nI, LAB_SIZE_MIB_nI, LAB_NET_EXTRA_nI
#                               per-node overrides (e.g. a wrong secret)

LAB_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_SRC_DIR="$(cd "$LAB_LIB_DIR/../../.." && pwd)"
LAB_ROOT=/tmp/tandem-netlab
LAB_PORT=7789

lab_log() { echo "lab: $*" >&2; }
lab_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# lab_init ID: selects (or prepares) the lab named ID; sets LAB_ID, LAB_DIR.
# ID: letters and digits, at most 8 (it is part of 15-byte interface names).
lab_init() {
  LAB_ID=$1
  [[ "$LAB_ID" =~ ^[a-z0-9]{1,8}$ ]] || lab_fail "lab id '$LAB_ID': use 1-8 lower-case letters or digits"
  LAB_DIR="$LAB_ROOT/$LAB_ID"
  LAB_BRIDGE="tl${LAB_ID}b"
  LAB_TANDEMD=${LAB_TANDEMD:-$LAB_SRC_DIR/build/tools/tandemd/tandemd}
  LAB_TANDEMADM=${LAB_TANDEMADM:-$LAB_SRC_DIR/build/tools/tandemadm/tandemadm}
  lab_reap_stale
}

lab_record() { echo "$*" >> "$LAB_DIR/registry"; }

lab_node_ns() { echo "tl${LAB_ID}-n$1"; }
lab_node_veth() { echo "tl${LAB_ID}v$1"; }
lab_node_addr() { echo "10.77.0.$((10 + $1))"; }
lab_node_dir() { echo "$LAB_DIR/n$1"; }
lab_node_run() { echo "$LAB_DIR/n$1/run"; }
lab_node_log() { echo "$LAB_DIR/n$1/tandemd.log"; }
lab_node_conf() { echo "$LAB_DIR/n$1/tandem.conf"; }
lab_node_disk() { cat "$LAB_DIR/n$1/disk.path"; }
lab_node_image() { echo "$LAB_DIR/n$1/disk.img"; }
lab_nodes() { cat "$LAB_DIR/nodes"; }

# Labs whose owning process is gone (a killed ctest run) are torn down.
lab_reap_stale() {
  local d owner
  for d in "$LAB_ROOT"/*; do
    [ -f "$d/owner" ] || continue
    owner=$(cat "$d/owner")
    [ "$owner" = manual ] && continue
    kill -0 "$owner" 2> /dev/null && continue
    lab_log "reaping stale lab $(basename "$d") (owner $owner is gone)"
    (LAB_DIR=$d lab_down_dir "$d") || true
  done
}

# lab_up N: creates the bridge, N namespaces with their veth links, and on
# each host a configuration, a backing file (with metadata) and a running
# tandemd. Resources are not attached: call lab_adm I up r0.
# lab_up is lab_up_net followed by lab_up_nodes; a scenario may change a
# host's backing device in between (lab_use_eio_disk).
lab_up() {
  lab_up_net "$1"
  lab_up_nodes
}

lab_up_net() {
  local n=$1 i ns veth size_var
  [ "$n" -ge 2 ] || lab_fail "lab_up: need at least 2 hosts"
  [ -e "$LAB_DIR/registry" ] && lab_fail "lab $LAB_ID is already up ($LAB_DIR); run: lab.sh down $LAB_ID"
  [ -x "$LAB_TANDEMD" ] || lab_fail "no tandemd at $LAB_TANDEMD (build it, or set LAB_TANDEMD)"
  [ -x "$LAB_TANDEMADM" ] || lab_fail "no tandemadm at $LAB_TANDEMADM (build it, or set LAB_TANDEMADM)"
  mkdir -p "$LAB_DIR"
  echo "${LAB_OWNER:-$$}" > "$LAB_DIR/owner"
  : > "$LAB_DIR/registry"
  echo "$n" > "$LAB_DIR/nodes"

  ip link add "$LAB_BRIDGE" type bridge
  lab_record link "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
  for i in $(seq "$n"); do
    ns=$(lab_node_ns "$i")
    veth=$(lab_node_veth "$i")
    ip netns add "$ns"
    lab_record netns "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    lab_record link "$veth"
    ip link set "$veth" master "$LAB_BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(lab_node_addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    mkdir -p "$(lab_node_run "$i")"
    size_var="LAB_SIZE_MIB_n$i"
    truncate -s "${!size_var:-${LAB_SIZE_MIB:-64}}M" "$(lab_node_image "$i")"
    lab_node_image "$i" > "$(lab_node_dir "$i")/disk.path"
  done
}

lab_up_nodes() {
  local i
  for i in $(seq "$(lab_nodes)"); do
    lab_write_config "$i"
    lab_create_md "$i"
    lab_start "$i"
  done
}

# lab_use_eio_disk I EIO_FILE_PROGRAM: host nI's backing device becomes a
# loop device over a FUSE file (tandem-eio-file) backed by its image, so
# that chosen ranges can be made to fail: lab_eio I "fail rw OFFSET LEN".
# Call between lab_up_net and lab_up_nodes.
lab_use_eio_disk() {
  local i=$1 program=$2 mnt dev
  mnt="$(lab_node_dir "$i")/eio"
  mkdir -p "$mnt"
  lab_spawn "eio-n$i" "$program" "$(lab_node_image "$i")" "$mnt"
  lab_record mount "$mnt"
  lab_wait 10 "the FUSE file of n$i" test -e "$mnt/disk"
  dev=$(lab_loop_attach "$mnt/disk")
  echo "$dev" > "$(lab_node_dir "$i")/disk.path"
}

# lab_eio I COMMAND: sends COMMAND to host nI's failing disk; lab_eio I
# prints its rules and counters.
lab_eio() {
  local ctl
  ctl="$(lab_node_dir "$1")/eio/control"
  if [ $# -ge 2 ]; then echo "$2" > "$ctl"; else cat "$ctl"; fi
}

# lab_write_config I: renders resource.conf.in for host nI.
lab_write_config() {
  local i=$1 secret_var="LAB_SECRET_n$1" net_var="LAB_NET_EXTRA_n$1"
  local d1 d2
  d1=$(lab_node_disk 1)
  d2=$(lab_node_disk 2)
  # Every host's configuration names both hosts' disks: the peer's is only
  # read for its name, the size is negotiated on connect.
  sed -e "s|@PROTOCOL@|${LAB_PROTOCOL:-C}|" \
    -e "s|@SECRET@|${!secret_var:-lab-secret}|" \
    -e "s|@NET_EXTRA@|${LAB_NET_EXTRA:-} ${!net_var:-}|" \
    -e "s|@DISK_EXTRA@|${LAB_DISK_EXTRA:-}|" \
    -e "s|@HANDLERS@|${LAB_HANDLERS:-}|" \
    -e "s|@DISK_N1@|$d1|" -e "s|@DISK_N2@|$d2|" \
    -e "s|@ADDR_N1@|$(lab_node_addr 1)|" -e "s|@ADDR_N2@|$(lab_node_addr 2)|" \
    -e "s|@NODE@|n$i|g" -e "s|@LAB_DIR@|$LAB_DIR|g" \
    "$LAB_LIB_DIR/resource.conf.in" > "$(lab_node_conf "$i")"
}

# lab_resize I MIB: gives host nI a backing file of another size (before
# lab_create_md).
lab_resize() { truncate -s "$2M" "$(lab_node_image "$1")"; }

lab_create_md() {
  local i=$1
  [ "$i" -le 2 ] || return 0
  "$LAB_TANDEMADM" -c "$(lab_node_conf "$i")" --node "n$i" create-md r0 > /dev/null ||
    lab_fail "create-md on n$i failed with $(lab_node_conf "$i") (the reason is above)"
}

# lab_start I: starts tandemd on host nI inside its namespace.
lab_start() {
  local i=$1 run pid
  run=$(lab_node_run "$i")
  rm -f "$run/tandemd.sock" "$run/tandemd.pid"
  [ "$i" -le 2 ] || return 0 # hosts beyond n2 carry no resource
  ip netns exec "$(lab_node_ns "$i")" "$LAB_TANDEMD" -c "$(lab_node_conf "$i")" --node "n$i" \
    --run-dir "$run" --log-file "$(lab_node_log "$i")" 2>> "$(lab_node_dir "$i")/tandemd.stderr" ||
    lab_fail "tandemd on n$i did not start: $(tail -n 3 "$(lab_node_dir "$i")/tandemd.stderr")"
  pid=$(cat "$run/tandemd.pid")
  echo "$pid" > "$(lab_node_dir "$i")/pid"
  lab_record pid "$pid" tandemd
}

lab_pid() { cat "$(lab_node_dir "$1")/pid"; }

# lab_kill I: kill -9 of host nI's tandemd (a crash: nothing is written).
lab_kill() {
  local pid
  pid=$(lab_pid "$1")
  kill -9 "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.05; done
  lab_fail "tandemd $pid of n$1 survived kill -9"
}

# lab_stop I: orderly stop (SIGTERM: demote, disconnect, detach, exit).
lab_stop() {
  local pid
  pid=$(lab_pid "$1")
  kill "$pid"
  for _ in $(seq 200); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.05; done
  lab_fail "tandemd $pid of n$1 did not stop within 10 s of SIGTERM"
}

# lab_cut I / lab_heal I: pull and replug host nI's cable (the bridge side
# of its veth goes down: its packets are dropped, no error reaches TCP, as
# with a real partition).
lab_cut() { ip link set "$(lab_node_veth "$1")" down; }
lab_heal() { ip link set "$(lab_node_veth "$1")" up; }

# lab_stall_begin I / lab_stall_end I: drop host nI's replication traffic
# (TCP port 7789, both directions) in its namespace with nftables. The
# connection stays open; TCP retransmits and recovers when the stall ends,
# unless the daemons' ping-timeout/ko-count give up first.
lab_stall_begin() {
  local ns
  ns=$(lab_node_ns "$1")
  ip netns exec "$ns" nft -f - << NFT
table inet tandemlab {
  chain in { type filter hook input priority 0; tcp dport $LAB_PORT drop; tcp sport $LAB_PORT drop; }
  chain out { type filter hook output priority 0; tcp dport $LAB_PORT drop; tcp sport $LAB_PORT drop; }
}
NFT
}
lab_stall_end() { ip netns exec "$(lab_node_ns "$1")" nft delete table inet tandemlab; }

# lab_freeze I / lab_thaw I: SIGSTOP / SIGCONT of host nI's tandemd (a node
# that hangs: its sockets stay open, nothing is answered).
lab_freeze() { kill -STOP "$(lab_pid "$1")"; }
lab_thaw() { kill -CONT "$(lab_pid "$1")"; }

# lab_adm I ARGS...: tandemadm for host nI.
lab_adm() {
  local i=$1
  shift
  "$LAB_TANDEMADM" -c "$(lab_node_conf "$i")" --node "n$i" --run-dir "$(lab_node_run "$i")" "$@"
}

# lab_exec I CMD...: runs CMD inside host nI's namespace.
lab_exec() {
  local i=$1
  shift
  ip netns exec "$(lab_node_ns "$i")" "$@"
}

lab_uri() { echo "nbd+unix:///r0?socket=$(lab_node_run "$1")/r0.nbd"; }

# lab_field I FIELD: one field of `status --json r0` on host nI (jq path
# below the resource, e.g. disk, sync.active, out_of_sync_bytes).
lab_field() { lab_adm "$1" status --json r0 | jq -r ".resources[0].$2"; }

# lab_wait TIMEOUT_S DESCRIPTION CMD...: polls CMD every 0.1 s.
lab_wait() {
  local timeout=$1 what=$2
  shift 2
  local end=$((SECONDS + timeout))
  while ((SECONDS < end)); do
    "$@" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  lab_fail "timed out after ${timeout}s waiting for: $what"
}

lab_field_is() { [ "$(lab_field "$1" "$2")" = "$3" ]; }

# lab_data_bytes: the size of the exported data area (from n1's status).
lab_data_bytes() { lab_field 1 size_bytes; }

# lab_loop_attach FILE: losetup for the lab (recorded; detached at down).
lab_loop_attach() {
  local dev try
  # Another test may take the free device between losetup's look-up and
  # its attach: try again.
  for try in 1 2 3 4 5; do
    dev=$(losetup -f --show "$1" 2> "$LAB_DIR/losetup.err") && break
    sleep "0.$try"
  done
  [ -n "$dev" ] || lab_fail "losetup $1: $(cat "$LAB_DIR/losetup.err")"
  lab_record loop "$dev"
  echo "$dev"
}

# lab_spawn NAME CMD...: starts a helper process in the background,
# recorded for teardown; its pid is in $LAB_DIR/NAME.pid.
lab_spawn() {
  local name=$1
  shift
  "$@" > "$LAB_DIR/$name.out" 2>&1 &
  echo $! > "$LAB_DIR/$name.pid"
  lab_record pid $! "$(basename "$1")"
}

# lab_dump_logs: the end of every daemon's log (called when a test fails).
lab_dump_logs() {
  local i
  [ -f "$LAB_DIR/nodes" ] || return 0
  for i in $(seq "$(lab_nodes)"); do
    [ -f "$(lab_node_log "$i")" ] || continue
    echo "---- n$i: $(lab_node_log "$i")"
    tail -n "${LAB_LOG_LINES:-40}" "$(lab_node_log "$i")"
  done
}

lab_down() { lab_down_dir "$LAB_DIR"; }

# lab_alive PID: the process exists and is not a zombie.
lab_alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2> /dev/null; }

# lab_down_dir DIR: removes every object recorded in DIR/registry, newest
# kind last: processes, loop devices, mounts, firewall tables, namespaces,
# links; then DIR itself. Never fails.
lab_down_dir() {
  local dir=$1 kind what pids=() p k
  [ -f "$dir/registry" ] || {
    rm -rf "$dir"
    return 0
  }
  while read -r kind what name; do
    [ "$kind" = pid ] || continue
    # Only processes that are still ours: pids are recycled, so the
    # program name must match too (the kernel keeps 15 characters of it).
    lab_alive "$what" || continue
    [ "$(cat "/proc/$what/comm" 2> /dev/null)" = "${name:0:15}" ] && pids+=("$what")
  done < "$dir/registry"
  # Newest first: daemons stop before the FUSE files under their disks.
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do
    p=${pids[k]}
    kill -CONT "$p" 2> /dev/null || true # a frozen node must see the TERM
    kill "$p" 2> /dev/null || true
    for _ in $(seq 50); do lab_alive "$p" || break; sleep 0.1; done
    kill -9 "$p" 2> /dev/null || true
  done
  while read -r kind what; do
    case "$kind" in
      loop) losetup -d "$what" 2> /dev/null || true ;;
    esac
  done < "$dir/registry"
  tac "$dir/registry" | while read -r kind what; do
    case "$kind" in
      mount) umount -l "$what" 2> /dev/null || true ;;
      netns) ip netns del "$what" 2> /dev/null || true ;;
      link) ip link del "$what" 2> /dev/null || true ;;
    esac
  done
  rm -rf "$dir"
}

# lab_trap: for scenarios; tears the lab down on every exit and shows the
# daemons' logs when the scenario failed.
lab_trap() {
  trap 'lab_on_exit' EXIT
  trap 'exit 130' INT TERM
}
lab_on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "${LAB_DIR:-}" ]; then
    echo "---- scenario failed (exit $rc); daemon logs:"
    lab_dump_logs
  fi
  [ -n "${LAB_KEEP:-}" ] && {
    echo manual > "$LAB_DIR/owner" # not reaped as stale: the user takes it over
    echo "LAB_KEEP set: lab left up in $LAB_DIR (lab.sh down $LAB_ID)"
    exit "$rc"
  }
  [ -n "${LAB_DIR:-}" ] && lab_down
  exit "$rc"
}
