#!/bin/bash
# The main job: sets up and builds tandem, then shows the effective
# configuration of the example two-node mail-store resource as host mail01.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
"$here/setup.sh"
build_dir="${BUILD_DIR:-$root/build}"
echo "=== tandemadm dump (example mail store, as host mail01)"
"$build_dir/tools/tandemadm/tandemadm" -c "$root/conf/mailstore.conf" --node mail01 dump
