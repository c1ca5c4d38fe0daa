#!/usr/bin/env bash
# Measures what refused updates cost everyone else: one kept-alive client
# updates a small job alone, then beside 8 connections sending updates that
# are refused (new workers for a 100,000-worker job at its cap, and first
# reports without a total), right after a restart, so the writer knows no
# job yet. Prints both clients' rates and the small job's latency (p50, p99,
# max) in each phase. Builds the release binary; needs wrk. Options:
# --seconds N (10 per phase), --binary PATH (another build, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
binary=./target/release/progressd
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ "$binary" != ./target/release/progressd ] || cargo build --release -q --bin progressd
work=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
base=http://127.0.0.1:$port

serve() {
  "$binary" --listen "127.0.0.1:$port" --db "$work/db.sqlite3" --log-level warn &
  pid=$!
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}

# New workids for the full job (413), and first reports without a total
# (400), in turn.
cat >"$work/refused.lua" <<'LUA'
n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("GET", "/progress/update?jobid=big&workid=new" .. n .. "&current=1&total=2")
  end
  return wrk.format("GET", "/progress/update?jobid=big&workid=nototal" .. n .. "&current=1")
end
LUA
cat >"$work/small.lua" <<'LUA'
n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/progress/update?jobid=small&workid=w" .. (n % 10) .. "&current=" .. n .. "&total=1000000000")
end
LUA

serve
curl -sf "$base/progress/create?jobid=big&workers=100000" >/dev/null
curl -sf "$base/progress/update?jobid=small&workid=w0&current=0&total=1000000000" >/dev/null
# After a restart the writer has no job in memory: the case that counted.
kill "$pid"; wait "$pid" 2>/dev/null || true
serve

small() {
  wrk -t1 -c1 -d"${seconds}s" --latency -s "$work/small.lua" "$base" |
    awk '/Requests\/sec/ {rate=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Latency/ && !max {max=$4}
         END {printf "small job: %s updates/s, p50 %s, p99 %s, max %s\n", rate, p50, p99, max}'
}

echo "alone:"
small
echo "beside 8 connections of refused updates:"
wrk -t1 -c8 -d"${seconds}s" -s "$work/refused.lua" "$base" >"$work/refused.out" &
refusers=$!
small
wait "$refusers"
awk '/Requests\/sec/ {printf "refused updates: %s/s\n", $2}' "$work/refused.out"
status=$(curl -s -o /dev/null -w '%{http_code}' "$base/progress/update?jobid=big&workid=late&current=1&total=2")
echo "a new worker for the full job now answers $status"
