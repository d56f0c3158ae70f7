#!/bin/bash
# The main job: sets up and builds tandem, shows the effective
# configuration of the example mail-store resource, then runs a live
# two-node mirror on this machine (scripts/demo-mirror.sh): two tandemd
# processes on 127.0.0.1, initial full sync, data written through NBD, and
# identical checksums of both backing devices.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
"$here/setup.sh"
build_dir="${BUILD_DIR:-$root/build}"
echo "=== tandemadm dump (example mail store, as host mail01)"
"$build_dir/tools/tandemadm/tandemadm" -c "$root/conf/mailstore.conf" --node mail01 dump
echo
echo "=== live mirror: two nodes on this machine"
BUILD_DIR="$build_dir" "$here/demo-mirror.sh"
