#!/bin/bash
# ipmi_sim_test.sh AGENT
#
# Runs fence_tandem_ipmilan against OpenIPMI's ipmi_sim, a real IPMI 2.0
# BMC emulator, on a free UDP port of 127.0.0.1, and cross-checks every
# power change with ipmitool -I lanplus. The simulated chassis is a shell
# script that keeps the power state in a file and appends every change to
# a history file, so the test sees what the BMC really did.
set -uo pipefail

agent="$1"
for tool in ipmi_sim ipmitool python3; do
  command -v "$tool" >/dev/null || {
    echo "ipmi_sim_test: $tool not found; install it (scripts/packages.txt lists openipmi and ipmitool)" >&2
    exit 1
  }
done

work="$(mktemp -d /tmp/tandem-ipmi-lab.XXXXXX)"
sim_pid=""
cleanup() {
  if [[ -n "$sim_pid" ]]; then
    kill "$sim_pid" 2>/dev/null
    wait "$sim_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_udp_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port="$(free_udp_port)"
closed_port="$(free_udp_port)"

mkdir -p "$work/state"
echo 1 >"$work/power"
: >"$work/history"
cat >"$work/chassis.sh" <<SCRIPT
#!/bin/sh
# ipmi_sim calls: chassis.sh get power | chassis.sh set power 0|1
if [ "\$1" = get ] && [ "\$2" = power ]; then
  echo "power:\$(cat '$work/power')"
elif [ "\$1" = set ] && [ "\$2" = power ]; then
  echo "\$3" >'$work/power'
  echo "\$3" >>'$work/history'
fi
SCRIPT
chmod +x "$work/chassis.sh"
cat >"$work/bmc.emu" <<EMU
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EMU
cat >"$work/lan.conf" <<CONF
name "tandem-lab"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback none md5 straight
    allowed_auths_user none md5 straight
    allowed_auths_operator none md5 straight
    allowed_auths_admin none md5 straight
    guid a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
  endlan
  chassis_control "$work/chassis.sh"
  user 2 true "admin" "s3cret-pw" admin 10 none md5 straight
  user 3 true "viewer" "v1ewer-pw" user 10 none md5 straight
CONF

ipmi_sim -c "$work/lan.conf" -f "$work/bmc.emu" -s "$work/state" -n >"$work/ipmi_sim.log" 2>&1 &
sim_pid=$!

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

# run NAME EXPECTED_RC ARGS...: runs the agent (bounded), keeps its output in $out.
out=""
run() {
  local name="$1" expected="$2"
  shift 2
  out="$(timeout 60 "$agent" --ip 127.0.0.1 --ipport "$port" "$@" 2>&1)"
  local rc=$?
  if [[ $rc -ne $expected ]]; then
    fail "$name: exit $rc, expected $expected; output: $out"
    return 1
  fi
  pass "$name (exit $rc)"
  return 0
}
admin=(--username admin --password s3cret-pw --power-wait 0)
ipmitool_admin() {
  timeout 30 ipmitool -I lanplus -H 127.0.0.1 -p "$port" -U admin -P s3cret-pw -C 3 -R 2 -N 1 "$@" 2>&1
}
power_file() { cat "$work/power"; }
history_line() { tr '\n' ' ' <"$work/history" | sed 's/ $//'; }
expect_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1: '$2'"; else fail "$1: got '$2', expected '$3'"; fi
}
expect_contains() {
  if [[ "$2" == *"$3"* ]]; then pass "$1 mentions '$3'"; else fail "$1: '$2' lacks '$3'"; fi
}
expect_lacks() {
  if [[ "$2" != *"$3"* ]]; then pass "$1 does not show '$3'"; else fail "$1: '$2' shows '$3'"; fi
}

# Wait for the simulator to answer (it needs a moment to bind).
ready=0
for _ in $(seq 1 50); do
  if ! kill -0 "$sim_pid" 2>/dev/null; then break; fi
  if ipmitool_admin chassis power status >/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if [[ $ready -ne 1 ]]; then
  echo "ipmi_sim did not come up on 127.0.0.1:$port; its log:" >&2
  cat "$work/ipmi_sim.log" >&2
  exit 1
fi

# --- status with every cipher suite and IPMI 1.5 ---------------------------
for suite in 0 1 2 3; do
  run "status, cipher suite $suite" 0 "${admin[@]}" --action status --cipher "$suite" &&
    expect_eq "status output (suite $suite)" "$out" "Status: ON"
done
run "status, IPMI 1.5 MD5" 0 "${admin[@]}" --action status --lanplus=0 --auth md5 &&
  expect_eq "status output (1.5 MD5)" "$out" "Status: ON"
run "status, IPMI 1.5 no authentication" 0 "${admin[@]}" --action status --lanplus=0 --auth none
run "status, IPMI 1.5 straight password" 0 "${admin[@]}" --action status --lanplus=0 --auth password

# --- the fence-agents stdin protocol ----------------------------------------
out="$(printf '# fenced\nipaddr=127.0.0.1\nipport=%s\nlogin=admin\npasswd=s3cret-pw\nlanplus=1\naction=status\nunknown_key=x\n' \
  "$port" | timeout 60 "$agent" 2>&1)"
rc=$?
expect_eq "stdin options: exit code" "$rc" "0"
expect_eq "stdin options: output" "$out" "Status: ON"

# --- off / status / on -------------------------------------------------------
run "off" 0 "${admin[@]}" --action off
expect_eq "chassis power after off" "$(power_file)" "0"
run "status after off" 2 "${admin[@]}" --action status && expect_eq "status output" "$out" "Status: OFF"
expect_contains "ipmitool after our off" "$(ipmitool_admin chassis power status)" "Chassis Power is off"
run "on" 0 "${admin[@]}" --action on
expect_eq "chassis power after on" "$(power_file)" "1"
expect_contains "ipmitool after our on" "$(ipmitool_admin chassis power status)" "Chassis Power is on"

# --- reboot: off, then on -----------------------------------------------------
: >"$work/history"
run "reboot (off, on)" 0 "${admin[@]}" --action reboot
expect_eq "history of reboot" "$(history_line)" "0 1"
expect_eq "chassis power after reboot" "$(power_file)" "1"

: >"$work/history"
run "reboot --method cycle" 0 "${admin[@]}" --action reboot --method cycle
# A power cycle succeeds once the BMC accepted it (as with fence-agents);
# ipmi_sim then switches off and, a moment later, on again.
for _ in $(seq 1 50); do
  [[ "$(history_line)" == "0 1" ]] && break
  sleep 0.1
done
expect_eq "history of power cycle" "$(history_line)" "0 1"

: >"$work/history"
run "reboot over IPMI 1.5 MD5" 0 "${admin[@]}" --action reboot --lanplus=0
expect_eq "history of 1.5 reboot" "$(history_line)" "0 1"
run "off over IPMI 1.5 MD5" 0 "${admin[@]}" --action off --lanplus=0
expect_contains "ipmitool -I lan after our 1.5 off" \
  "$(timeout 30 ipmitool -I lan -H 127.0.0.1 -p "$port" -U admin -P s3cret-pw -A MD5 chassis power status 2>&1)" \
  "Chassis Power is off"
run "on over IPMI 1.5 MD5" 0 "${admin[@]}" --action on --lanplus=0
expect_eq "chassis power after 1.5 on" "$(power_file)" "1"

# The default power_wait (2 s) path, as a cluster would run it.
run "off with the default power wait" 0 --username admin --password s3cret-pw --action off
run "on with the default power wait" 0 --username admin --password s3cret-pw --action on

# --- cross-check: changes made by ipmitool are seen by the agent ------------
ipmitool_admin chassis power off >/dev/null
run "status after ipmitool off" 2 "${admin[@]}" --action status
expect_eq "chassis power after ipmitool off" "$(power_file)" "0"
ipmitool_admin chassis power on >/dev/null
run "status after ipmitool on" 0 "${admin[@]}" --action status
expect_eq "ipmitool and agent agree" "$(ipmitool_admin chassis power status)" "Chassis Power is on"

# --- wrong password ------------------------------------------------------------
: >"$work/history"
run "wrong password" 1 --username admin --password Wr0ngGuess --action off --power-timeout 3 \
  --verbose --debug-file "$work/agent-debug.log"
expect_contains "wrong password message" "$out" "authentication failed"
expect_lacks "wrong password message" "$out" "Wr0ngGuess"
expect_lacks "wrong password message" "$out" "s3cret-pw"
expect_contains "debug log" "$(cat "$work/agent-debug.log")" "authentication failed"
expect_lacks "debug log" "$(cat "$work/agent-debug.log")" "Wr0ngGuess"
run "wrong password, IPMI 1.5" 1 --username admin --password Wr0ngGuess --action status \
  --lanplus=0 --ipmi-timeout 0.3 --ipmi-retries 2
expect_lacks "1.5 wrong password message" "$out" "Wr0ngGuess"
expect_contains "1.5 wrong password message" "$out" "wrong password?"
run "unknown user" 1 --username nobody --password Wr0ngGuess --action status
expect_contains "unknown user message" "$out" "unauthorized name"
expect_eq "no power change after failed logins" "$(history_line)" ""

# --- privilege -----------------------------------------------------------------
run "user-level account can read status" 0 --username viewer --password v1ewer-pw \
  --privlvl user --action status
run "user-level account cannot switch power" 1 --username viewer --password v1ewer-pw \
  --privlvl user --action off --power-timeout 2
expect_contains "insufficient privilege message" "$out" "insufficient privilege"
run "user-level account refused operator (IPMI 1.5)" 1 --username viewer --password v1ewer-pw \
  --privlvl operator --action off --lanplus=0 --power-timeout 2
expect_contains "privilege limit message" "$out" "exceeds the user's limit"
expect_eq "power untouched by refused requests" "$(history_line)" ""
expect_eq "chassis power still on" "$(power_file)" "1"

# --- unreachable BMC -------------------------------------------------------------
start=$(date +%s%N)
out="$(timeout 60 "$agent" --ip 127.0.0.1 --ipport "$closed_port" --username admin \
  --password s3cret-pw --action status --ipmi-timeout 0.5 --ipmi-retries 3 2>&1)"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "unreachable BMC: exit code" "$rc" "1"
expect_contains "unreachable BMC message" "$out" "no reply"
expect_contains "unreachable BMC message" "$out" "port unreachable"
if ((elapsed_ms >= 1300 && elapsed_ms < 10000)); then
  pass "unreachable BMC gave up after ${elapsed_ms} ms (3 attempts x 0.5 s)"
else
  fail "unreachable BMC gave up after ${elapsed_ms} ms, expected about 1500"
fi

# --- validate-all and metadata -------------------------------------------------
run "validate-all" 0 "${admin[@]}" --action validate-all
out="$(timeout 10 "$agent" --action metadata 2>&1)"
expect_contains "metadata" "$out" '<resource-agent name="fence_tandem_ipmilan"'
expect_contains "metadata" "$out" 'parameter name="cipher"'

if ! kill -0 "$sim_pid" 2>/dev/null; then
  fail "ipmi_sim died during the test"
  cat "$work/ipmi_sim.log" >&2
fi
if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all IPMI lab checks passed"
