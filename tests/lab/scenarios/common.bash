# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this
# Sourced by every scenario: reads the program paths from the command line
# (as ctest passes them), prepares a lab with a unique id and the trap that
# tears it down.
#
#   SCENARIO_SCRIPT NAME TANDEMD TANDEMADM TOOLS_DIR
set -euo pipefail

SCENARIO=${1:?scenario name}
LAB_TANDEMD=${2:?path of tandemd}
LAB_TANDEMADM=${3:?path of tandemadm}
LAB_TOOLS=${4:?directory of the lab tools (tandem-write-storm, ...)}
# shellcheck source=../lib/lab.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.bash"

[ "$(id -u)" = 0 ] || {
  echo "SKIP: the lab needs root (network namespaces, veth, loop devices)"
  exit 77
}
for tool in ip jq nft qemu-io; do
  command -v "$tool" > /dev/null || lab_fail "$tool is missing: run scripts/setup.sh (scripts/packages.txt lists it)"
done

lab_init "s$$"
lab_trap

STORM="$LAB_TOOLS/tandem-write-storm"
CHECK="$LAB_TOOLS/tandem-write-check"
EIO_FILE="$LAB_TOOLS/tandem-eio-file"

pass() { echo "PASS: $SCENARIO${1:+: $*}"; }

# up_pair: both hosts attach and connect, n1 becomes primary with --force
# and the initial sync finishes.
up_pair() {
  lab_adm 1 up r0
  lab_adm 2 up r0
  lab_adm 1 wait-connect --timeout 30 r0 || lab_fail "n1 and n2 did not connect"
  lab_adm 1 primary --force r0
  lab_adm 1 wait-sync --timeout 120 r0 || lab_fail "initial sync did not finish"
  [ "$(lab_adm 2 dstate r0)" = UpToDate/UpToDate ] || lab_fail "n2 not UpToDate after the initial sync: $(lab_adm 2 dstate r0)"
}

# same_data: both backing devices hold identical data areas.
same_data() {
  local n
  n=$(lab_data_bytes)
  cmp -n "$n" "$(lab_node_disk 1)" "$(lab_node_disk 2)"
}

# acked_writes LOG: how many acknowledged writes LOG holds.
acked_writes() { grep -c '^A ' "$1" || true; }

# sync_bytes I sent|received: cumulative resync payload bytes of host nI.
sync_bytes() { lab_field "$1" "sync.bytes_$2"; }

# pattern_ok I OFFSET LENGTH BYTE: host nI's export reads back BYTE there.
pattern_ok() {
  qemu-io -f raw -c "read -P $4 $2 $3" "$(lab_uri "$1")" | grep -q "^read $3/$3 bytes"
}
# pattern_file_ok FILE OFFSET LENGTH BYTE: a backing file holds BYTE there.
pattern_file_ok() {
  cmp -s -n "$3" <(head -c "$3" /dev/zero | tr '\0' "\\$(printf '%03o' "$4")") \
    <(tail -c +$(($2 + 1)) "$1" | head -c "$3")
}
write_pattern() {
  qemu-io -f raw -c "write -P $4 $2 $3" "$(lab_uri "$1")" > /dev/null || lab_fail "n$1: writing $4 at $2+$3 failed"
}

# need_fuse_and_loop: the failing disk needs FUSE and loop devices; a
# kernel without them cannot run the scenario (skip, saying why).
need_fuse_and_loop() {
  if [ ! -c /dev/fuse ] || [ ! -c /dev/loop-control ]; then
    echo "SKIP: $SCENARIO needs FUSE (/dev/fuse) and loop devices (/dev/loop-control); this kernel lacks one"
    exit 77
  fi
}
