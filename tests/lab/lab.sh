#!/bin/bash
# The tandem lab by hand: test hosts as network namespaces on this machine.
# See docs/lab.md. Needs root.
set -euo pipefail
# shellcheck source=lib/lab.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib/lab.bash"

usage() {
  cat << 'EOF'
usage: lab.sh [--lab ID] COMMAND [ARGS]

  up N               create N hosts n1..nN (namespaces tl<ID>-nI, addresses
                     10.77.0.(10+I), bridge tl<ID>b), each with its own tandemd;
                     n1 and n2 share resource r0 (not attached yet)
  down               stop everything of the lab and remove it
  list               the labs that exist
  env                shell variables for the lab (eval "$(lab.sh env)")
  adm I ARGS...      tandemadm for host nI, e.g. `adm 1 up r0`, `adm 1 status r0`
  exec I CMD...      run CMD inside host nI's namespace
  uri I              the NBD URI of r0 on host nI
  log I              the daemon log of host nI
  kill I             kill -9 host nI's tandemd
  start I            start host nI's tandemd again (after kill or stop)
  stop I             SIGTERM host nI's tandemd (orderly stop)
  cut I | heal I     unplug / replug host nI's network link (partition)
  stall I SECONDS    drop host nI's replication traffic for SECONDS (nftables)
  freeze I | thaw I  SIGSTOP / SIGCONT host nI's tandemd

The lab id defaults to $LAB_ID or "lab". Programs: $LAB_TANDEMD and
$LAB_TANDEMADM (default build/tools/...). At `up`: LAB_SIZE_MIB (64),
LAB_PROTOCOL (C), LAB_NET_EXTRA / LAB_DISK_EXTRA / LAB_HANDLERS (lines for
net { }, disk { }, handlers { }), LAB_SECRET_nI (per-host shared secret).
EOF
}

id=${LAB_ID:-lab}
if [ "${1:-}" = --lab ]; then
  id=$2
  shift 2
fi
[ $# -ge 1 ] || {
  usage
  exit 2
}
cmd=$1
shift
[ "$cmd" = help ] || [ "$cmd" = -h ] || [ "$cmd" = --help ] && {
  usage
  exit 0
}
[ "$(id -u)" = 0 ] || lab_fail "the lab needs root (namespaces, links, loop devices)"
export LAB_OWNER=manual
lab_init "$id"

need_node() { [[ "${1:-}" =~ ^[0-9]+$ ]] || lab_fail "$cmd: give a host number (1 for n1, ...)"; }

case "$cmd" in
  up)
    [ $# -eq 1 ] || lab_fail "usage: lab.sh up N"
    lab_up "$1" || {
      lab_down
      exit 1
    }
    echo "lab $LAB_ID up in $LAB_DIR with $1 hosts; next: lab.sh adm 1 up r0; lab.sh adm 2 up r0"
    ;;
  down) lab_down ;;
  list) for d in "$LAB_ROOT"/*; do [ -d "$d" ] && echo "$(basename "$d") owner=$(cat "$d/owner" 2> /dev/null)"; done ;;
  env)
    echo "LAB_ID=$LAB_ID LAB_DIR=$LAB_DIR"
    for i in $(seq "$(lab_nodes)"); do
      echo "N${i}_NS=$(lab_node_ns "$i") N${i}_RUN=$(lab_node_run "$i") N${i}_DISK=$(lab_node_disk "$i") N${i}_URI='$(lab_uri "$i")'"
    done
    ;;
  adm)
    need_node "${1:-}"
    lab_adm "$@"
    ;;
  exec)
    need_node "${1:-}"
    lab_exec "$@"
    ;;
  uri) need_node "${1:-}" && lab_uri "$1" ;;
  log) need_node "${1:-}" && cat "$(lab_node_log "$1")" ;;
  kill) need_node "${1:-}" && lab_kill "$1" ;;
  start) need_node "${1:-}" && lab_start "$1" ;;
  stop) need_node "${1:-}" && lab_stop "$1" ;;
  cut) need_node "${1:-}" && lab_cut "$1" ;;
  heal) need_node "${1:-}" && lab_heal "$1" ;;
  stall)
    need_node "${1:-}"
    lab_stall_begin "$1"
    sleep "${2:?stall I SECONDS}"
    lab_stall_end "$1"
    ;;
  freeze) need_node "${1:-}" && lab_freeze "$1" ;;
  thaw) need_node "${1:-}" && lab_thaw "$1" ;;
  *)
    usage >&2
    exit 2
    ;;
esac
