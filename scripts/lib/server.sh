# shellcheck shell=bash
# shellcheck disable=SC2154 # $binary is the caller's
# Starting and stopping progressd for the measuring scripts (wal-bound.sh,
# slices.sh, backup-stall.sh), and reading what they measure (wrk's result
# line, the -wal's size, the machine's CPU and disk pressure). Source it;
# the caller sets $binary, adds every process it starts to `started`, and
# calls kill_started from its EXIT trap.

# whole_number OPTION VALUE: exits 2 unless VALUE, given to OPTION, is a
# whole number from 1.
whole_number() {
  [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "$1 needs a whole number from 1" >&2; exit 2; }
}

# needs NAME COMMAND [HINT]: exits 2, NAME saying it needs COMMAND (and
# how to get it), unless COMMAND is installed.
needs() {
  command -v "$2" >/dev/null || { echo "$1: needs $2${3:+ ($3)}" >&2; exit 2; }
}

# only_phases NAME USAGE PHASES KNOWN...: exits 2, NAME saying which and
# then USAGE, unless each of the space-separated PHASES is one of KNOWN.
only_phases() {
  local name=$1 usage=$2 given=$3 phase
  shift 3
  for phase in $given; do
    [[ " $* " == *" $phase "* ]] || { echo "$name: unknown phase $phase" >&2; echo "$usage" >&2; exit 2; }
  done
}

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

# Prints the largest size of file $1 seen while process $2 runs, sampled
# every 10 ms, and the number of samples; given a process $3 (the server),
# also the largest resident set size it had meanwhile, in bytes. Run in
# the background, it is that process (exec), so the trap's kill reaches it.
sample_largest() {
  exec python3 - "$@" <<'PY'
import os, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
server = sys.argv[3] if len(sys.argv) > 3 else None
largest = samples = rss = 0
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    try:
        largest = max(largest, os.stat(path).st_size)
    except FileNotFoundError:
        pass
    if server:
        try:
            with open(f"/proc/{server}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        rss = max(rss, int(line.split()[1]) * 1024)
        except FileNotFoundError:
            pass
    samples += 1
    time.sleep(0.01)
print(largest, samples, *([rss] if server else []))
PY
}

# The value of key $2 in wrk's "result k=v ..." line in file $1.
field() {
  grep '^result ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Bytes $1 in MiB, two decimals.
mib() {
  awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'
}

# The microseconds some task has waited for resource $1 (cpu, io) since
# boot, or nothing where the kernel does not say.
pressure() {
  sed -n 's/^some .*total=//p' "/proc/pressure/$1" 2>/dev/null || true
}

# The share of $3 seconds that pressure went from $1 to $2, in percent.
share() {
  if [ -n "$1" ] && [ -n "$2" ]; then
    awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { printf "%.0f%%", (b - a) / 1e4 / s }'
  else
    echo -
  fi
}

# make_work_dir: sets $work to a new temporary directory, and on exit (or
# Ctrl-C) kills every process in `started` and deletes the directory.
make_work_dir() {
  work=$(mktemp -d)
  trap 'kill_started; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
}
