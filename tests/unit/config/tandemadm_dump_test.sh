#!/bin/bash
# tandemadm_dump_test.sh TANDEMADM SOURCE_DIR
# End-to-end checks of `tandemadm dump`: the example loads, its dump loads
# back to the same dump, invalid files exit with 10 and name file:line.
set -uo pipefail
adm="$1" src="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# 1. The example, as host mail01.
"$adm" -c "$src/conf/mailstore.conf" --node mail01 dump >"$work/dump1" 2>"$work/err1"
rc=$?
[[ $rc -eq 0 ]] || fail "example: exit $rc: $(cat "$work/err1")"
grep -q '^resource mailstore {' "$work/dump1" || fail "example: no resource in dump"
grep -q '    on mail01 {  # this host' "$work/dump1" || fail "example: mail01 not marked"
grep -q 'become-primary-on both;' "$work/dump1" || fail "example: become-primary-on missing"
grep -q 'al-extents 1237;' "$work/dump1" || fail "example: default al-extents not explicit"

# 2. The dump parses back to the same configuration (same canonical text).
"$adm" -c "$work/dump1" --node mail01 dump >"$work/dump2" 2>"$work/err2" ||
  fail "dump does not load back: $(cat "$work/err2")"
diff -u "$work/dump1" "$work/dump2" >&2 || fail "dump of the dump differs"

# 3. One resource by name; an unknown one is a configuration error.
"$adm" -c "$src/conf/mailstore.conf" --node mail02 dump mailstore >"$work/one" ||
  fail "dump mailstore failed"
grep -q '    on mail02 {  # this host' "$work/one" || fail "mail02 not marked as this host"
"$adm" -c "$src/conf/mailstore.conf" --node mail01 dump nosuch 2>"$work/err3"
rc=$?
[[ $rc -eq 10 ]] || fail "unknown resource: exit $rc, want 10"
grep -q "no resource 'nosuch'" "$work/err3" || fail "unknown resource: $(cat "$work/err3")"

# 4. A host that is not in the resource.
"$adm" -c "$src/conf/mailstore.conf" --node mail09 dump mailstore 2>"$work/err4"
rc=$?
[[ $rc -eq 10 ]] || fail "foreign host: exit $rc, want 10"
grep -q "its hosts: mail01, mail02" "$work/err4" || fail "foreign host: $(cat "$work/err4")"

# 5. The incomplete scenario file: every problem reported with file:line.
cat >"$work/scenario.conf" <<'CONF'
global { usage-count yes; }
common { protocol C; }
resource r0 {
  net {
    after-sb-0pri discard-zero-changes;
    after-sb-1pri discard-secondary;
    after-sb-2pri disconnect;
  }
  syncer { verify-alg sha1; }
  startup { become-primary-on both; }
  on mail01 { device /dev/drbd0; disk /dev/vg01/mailmirror; meta-disk internal; }
  on mail02 { device /dev/drbd0; disk /dev/vg01/mailmirror; meta-disk internal; }
}
CONF
"$adm" -c "$work/scenario.conf" --node mail01 dump >"$work/out5" 2>"$work/err5"
rc=$?
[[ $rc -eq 10 ]] || fail "scenario: exit $rc, want 10"
[[ -s "$work/out5" ]] && fail "scenario: printed a dump although invalid"
grep -q "scenario.conf:11: resource r0, host mail01 has no address" "$work/err5" ||
  fail "scenario: mail01 address error missing: $(cat "$work/err5")"
grep -q "scenario.conf:12: resource r0, host mail02 has no address" "$work/err5" ||
  fail "scenario: mail02 address error missing"
grep -q "scenario.conf:10: .*allow-two-primaries is not set" "$work/err5" ||
  fail "scenario: become-primary-on error missing"

# 6. A missing file, and bad usage.
"$adm" -c "$work/none.conf" dump 2>"$work/err6"
rc=$?
[[ $rc -eq 10 ]] || fail "missing file: exit $rc, want 10"
grep -q "cannot read $work/none.conf" "$work/err6" || fail "missing file: $(cat "$work/err6")"
"$adm" -c "$src/conf/mailstore.conf" dump a b 2>/dev/null
rc=$?
[[ $rc -eq 2 ]] || fail "two arguments: exit $rc, want 2"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all tandemadm dump checks passed"
