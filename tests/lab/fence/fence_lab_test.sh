#!/bin/bash
# Lab test of fencing with real processes: fence_tandem_manual with
# `tandemadm fence-ack`, tandem-fence-peer driving fake agents (scripts that
# record what they were asked) through cluster.conf, the fencing history,
# and the agents' metadata against fence-agents' RELAX NG schema.
#
#   fence_lab_test.sh MANUAL_AGENT FENCE_PEER TANDEMADM [IPMI_AGENT]
set -uo pipefail

manual="$(realpath "$1")" peer="$(realpath "$2")" adm="$(realpath "$3")"
ipmi="${4:+$(realpath "$4")}"
work="$(mktemp -d /tmp/tandem-fence-lab.XXXXXX)"
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }
expect_rc() {  # expect_rc WANT GOT WHAT
  if [[ "$2" == "$1" ]]; then pass "$3 (exit $2)"; else fail "$3: exit $2, wanted $1"; fi
}
expect_grep() {  # expect_grep PATTERN FILE WHAT
  if grep -q -- "$1" "$2"; then pass "$3"; else
    fail "$3: '$1' not in $2:"
    sed 's/^/    /' "$2"
  fi
}
wait_for_file() {  # wait_for_file PATH SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    [[ -e "$1" ]] && return 0
    sleep 0.05
  done
  return 1
}

export TANDEM_FENCE_HISTORY="$work/state/fence-history"
export TANDEM_FENCE_RUN_DIR="$work/run"
agents="$work/agents"
mkdir -p "$agents" "$work/calls"
export TANDEM_FENCE_AGENT_PATH="$agents"

# A fake agent: records its stdin and its turn, exits with the code in
# $work/NAME.rc (0 when absent), or hangs when $work/NAME.hang exists.
make_fake_agent() {
  cat >"$agents/$1" <<SCRIPT
#!/bin/sh
name=\$(basename "\$0")
n=\$(ls "$work/calls" | wc -l)
cat > "$work/calls/\$(printf %03d \$n)-\$name"
echo "\$name" >> "$work/order"
[ -e "$work/\$name.hang" ] && exec sleep 600
[ -e "$work/\$name.slow" ] && sleep 1
echo "\$name was asked to fence" >&2
exit \$(cat "$work/\$name.rc" 2>/dev/null || echo 0)
SCRIPT
  chmod +x "$agents/$1"
}
for a in fence_fake_ipmi fence_fake_psu fence_fake_psu2; do make_fake_agent "$a"; done
ln -s "$manual" "$agents/fence_tandem_manual"

reset_calls() {
  rm -rf "$work/calls" "$work/order" "$work"/*.rc "$work"/*.hang "$work"/*.slow
  mkdir -p "$work/calls"
}

write_conf() {  # write_conf POST_FAIL_DELAY
  cat >"$work/cluster.conf" <<CONF
<?xml version="1.0"?>
<cluster name="mailcluster" config_version="1">
  <fence_daemon post_fail_delay="$1" post_join_delay="3"/>
  <cman two_node="1" expected_votes="1"/>
  <clusternodes>
    <clusternode name="mail01" nodeid="1">
      <fence>
        <method name="ipmi"><device name="ipmi01"/></method>
      </fence>
    </clusternode>
    <clusternode name="mail02" nodeid="2">
      <fence>
        <method name="ipmi"><device name="ipmi02" login="override"/></method>
        <method name="power">
          <device name="psu-a" port="7"/>
          <device name="psu-b" port="8"/>
        </method>
        <method name="manual"><device name="human" run_dir="$work/run"/></method>
      </fence>
    </clusternode>
  </clusternodes>
  <fencedevices>
    <fencedevice name="ipmi01" agent="fence_fake_ipmi" ipaddr="10.0.0.1" login="admin" passwd="ipmipass1"/>
    <fencedevice name="ipmi02" agent="fence_fake_ipmi" ipaddr="10.0.0.2" login="admin" passwd="ipmipass2" agent_timeout="2"/>
    <fencedevice name="psu-a" agent="fence_fake_psu" ipaddr="10.0.1.1" action="off"/>
    <fencedevice name="psu-b" agent="fence_fake_psu2" ipaddr="10.0.1.2" action="off"/>
    <fencedevice name="human" agent="fence_tandem_manual" ack_timeout="30"/>
  </fencedevices>
</cluster>
CONF
}
write_conf 0
export TANDEM_CLUSTER_CONF="$work/cluster.conf"

echo "=== metadata validates against fence-agents' schema"
rng=/usr/share/cluster/relaxng/metadata.rng
if [[ ! -r "$rng" ]]; then
  fail "fence-agents' $rng is missing: install fence-agents (scripts/packages.txt)"
else
  for agent in "$manual" $ipmi; do
    "$agent" -o metadata >"$work/meta.xml"
    expect_rc 0 $? "$(basename "$agent") -o metadata"
    if xmllint --noout --relaxng "$rng" "$work/meta.xml" 2>"$work/xmllint.err"; then
      pass "$(basename "$agent") metadata validates against $rng"
    else
      fail "$(basename "$agent") metadata does not validate: $(cat "$work/xmllint.err")"
    fi
  done
fi

if [[ -n "$ipmi" ]]; then
  echo "=== a password on the command line is hidden from ps and from messages"
  # Port 9 on loopback has no BMC: the agent retries for a while, which
  # gives time to look at its command line.
  "$ipmi" --ip 127.0.0.1 --ipport 9 --username admin --password Sekr1tPw0rd --lanplus -o status \
    >"$work/ipmi.out" 2>&1 &
  ipid=$!
  bg_pids+=("$ipid")
  sleep 0.5
  if [[ -r /proc/$ipid/cmdline ]]; then
    tr '\0' ' ' </proc/$ipid/cmdline >"$work/cmdline"
    if grep -q Sekr1tPw0rd "$work/cmdline"; then
      fail "password visible in /proc/PID/cmdline: $(cat "$work/cmdline")"
    else
      pass "password scrubbed from the process title"
    fi
  else
    fail "fence_tandem_ipmilan ended before its command line could be checked"
  fi
  wait "$ipid"
  expect_rc 1 $? "fence_tandem_ipmilan against a port without a BMC"
  if grep -q Sekr1tPw0rd "$work/ipmi.out"; then fail "password in agent output"; else pass "no password in agent output"; fi
fi

echo "=== fence_tandem_manual waits for tandemadm fence-ack"
printf '# from the cluster\nnodename=mail02\naction=off\nack_timeout=30\nunknown_key=1\n' |
  "$manual" >"$work/manual.out" 2>"$work/manual.err" &
mpid=$!
bg_pids+=("$mpid")
if wait_for_file "$work/run/mail02.request" 10; then pass "request recorded"; else fail "no request file"; fi
expect_grep "tandemadm fence-ack" "$work/manual.err" "agent tells how to acknowledge"
expect_grep "must be fenced BY HAND" "$work/manual.err" "agent says the node must be reset by hand"
"$adm" fence-ack mail01 </dev/null >"$work/ack.out" 2>&1
expect_rc 1 $? "fence-ack for a node without a pending request"
expect_grep "no manual fencing request is pending for node mail01" "$work/ack.out" "clear refusal"
"$adm" fence-ack mail02 </dev/null >"$work/ack.out" 2>&1
expect_rc 1 $? "fence-ack without a terminal and without --yes"
expect_grep "pass --yes" "$work/ack.out" "refusal explains --yes"
if kill -0 "$mpid" 2>/dev/null; then pass "agent still waiting after refused acks"; else fail "agent stopped early"; fi
if command -v script >/dev/null; then
  # A real terminal: answering something else than 'yes' does not acknowledge.
  echo no | script -qec "$adm fence-ack mail02" /dev/null >"$work/ack.out" 2>&1
  expect_rc 1 $? "fence-ack answered 'no' on a terminal"
  if kill -0 "$mpid" 2>/dev/null; then pass "agent still waiting after 'no'"; else fail "agent stopped after 'no'"; fi
  echo yes | script -qec "$adm fence-ack mail02" /dev/null >"$work/ack.out" 2>&1
  expect_rc 0 $? "fence-ack confirmed with 'yes' on a terminal"
  expect_grep "Type 'yes'" "$work/ack.out" "fence-ack asked for confirmation"
else
  "$adm" fence-ack --yes mail02 >"$work/ack.out" 2>&1
  expect_rc 0 $? "fence-ack --yes"
fi
wait "$mpid"
expect_rc 0 $? "fence_tandem_manual after the acknowledgement"
[[ ! -e "$work/run/mail02.request" && ! -e "$work/run/mail02.ack" ]] && pass "run files cleaned up" ||
  fail "run files left: $(ls "$work/run")"

echo "=== fence_tandem_manual called the way Pacemaker calls it"
printf 'action=reboot\nport=mail01\nnodename=mail01\npcmk_host_list=mail01\nplug=mail01\n' |
  "$manual" >"$work/manual.out" 2>&1 &
mpid=$!
bg_pids+=("$mpid")
if wait_for_file "$work/run/mail01.request" 10; then pass "reboot request recorded"; else fail "no request for mail01"; fi
"$adm" fence-ack --yes mail01 >/dev/null 2>&1
expect_rc 0 $? "fence-ack --yes mail01"
wait "$mpid"
expect_rc 0 $? "fence_tandem_manual reboot after acknowledgement"
expect_grep "Success: Rebooted" "$work/manual.out" "reboot reported"
expect_grep "reset acknowledged by" "$work/manual.out" "who acknowledged is logged"

echo "=== fence_tandem_manual times out without an acknowledgement"
start=$SECONDS
"$manual" --plug mail02 -o off --ack-timeout 1 --run-dir "$work/run2" >"$work/manual.out" 2>&1
expect_rc 1 $? "fence_tandem_manual without acknowledgement"
expect_grep "NOT fenced" "$work/manual.out" "timeout message"
((SECONDS - start < 10)) && pass "timed out promptly" || fail "took $((SECONDS - start)) s"
[[ ! -e "$work/run2/mail02.request" ]] && pass "request withdrawn after timeout" || fail "request left"
"$adm" fence-ack --yes --run-dir "$work/run2" mail02 >/dev/null 2>&1
expect_rc 1 $? "late fence-ack after the agent gave up"

echo "=== fence_tandem_manual status/monitor/validate-all"
"$manual" -o monitor --run-dir "$work/run"
expect_rc 0 $? "monitor without a plug (as Pacemaker runs it)"
"$manual" -n mail02 -o validate-all --run-dir "$work/run" >/dev/null
expect_rc 0 $? "validate-all"
"$manual" -n ../x -o validate-all --run-dir "$work/run" >"$work/manual.out" 2>&1
expect_rc 1 $? "validate-all with a node name that is not a file name"
"$manual" -o off --run-dir "$work/run" >"$work/manual.out" 2>&1
expect_rc 1 $? "off without a node"
expect_grep "plug" "$work/manual.out" "missing plug named"

echo "=== tandem-fence-peer: first method succeeds"
reset_calls
DRBD_RESOURCE=r0 DRBD_PEER=mail02 "$peer" >"$work/peer.out" 2>&1
expect_rc 7 $? "fence-peer with a working IPMI device"
stdin_file="$(ls "$work/calls" | head -1)"
for line in ipaddr=10.0.0.2 login=override passwd=ipmipass2 nodename=mail02 action=reboot; do
  expect_grep "^$line\$" "$work/calls/$stdin_file" "agent stdin has $line"
done
if grep -q agent_timeout "$work/calls/$stdin_file"; then fail "agent_timeout passed to agent"; else pass "agent_timeout not passed"; fi
[[ "$(cat "$work/order")" == "fence_fake_ipmi" ]] && pass "only method 1 ran" || fail "ran: $(cat "$work/order")"

echo "=== two resources losing the same peer at once fence it once"
reset_calls
touch "$work/fence_fake_ipmi.slow"
DRBD_RESOURCE=r0 DRBD_PEER=mail02 "$peer" >"$work/peer0.out" 2>&1 &
p0=$!
DRBD_RESOURCE=r1 DRBD_PEER=mail02 "$peer" >"$work/peer1.out" 2>&1 &
p1=$!
bg_pids+=("$p0" "$p1")
wait "$p0"
expect_rc 7 $? "fence-peer for r0"
wait "$p1"
expect_rc 7 $? "fence-peer for r1"
[[ "$(wc -l <"$work/order")" == 1 ]] && pass "the peer was fenced once" ||
  fail "agents ran $(wc -l <"$work/order") times"
cat "$work/peer0.out" "$work/peer1.out" >"$work/peer.out"
expect_grep "while this request waited; not fencing it again" "$work/peer.out" "second request reports the first one's fencing"

echo "=== tandem-fence-peer: method 1 fails, all devices of method 2 run"
reset_calls
echo 1 >"$work/fence_fake_ipmi.rc"
DRBD_RESOURCE=r0 DRBD_PEER=mail02.example.com "$peer" >"$work/peer.out" 2>&1
expect_rc 7 $? "fence-peer falling back to the power method"
[[ "$(tr '\n' ' ' <"$work/order")" == "fence_fake_ipmi fence_fake_psu fence_fake_psu2 " ]] &&
  pass "methods in order, both devices of method 2" || fail "order: $(tr '\n' ' ' <"$work/order")"
expect_grep "^action=off\$" "$work/calls/$(ls "$work/calls" | sed -n 2p)" "device action kept"
expect_grep "^port=7\$" "$work/calls/$(ls "$work/calls" | sed -n 2p)" "device port passed"

echo "=== tandem-fence-peer: a device timing out fails its method"
reset_calls
touch "$work/fence_fake_ipmi.hang"
start=$SECONDS
DRBD_PEER=mail02 "$peer" >"$work/peer.out" 2>&1
expect_rc 7 $? "fence-peer after the IPMI agent hung"
((SECONDS - start < 15)) && pass "hung agent killed after agent_timeout" || fail "took $((SECONDS - start)) s"
"$adm" fence-history mail02 >"$work/hist.txt"
expect_grep "timed out\|killed after 2 s" "$work/hist.txt" "history records the timeout"

echo "=== tandem-fence-peer: second device of method 2 fails, manual fallback with fence-ack"
reset_calls
echo 1 >"$work/fence_fake_ipmi.rc"
echo 1 >"$work/fence_fake_psu2.rc"
DRBD_PEER_NODE_ID=1 DRBD_NODE_ID_0=mail01 DRBD_NODE_ID_1=mail02 DRBD_RESOURCE=r0 \
  "$peer" >"$work/peer.out" 2>&1 &
ppid=$!
bg_pids+=("$ppid")
if wait_for_file "$work/run/mail02.request" 15; then pass "manual request from fence-peer"; else
  fail "no manual request"
  cat "$work/peer.out"
fi
sleep 0.3
expect_grep "tandemadm fence-ack" "$work/peer.out" "fence-peer relays the manual instructions while waiting"
"$adm" fence-ack --yes --run-dir "$work/run" mail02 >/dev/null 2>&1
expect_rc 0 $? "fence-ack of the fence-peer's manual method"
wait "$ppid"
expect_rc 7 $? "fence-peer after manual acknowledgement"
[[ "$(tr '\n' ' ' <"$work/order")" == "fence_fake_ipmi fence_fake_psu fence_fake_psu2 " ]] &&
  pass "manual ran after both earlier methods failed" || fail "order: $(tr '\n' ' ' <"$work/order")"

echo "=== tandem-fence-peer: every method fails"
reset_calls
echo 1 >"$work/fence_fake_ipmi.rc"
echo 1 >"$work/fence_fake_psu.rc"
sed -i 's/ack_timeout="30"/ack_timeout="1"/' "$work/cluster.conf"
DRBD_PEER=mail02 "$peer" >"$work/peer.out" 2>&1
expect_rc 1 $? "fence-peer when fencing failed (I/O stays frozen)"
expect_grep "fencing node mail02 failed" "$work/peer.out" "failure explained"
if grep -q ipmipass2 "$work/peer.out"; then fail "password in fence-peer output"; else pass "no password in output"; fi
DRBD_PEER=mail02 "$peer" --failure-exit 5 >/dev/null 2>&1
expect_rc 5 $? "fence-peer --failure-exit 5"

echo "=== tandem-fence-peer: post_fail_delay, unknown peer, no peer"
reset_calls
write_conf 2
start=$SECONDS
DRBD_PEER=mail01 "$peer" >/dev/null 2>&1
expect_rc 7 $? "fence-peer with post_fail_delay"
((SECONDS - start >= 2)) && pass "waited post_fail_delay" || fail "did not wait post_fail_delay"
DRBD_PEER=mail09 "$peer" >"$work/peer.out" 2>&1
expect_rc 1 $? "fence-peer for a peer not in cluster.conf"
expect_grep "mail09 is not a node" "$work/peer.out" "unknown peer named"
env -u DRBD_PEER "$peer" >"$work/peer.out" 2>&1
expect_rc 1 $? "fence-peer without DRBD environment"

echo "=== tandemadm fence and fence-history"
write_conf 0
reset_calls
"$adm" fence --action off mail01 >"$work/fence.out" 2>&1
expect_rc 0 $? "tandemadm fence mail01"
expect_grep "node mail01 was fenced by method ipmi" "$work/fence.out" "tandemadm fence reports the method"
expect_grep "^action=off\$" "$work/calls/$(ls "$work/calls" | head -1)" "--action off passed"
echo 1 >"$work/fence_fake_ipmi.rc"
"$adm" fence mail01 >"$work/fence.out" 2>&1
expect_rc 1 $? "tandemadm fence mail01 with a failing device"
"$adm" fence-history --json mail01 >"$work/hist.json"
expect_rc 0 $? "fence-history --json"
if python3 -c 'import json,sys; h=json.load(open(sys.argv[1])); assert [e["success"] for e in h][-2:]==[True,False], h; assert all(e["victim"]=="mail01" for e in h)' "$work/hist.json"; then
  pass "history JSON lists mail01's success then failure"
else
  fail "history JSON: $(cat "$work/hist.json")"
fi
"$adm" fence-history >"$work/hist.txt"
expect_grep "mail02" "$work/hist.txt" "full history shows mail02 too"
if grep -q "ipmipass" "$work/hist.txt" "$work/hist.json" "$TANDEM_FENCE_HISTORY"; then
  fail "a password reached the history"
else
  pass "no password in the history"
fi
printf '<cluster name="c">\n<clusternodes>\n<clusternode name="a"/>\n</clusternodes></cluster>\n' >"$work/bad.conf"
"$adm" fence --cluster-conf "$work/bad.conf" a >"$work/fence.out" 2>&1
expect_rc 10 $? "tandemadm fence with a broken cluster.conf"
expect_grep "bad.conf:3: <clusternode>" "$work/fence.out" "error names file, line and element"

echo "fence lab: $checks checks, $failures failed"
((failures == 0))
