#!/bin/bash
# tandemd's command line: bad values are refused with a clear message and
# exit code 2 before anything starts.
#   tandemd_cli.sh TANDEMD
set -u
tandemd=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
refused() {
  local want=$1; shift
  local out rc
  out=$("$tandemd" -c /nonexistent/tandem.conf "$@" 2>&1)
  rc=$?
  [ "$rc" -eq 2 ] || fail "tandemd $*: exit code $rc, want 2 (output: $out)"
  grep -qF -- "$want" <<< "$out" || fail "tandemd $*: output lacks '$want': $out"
  echo "ok: tandemd $* -> $out"
}
refused "--busy-poll 20000: expected microseconds from 0 to 10000" --busy-poll 20000
refused "--busy-poll -1: expected microseconds" --busy-poll -1
refused "--busy-poll 1e3: expected microseconds" --busy-poll 1e3
refused "option --busy-poll needs a number of microseconds" --busy-poll
refused "unknown argument --bogus" --bogus
"$tandemd" --help | grep -q -- "--busy-poll USEC" || fail "--help does not list --busy-poll"
# A valid value passes the parser: the missing configuration is the error.
out=$("$tandemd" --busy-poll 0 -f -c /nonexistent/tandem.conf 2>&1)
[ $? -ne 2 ] || fail "--busy-poll 0 was refused: $out"
grep -q "/nonexistent/tandem.conf" <<< "$out" || fail "--busy-poll 0: unexpected output: $out"
echo "PASS"
