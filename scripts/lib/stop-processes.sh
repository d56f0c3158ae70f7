# Sourced by the demo, lab and benchmark scripts that start tandemd nodes.
# stop_processes PID...: SIGTERM each, give each up to 5 s to exit, then
# SIGKILL what is left. Never fails.
stop_processes() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
