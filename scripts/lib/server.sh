# shellcheck shell=bash
# shellcheck disable=SC2154 # $binary is the caller's
# Starting and stopping progressd for the measuring scripts (wal-bound.sh,
# slices.sh). Source it; the caller sets $binary, adds every process it
# starts to `started`, and calls kill_started from its EXIT trap.

# Processes the script started (servers, wrk, samplers), killed on exit.
started=()

# Kills every process in `started` and waits for them.
kill_started() {
  for pid in "${started[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}

# launch NAME LOG [OPTION...]: starts $binary on a free port of 127.0.0.1
# with OPTIONs, its log in LOG; sets $server and $base once it listens, or
# exits 2 saying why (NAME first).
launch() {
  local name=$1 log=$2
  shift 2
  "$binary" --listen 127.0.0.1:0 "$@" 2>"$log" &
  server=$!
  started+=("$server")
  base=
  for _ in $(seq 100); do
    base=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$log" | grep -o 'http://.*' || true)
    [ -n "$base" ] && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name: progressd did not start:" >&2
  cat "$log" >&2
  exit 2
}

# Stops the server gracefully (it empties the log) and waits for it.
stop_server() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
