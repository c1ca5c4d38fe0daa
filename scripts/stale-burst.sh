#!/usr/bin/env bash
# 100,000 workers of a job that asked for stale notices go quiet together
# (issue 15): the update latency of another job around the moment they all
# turn stale, next to the same run with a job that did not ask. Builds the
# release progressd; for each run starts it on a fresh temp database
# (127.0.0.1, --expire-interval 5, a --notify-url where nobody listens, so
# the notices wait in the database), creates a job of --workers (100,000)
# with notify=1 (or notify=0 for the baseline), reports every worker once in
# batches of 1,000, and then for 150 s sends single updates of another job
# with curl, 50 a second, timing each (curl's time_total). The workers turn
# stale 120 s after their report and the expiry thread looks within 5 s.
# Prints per run: updates, p50 / p99 / max latency in ms, the server's
# peak RSS, and the stale notices waiting (rows, and the workers they count).
# Stops everything it started on exit.
#
#   scripts/stale-burst.sh [--workers N] [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

workers=100000
binary=./target/release/progressd
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    *) echo "usage: scripts/stale-burst.sh [--workers N (100000)] [--binary PATH]" >&2; exit 2 ;;
  esac
done
[ "$binary" = ./target/release/progressd ] && cargo build --release --quiet
needs stale-burst sqlite3 "apt-get install sqlite3"

make_work_dir

one_run() {
  local notify=$1 db="$work/run$1.sqlite3" latencies="$work/lat$1.txt"
  launch "stale-burst" "$work/server$1.log" --db "$db" --expire-interval 5 \
    --notify-url http://127.0.0.1:9/nobody
  curl -sf "$base/progress/create?jobid=big&workers=$workers&notify=$notify" >/dev/null
  local first
  for ((first = 0; first < workers; first += 1000)); do
    python3 -c "
import sys
first, last = int(sys.argv[1]), min(int(sys.argv[1]) + 1000, int(sys.argv[2]))
sys.stdout.write(''.join(f'workid={w}&current=1&total=10\n' for w in range(first, last)))
" "$first" "$workers" | curl -sf --data-binary @- "$base/progress/update?jobid=big" >/dev/null
  done
  local start=$SECONDS n=0
  : >"$latencies"
  while ((SECONDS - start < 150)); do
    n=$((n + 1))
    curl -sf -o /dev/null -w '%{time_total}\n' \
      "$base/progress/update?jobid=steady&workid=1&current=$n&total=1e9" >>"$latencies"
    sleep 0.02
  done
  local peak
  peak=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server/status")
  local waiting
  waiting=$(sqlite3 "file:$db?mode=ro" \
    "SELECT COUNT(*) || ' rows, ' || COALESCE(SUM(more) + COUNT(*), 0) || ' workers'
       FROM notices WHERE kind = 'stale'")
  sort -n "$latencies" | awk -v notify="$notify" -v peak="$peak" -v waiting="$waiting" '
    { a[NR] = $1 * 1000 }
    END {
      printf "notify=%s  %5d updates  p50 %.2f  p99 %.2f  max %.1f ms  peak RSS %s MB  stale notices: %s\n",
        notify, NR, a[int(NR * 0.5)], a[int(NR * 0.99)], a[NR], peak, waiting
    }'
  stop_server
}

echo "$workers workers go stale together ~120 s into 150 s of updates of another job"
one_run 0
one_run 1
