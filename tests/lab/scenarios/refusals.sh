#!/bin/bash
# Peers that must be refused, each with a clear message in the log and in
# `status` (last error), and with no data copied either way.
#
#   wrong-secret    n2 has another shared-secret
#   size-mismatch   n2's backing device is smaller
#   unrelated-data  n1 and n2 were each made UpToDate alone (primary --force
#                   without ever being connected): their data share no
#                   history and neither may overwrite the other
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

MIB=$((1 << 20))

# refused_with I TEXT: host nI logged TEXT and is not connected.
refused_with() {
  local i=$1 text=$2
  lab_wait 30 "n$i to log '$text'" grep -q -- "$text" "$(lab_node_log "$i")"
  grep -m1 -- "$text" "$(lab_node_log "$i")"
  [ "$(lab_adm "$i" cstate r0)" != Connected ] || lab_fail "n$i is Connected despite: $text"
}
# refused_by_one TEXT: at least one host logged TEXT, neither is connected.
# (The node that refuses first closes the connection; its peer may not have
# evaluated the pair of states itself, which happens under load.)
refused_by_one() {
  local text=$1 i
  lab_wait 30 "a host to log '$text'" grep -q -- "$text" "$(lab_node_log 1)" "$(lab_node_log 2)"
  sleep 2
  for i in 1 2; do
    grep -m1 -- "$text" "$(lab_node_log "$i")" || echo "note: n$i did not log it (its peer refused first)"
    [ "$(lab_adm "$i" cstate r0)" != Connected ] || lab_fail "n$i is Connected despite: $text"
  done
}
never_connected() {
  if grep -q "conn Connecting -> Connected" "$(lab_node_log 1)" "$(lab_node_log 2)"; then
    lab_fail "a connection was accepted"
  fi
}

case "$SCENARIO" in
  wrong-secret)
    LAB_SECRET_n2=not-the-secret lab_up 2
    lab_adm 1 up r0
    lab_adm 2 up r0
    refused_with 1 "failed authentication (wrong shared-secret)"
    refused_with 2 "failed authentication (wrong shared-secret)"
    lab_adm 1 status r0 | grep -q "last error: .*wrong shared-secret" || lab_fail "status does not say why"
    never_connected
    ;;

  size-mismatch)
    LAB_SIZE_MIB_n1=64 LAB_SIZE_MIB_n2=48 lab_up 2
    lab_adm 1 up r0
    lab_adm 2 up r0
    refused_by_one "the peer's backing device has"
    # The message gives both sizes, and status says why.
    sizes="$(lab_field 1 size_bytes) $(lab_field 2 size_bytes)"
    for i in 1 2; do
      line=$(grep -m1 "the peer's backing device has" "$(lab_node_log "$i")") || continue
      for n in $sizes; do
        grep -q "$n" <<< "$line" || lab_fail "n$i's message does not give the size $n"
      done
      lab_adm "$i" status r0 | grep -q "last error: .*backing device has" || lab_fail "n$i's status does not say why"
    done
    ;;

  unrelated-data)
    lab_up 2
    for i in 1 2; do
      lab_adm "$i" attach r0
      lab_adm "$i" primary --force r0
      write_pattern "$i" 0 $MIB "0x1$i"
      lab_adm "$i" secondary r0
    done
    lab_adm 1 connect r0
    lab_adm 2 connect r0
    refused_by_one "unrelated"
    for i in 1 2; do
      pattern_file_ok "$(lab_node_disk "$i")" 0 $MIB "0x1$i" || lab_fail "n$i's data was changed by a refused peer"
      [ "$(lab_field "$i" disk)" = UpToDate ] || lab_fail "n$i's disk: $(lab_field "$i" disk)"
    done
    ;;

  *) lab_fail "unknown scenario $SCENARIO" ;;
esac
pass
