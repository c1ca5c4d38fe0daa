#!/usr/bin/env bash
# What a backup of a live database costs the updates (issue 16). Builds the
# release progressd, starts it on a fresh temp database (127.0.0.1), makes
# the database big: --jobs (10) jobs of 100,000 workers each (rosters, so
# 1,000,000 worker rows by default), then runs `wrk -t1 -c4` kept-alive
# updates of a small job's 100 workers at full speed (scripts/wal-bound.lua)
# for --seconds (20) in each phase:
#   none     nothing else happens;
#   backup   `progressd backup --force` copies the database again and again,
#            back to back, for the whole phase (the online backup API, one
#            step: one read transaction while it copies);
#   scheduled  the server, restarted with `--backup-dir DIR --backup-every
#            0.1`, copies it itself, 0.1 s after each copy ends (its writer
#            copies a step of pages at a time between batches, paced, with
#            no long read); its log tells each copy's time;
#   vacuum   the same with `sqlite3 … "VACUUM INTO …"` on a read-only
#            connection, the alternative (skipped without sqlite3);
#   hold     no copy at all: python3's sqlite3 holds a read transaction
#            open for 0.9 s, again and again, as a copy's read would (not
#            in the default phases: it tells what a long read alone costs).
# Prints per phase updates/s, wrk's latency p50 / p99 / max, answers other
# than 200, the copies made with their mean and longest time and size, and
# the largest -wal seen (sampled every 10 ms: while a copy reads, the log
# cannot start again) and the server's largest RSS, and the share of the phase some task of the
# machine waited for a CPU and for the disk (/proc/pressure: the copies'
# own work counts, and so does any other work on the machine). Then checks
# each phase's last copy with `progressd check`.
# Exits 1 when an update gets anything but 200 or a copy fails its check.
# Stops everything it started on exit; talks only to 127.0.0.1.
#
#   scripts/backup-stall.sh [--seconds N] [--jobs N] [--phases "none backup scheduled vacuum"]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

seconds=20
jobs=10
phases="none backup scheduled vacuum"
usage='usage: scripts/backup-stall.sh [--seconds N (20)] [--jobs N (10)] [--phases "none backup scheduled vacuum"]'
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds | --jobs)
      whole_number "$1" "${2:-}"
      if [ "$1" = --seconds ]; then seconds=$2; else jobs=$2; fi
      shift 2
      ;;
    --phases)
      phases=${2:-}
      shift 2
      ;;
    *)
      echo "$usage" >&2
      exit 2
      ;;
  esac
done
only_phases backup-stall "$usage" "$phases" none backup scheduled vacuum hold
needs backup-stall wrk "apt-get install wrk"
needs backup-stall python3

cargo build --release -q --bin progressd
binary=./target/release/progressd
lua=scripts/wal-bound.lua
roster=100000
small=100
threads=1
connections=4

make_work_dir

db="$work/db.sqlite3"
launch backup-stall "$work/server.log" --db "$db" --max-workers-per-job "$roster"

# The big database: rosters are inserted in slices after `create` answers,
# so wait until /progress/jobs counts every worker.
made=$(date +%s.%N)
for j in $(seq "$jobs"); do
  curl -sf -o /dev/null "$base/progress/create?jobid=big$j&workers=$roster"
done
python3 - "$base" "$((jobs * roster))" <<'PY'
import json, sys, time, urllib.request
base, want = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 1800
while True:
    jobs = json.load(urllib.request.urlopen(base + "/progress/jobs?limit=100000"))
    have = sum(j["workers"] for j in jobs if j["jobid"].startswith("big"))
    if have >= want:
        break
    if time.time() > deadline:
        sys.exit(f"backup-stall: only {have} of {want} workers after 30 min")
    time.sleep(0.5)
PY
made=$(awk -v a="$made" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
curl -sf -o /dev/null "$base/progress/create?jobid=small&workers=$small"
# Let the checkpoint thread copy the rosters out of the log first.
sleep 2
echo "backup-stall: $((jobs * roster)) worker rows in $jobs jobs made in $made s; database $(stat -c %s "$db") bytes"

# Copies the database again and again into $1 with method $2 until the
# file $3 appears; prints each copy's seconds, one a line.
copy_until() {
  local dest=$1 method=$2 stop=$3 t0 t1
  while [ ! -e "$stop" ]; do
    t0=$(date +%s.%N)
    case "$method" in
      backup) "$binary" backup --db "$db" "$dest" --force >/dev/null ;;
      hold)
        python3 -c "
import sqlite3, sys, time
c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True, isolation_level=None)
c.execute('BEGIN')
c.execute('SELECT COUNT(*) FROM jobs').fetchall()
time.sleep(0.9)
c.execute('COMMIT')
" "$db"
        ;;
      vacuum)
        rm -f "$dest"
        sqlite3 "file:$db?mode=ro" "VACUUM INTO '$dest'"
        ;;
    esac
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
  done
}

failed=0
printf '%-10s %9s %7s %7s %8s %8s %7s %7s %7s %9s %12s %8s %4s %4s\n' \
  phase updates/s "p50 ms" "p99 ms" "max ms" non-200 copies "mean s" "max s" "copy MiB" "largest WAL" "RSS MiB" cpu io
for phase in $phases; do
  if [ "$phase" = vacuum ] && ! command -v sqlite3 >/dev/null; then
    echo "backup-stall: vacuum skipped: needs sqlite3"
    continue
  fi
  scheduled="$work/scheduled"
  if [ "$phase" = scheduled ]; then
    stop_server
    mkdir -p "$scheduled"
    launch backup-stall "$work/scheduled.log" --db "$db" --max-workers-per-job "$roster" \
      --backup-dir "$scheduled" --backup-every 0.1 --backup-keep 2
  fi
  out="$work/$phase.wrk"
  cpu_before=$(pressure cpu)
  io_before=$(pressure io)
  wrk -t"$threads" -c"$connections" -d"${seconds}s" -s "$lua" "$base" -- update small "$small" "$threads" >"$out" &
  wrk_pid=$!
  started+=("$wrk_pid")
  sample_largest "$db-wal" "$wrk_pid" "$server" >"$work/$phase.wal" &
  sampler=$!
  started+=("$sampler")
  copier=
  dest="$work/copy-$phase.sqlite3"
  if [ "$phase" = backup ] || [ "$phase" = vacuum ] || [ "$phase" = hold ]; then
    # The first copy starts a second into the load, the last ends with it.
    (sleep 1 && copy_until "$dest" "$phase" "$work/$phase.stop") >"$work/$phase.copies" &
    copier=$!
    started+=("$copier")
  fi
  wait "$wrk_pid"
  if [ -n "$copier" ]; then
    touch "$work/$phase.stop"
    wait "$copier"
  fi
  wait "$sampler"
  cpu_after=$(pressure cpu)
  io_after=$(pressure io)
  if [ "$phase" = scheduled ]; then
    stop_server
    # Each copy's seconds, from the log's "backup … taken: N bytes in T ms".
    sed -n 's/.*backup .* taken: .* in \([0-9]*\) ms.*/\1/p' "$work/scheduled.log" |
      awk '{ printf "%.3f\n", $1 / 1000 }' >"$work/$phase.copies"
    dest=$(find "$scheduled" -name 'progressd-*Z.sqlite3' | sort | tail -1)
    launch backup-stall "$work/server.log" --db "$db" --max-workers-per-job "$roster"
  fi
  read -r largest _ rss <"$work/$phase.wal"
  copies=- mean=- longest=- size=-
  if [ "$phase" != none ]; then
    copies=$(wc -l <"$work/$phase.copies")
    mean=$(awk '{ s += $1 } END { printf "%.2f", NR ? s / NR : 0 }' "$work/$phase.copies")
    longest=$(sort -n "$work/$phase.copies" | tail -1)
  fi
  if [ "$phase" != none ] && [ "$phase" != hold ]; then
    size=$(mib "$(stat -c %s "$dest")")
    if ! "$binary" check --db "$dest" >"$work/$phase.check"; then
      echo "backup-stall: FAILED: the $phase copy does not pass progressd check:" >&2
      cat "$work/$phase.check" >&2
      failed=1
    fi
  fi
  updates=$(field "$out" requests)
  rate=$(awk -v n="$updates" -v s="$(field "$out" seconds)" 'BEGIN { printf "%.0f", n / s }')
  bad=$(($(field "$out" refused) + $(field "$out" other) + $(field "$out" errors)))
  took=$(field "$out" seconds)
  printf '%-10s %9s %7s %7s %8s %8s %7s %7s %7s %9s %8s MiB %8s %4s %4s\n' \
    "$phase" "$rate" "$(field "$out" p50_ms)" "$(field "$out" p99_ms)" "$(field "$out" max_ms)" \
    "$bad" "$copies" "$mean" "$longest" "$size" "$(mib "$largest")" "$(mib "$rss")" \
    "$(share "$cpu_before" "$cpu_after" "$took")" "$(share "$io_before" "$io_after" "$took")"
  if [ "$bad" != 0 ]; then
    echo "backup-stall: FAILED: $bad of $updates updates got no 200" >&2
    failed=1
  fi
done
stop_server
grep -E '\[(WARN|ERROR)\]' "$work/server.log" | sort | uniq -c | sort -rn | head -3 |
  sed "s/^/backup-stall: server log: /" || true
echo "backup-stall: $seconds s a phase, wrk -t$threads -c$connections on a $small-worker job beside $((jobs * roster)) worker rows; WAL sampled every 10 ms"
exit "$failed"
