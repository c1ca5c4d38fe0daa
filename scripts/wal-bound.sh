#!/usr/bin/env bash
# The write-ahead log's bound at the worst write rate (issue 11). Builds the
# release progressd and, for each phase on a fresh server and database,
# runs `wrk -t2 -c8` for --seconds (60) of kept-alive updates of a
# 500-worker job's workers in turn, as fast as they are answered:
#   1. alone;
#   2. beside a reader polling the job's `status` JSON without pause;
#   3. beside a reader polling its `show` page without pause.
# The -wal file's size is sampled every 10 ms. Per phase it prints
# updates/s, wrk's latency p50 / p99 / max, answers other than 200, the
# largest log seen and the database's size, and the reader's requests/s.
#
# Then, when run as root and `mount -t tmpfs` works, the tiny disk,
# --disk-runs (3; 0 skips it) times: the server on a fresh 2 MiB tmpfs with a job of 8
# workers (a database of about 20 KiB, so whatever fills the disk is the
# log), full-speed updates for --disk-seconds (20); prints the 200s and
# 503s, the 200s in each second, and whether an update after the load is
# accepted. Whether a full disk recovers can depend on the moment it
# fills, hence the runs.
#
# Exits 1 when a log passes 8 MiB, an update in phases 1-3 gets anything
# but 200, or the tiny disk stops accepting updates. Stops everything it
# started on exit; talks only to 127.0.0.1.
#
#   scripts/wal-bound.sh [--seconds N] [--disk-seconds N] [--disk-runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

seconds=60
disk_seconds=20
disk_runs=3
usage="usage: scripts/wal-bound.sh [--seconds N (60)] [--disk-seconds N (20)] [--disk-runs N (3; 0: none)]"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds | --disk-seconds | --disk-runs)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "$1 needs a whole number" >&2; echo "$usage" >&2; exit 2; }
      [ "$1" = --disk-runs ] || [ "$2" != 0 ] || { echo "$1 must be at least 1" >&2; exit 2; }
      case "$1" in
        --seconds) seconds=$2 ;;
        --disk-seconds) disk_seconds=$2 ;;
        *) disk_runs=$2 ;;
      esac
      shift 2
      ;;
    *)
      echo "$usage" >&2
      exit 2
      ;;
  esac
done
needs wal-bound wrk "apt-get install wrk"
needs wal-bound python3

cargo build --release -q --bin progressd
binary=./target/release/progressd
lua=scripts/wal-bound.lua
jobid=wal
workers=500
threads=2
connections=8
# The bound the tests hold the log to.
limit=$((8 * 1024 * 1024))

work=$(mktemp -d)
tiny=
# shellcheck disable=SC2317 # called by the trap, which shellcheck 0.9 does not see
cleanup() {
  kill_started
  if [ -n "$tiny" ]; then
    umount "$tiny" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts progressd on database $1 with its log in $2; sets $server and $base.
start_server() {
  launch wal-bound "$2" --db "$1"
}

# Runs full-speed updates with the database $1, server log $2, for $3
# seconds, on job $4 of $5 workers; wrk's output goes to $6, the sampler's
# to $7.
load() {
  wrk -t"$threads" -c"$connections" -d"$3s" -s "$lua" "$base" -- update "$4" "$5" "$threads" >"$6" &
  local wrk_pid=$!
  started+=("$wrk_pid")
  sample_largest "$1-wal" "$wrk_pid" >"$7" &
  local sampler=$!
  started+=("$sampler")
  wait "$wrk_pid"
  wait "$sampler"
}

failed=0
printf '%-14s %9s %7s %7s %8s %8s %12s %8s %9s\n' \
  phase updates/s "p50 ms" "p99 ms" "max ms" non-200 "largest WAL" "DB" reader/s
for phase in alone status show; do
  dir="$work/$phase"
  mkdir "$dir"
  db="$dir/db.sqlite3"
  start_server "$db" "$dir/server.log"
  curl -sf -o /dev/null "$base/progress/create?jobid=$jobid&workers=$workers"
  reader=
  if [ "$phase" != alone ]; then
    wrk -t1 -c1 -d"${seconds}s" -s "$lua" "$base/progress/$phase?jobid=$jobid" -- read >"$dir/reader.out" &
    reader=$!
    started+=("$reader")
  fi
  load "$db" "$dir/server.log" "$seconds" "$jobid" "$workers" "$dir/wrk.out" "$dir/wal.out"
  reads=-
  if [ -n "$reader" ]; then
    wait "$reader"
    reads=$(awk -v n="$(field "$dir/reader.out" requests)" -v s="$(field "$dir/reader.out" seconds)" \
      'BEGIN { printf "%.0f", n / s }')
    reader_bad=$(($(field "$dir/reader.out" refused) + $(field "$dir/reader.out" other) + $(field "$dir/reader.out" errors)))
    if [ "$reader_bad" != 0 ]; then
      echo "wal-bound: FAILED: $reader_bad reads of $phase got no 200" >&2
      failed=1
    fi
  fi
  db_size=$(stat -c %s "$db")
  stop_server
  read -r largest samples <"$dir/wal.out"
  out="$dir/wrk.out"
  updates=$(field "$out" requests)
  rate=$(awk -v n="$updates" -v s="$(field "$out" seconds)" 'BEGIN { printf "%.0f", n / s }')
  bad=$(($(field "$out" refused) + $(field "$out" other) + $(field "$out" errors)))
  label=$phase
  [ "$phase" = alone ] || label="$phase reader"
  printf '%-14s %9s %7s %7s %8s %8s %8s MiB %4s MiB %9s\n' \
    "$label" "$rate" "$(field "$out" p50_ms)" "$(field "$out" p99_ms)" "$(field "$out" max_ms)" \
    "$bad" "$(mib "$largest")" "$(mib "$db_size")" "$reads"
  if [ "$bad" != 0 ] || [ "$(field "$out" ok)" = 0 ]; then
    echo "wal-bound: FAILED: $bad of $updates updates got no 200" >&2
    failed=1
  fi
  if [ "$largest" -ge "$limit" ]; then
    echo "wal-bound: FAILED: the log reached $largest bytes (bound $limit)" >&2
    failed=1
  fi
  grep -E '\[(WARN|ERROR)\]' "$dir/server.log" | sort | uniq -c | sort -rn | head -3 |
    sed "s/^/wal-bound: $phase: server log: /" || true
  rm -f "$dir/server.log"
done
echo "wal-bound: $seconds s a phase, wrk -t$threads -c$connections, log sampled every 10 ms ($samples samples in the last phase)"

# The tiny disk: a fresh 2 MiB tmpfs and server for each run.
if [ "$disk_runs" = 0 ]; then
  exit "$failed"
fi
if [ "$(id -u)" != 0 ]; then
  echo "wal-bound: tiny disk skipped: mounting a tmpfs needs root"
  exit "$failed"
fi
tiny="$work/tiny"
mkdir "$tiny"
stuck=0
for run in $(seq "$disk_runs"); do
  if ! mount -t tmpfs -o size=2m tmpfs "$tiny" 2>"$work/mount.err"; then
    echo "wal-bound: tiny disk skipped: mount -t tmpfs failed: $(cat "$work/mount.err")"
    tiny=
    exit "$failed"
  fi
  db="$tiny/db.sqlite3"
  # The server's log stays off the tiny disk.
  start_server "$db" "$work/tiny.log"
  curl -sf -o /dev/null "$base/progress/create?jobid=tiny&workers=8"
  # Let the checkpoint thread (every 250 ms) copy the new file's schema out
  # of the log first, as on a server that has been running.
  sleep 1
  before=$(stat -c %s "$db")
  load "$db" "$work/tiny.log" "$disk_seconds" tiny 8 "$work/tiny.out" "$work/tiny-wal.out"
  read -r largest _ <"$work/tiny-wal.out"
  out="$work/tiny.out"
  ok=$(field "$out" ok)
  refused=$(field "$out" refused)
  others=$(($(field "$out" other) + $(field "$out" errors)))
  per_second=$(field "$out" ok_per_second)
  # The 200s of each whole second (the first and last are partial): how
  # many seconds had none, and how many came in the last five.
  whole=$(tr ',' '\n' <<<"$per_second" | sed '1d;$d')
  silent=$(grep -cx 0 <<<"$whole" || true)
  last5=$(tail -5 <<<"$whole" | awk '{ n += $1 } END { print n + 0 }')
  after=$(curl -s -o /dev/null -w '%{http_code}' "$base/progress/update?jobid=tiny&workid=0&current=1&total=2")
  healthz=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
  failures=$(grep -c 'commit of .* failed' "$work/tiny.log" || true)
  db_size=$(stat -c %s "$db")
  # The database's pages counting the log's, against the pages in its
  # file: a checkpoint must grow the file by the difference.
  pages=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True).execute("PRAGMA page_count").fetchone()[0])' "$db" 2>/dev/null || echo "?")
  free=$(df -k --output=avail "$tiny" | tail -1 | tr -d ' ')
  stop_server
  umount "$tiny"
  echo "tiny disk $run: $disk_seconds s of updates: $ok answered 200, $refused answered 503, $others other ($failures failed commits); 200s per second: $per_second"
  echo "tiny disk $run: database file $((before / 1024)) → $((db_size / 1024)) KiB ($pages pages with the log's), largest log $(mib "$largest") MiB, $free KiB free at the end; whole seconds without a 200: $silent; after the load: an update $after, /healthz $healthz"
  if [ "$others" != 0 ] || [ "$last5" = 0 ] || [ "$after" != 200 ]; then
    echo "tiny disk $run: FAILED: updates stopped being accepted ($last5 answered 200 in the last 5 whole seconds, $after after the load)" >&2
    stuck=$((stuck + 1))
    failed=1
  fi
done
tiny=
echo "tiny disk: 2 MiB tmpfs, a job of 8 workers, wrk -t$threads -c$connections: updates still accepted at the end of $((disk_runs - stuck)) of $disk_runs runs"
exit "$failed"
