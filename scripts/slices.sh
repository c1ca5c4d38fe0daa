#!/usr/bin/env bash
# No update waits behind a big write (issue 12): the update latency of a
# small job while big jobs are created, deleted and expired, each next to
# the same measurement with nothing big happening. Builds the release
# progressd; for each phase starts it on a fresh temp database (127.0.0.1,
# --expire-interval 1) with a job of 100 workers, and runs `wrk -t1 -c4`
# kept-alive updates of its workers at full speed (scripts/wal-bound.lua;
# an update waits up to 30 s before wrk counts it an error), from a second
# before the big work starts until a second after it is done (so that
# updates held up until its end are counted):
#   idle      nothing else happens, for --seconds (10);
#   roster    for --seconds, `create … workers=100000` of a new job, again
#             as soon as its roster is complete;
#   delete    5 jobs of 100,000 workers, made beforehand, are deleted one
#             after another;
#   expire    10 jobs of 100,000 workers (1,000,000 rows), made beforehand
#             with a maxage that ends for all at once, expire;
#   expire-small  10,000 jobs of 100 workers (1,000,000 rows) likewise.
# A Python driver does the big work over HTTP and watches the slices'
# tables (roster_chunks, doomed_jobs; read-only) to time it. Prints a table
# of updates/s and wrk's latency p50 / p99 / max per phase, how long it
# ran, the share of that time some task of the machine waited for a CPU
# and for the disk (/proc/pressure: on a machine busy with other work the
# figures say more about it than about progressd), and how long the big
# work took. Exits 1 when a phase with big work passes p99 10 ms or max
# 50 ms, or an update gets anything but 200. With --binary, runs another
# build instead (one without slices: its big writes are done when they
# answer). Stops everything it started on exit.
#
#   scripts/slices.sh [--seconds N] [--phases "idle roster delete expire expire-small"]
#                     [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

seconds=10
phases="idle roster delete expire expire-small"
binary=./target/release/progressd
usage='usage: scripts/slices.sh [--seconds N (10)] [--phases "idle roster delete expire expire-small"] [--binary PATH]'
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds)
      whole_number --seconds "${2:-}"
      seconds=$2
      shift 2
      ;;
    --phases)
      phases=${2:-}
      shift 2
      ;;
    --binary)
      [ -x "${2:-}" ] || { echo "--binary needs an executable" >&2; exit 2; }
      binary=$2
      shift 2
      ;;
    *)
      echo "$usage" >&2
      exit 2
      ;;
  esac
done
only_phases slices "$usage" "$phases" idle roster delete expire expire-small
needs slices wrk "apt-get install wrk"
needs slices python3

[ "$binary" != ./target/release/progressd ] || cargo build --release -q --bin progressd
lua=scripts/wal-bound.lua
small_workers=100
threads=1
connections=4
p99_target=10
max_target=50

make_work_dir

# The driver: does the big work of a phase over HTTP (kept-alive) and
# prints one line saying how long it took.
cat >"$work/driver.py" <<'PY'
import http.client, sqlite3, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

mode, base, db = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
host = base.removeprefix("http://")
# One kept-alive connection per thread.
local = threading.local()

def get(path):
    """GETs path; returns the time the answer took, in ms."""
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection(host, timeout=60)
    start = time.monotonic()
    local.conn.request("GET", path)
    answer = local.conn.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"driver: {path} answered {answer.status}")
    return (time.monotonic() - start) * 1000

# One read-only connection, kept: each query outside a transaction reads
# the latest commit.
ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10, isolation_level=None)

def count(table):
    """Rows in one of the slices' tables; none in a build without them."""
    try:
        return ro.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return 0
        raise

def wait_for(table, every=0.02):
    """Waits until the table is empty; returns when, by the monotonic clock."""
    while count(table):
        time.sleep(every)
    return time.monotonic()

if mode == "build":
    # build N WORKERS [EXPIRES]: N jobs, waits until their rosters are in.
    # With EXPIRES (Unix seconds), each job's maxage ends then.
    n, workers = int(args[0]), int(args[1])
    expires = float(args[2]) if len(args) > 2 else None
    def create(i):
        maxage = 3600 if expires is None else max(1, round(expires - time.time(), 3))
        get(f"/progress/create?jobid=big{i}&workers={workers}&maxage={maxage}")
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(n)))
    done = wait_for("roster_chunks", 0.1)
    print(f"{n:,} × {workers:,} workers made in {done - start:.1f} s")
elif mode == "roster":
    # roster SECONDS: new 100,000-worker rosters, one after another.
    until = time.monotonic() + float(args[0])
    fills, answers = [], []
    i = 0
    while True:
        start = time.monotonic()
        answers.append(get(f"/progress/create?jobid=big{i}&workers=100000"))
        done = wait_for("roster_chunks")
        if done > until:
            break
        fills.append(done - start)
        i += 1
    fills = ", ".join(f"{f:.2f}" for f in fills)
    print(f"{i} rosters of 100,000 complete, in {fills} s; create answered in ≤ {max(answers):.0f} ms")
elif mode == "delete":
    # delete N: deletes jobs big0 … big(N-1), waits for their rows to go.
    n = int(args[0])
    start = time.monotonic()
    answers = [get(f"/progress/delete?jobid=big{i}") for i in range(n)]
    done = wait_for("doomed_jobs")
    print(f"{n} × 100,000 rows deleted in {done - start:.2f} s; delete answered in ≤ {max(answers):.0f} ms")
elif mode == "expiry":
    # expiry JOBS EXPIRES: waits (up to 5 minutes) for the JOBS big jobs,
    # whose maxage ends at EXPIRES (Unix seconds), to go, and their rows.
    jobs, expires = int(args[0]), float(args[1])
    until = time.monotonic() + 300
    if count("jobs") != jobs + 1:
        print(f"expiry began before the window ({count('jobs') - 1} of {jobs:,} jobs left)")
        sys.exit(0)
    while count("jobs") == jobs + 1 and time.monotonic() < until:
        time.sleep(0.01)
    first = time.time()
    while (count("jobs") > 1 or count("doomed_jobs")) and time.monotonic() < until:
        time.sleep(0.01)
    if count("jobs") > 1 or count("doomed_jobs"):
        print(f"expiry NOT finished within 5 minutes ({count('jobs') - 1} jobs left)")
    else:
        print(f"{jobs:,} jobs expired {first - expires:.2f} s after their maxage, their rows all gone {time.time() - first:.2f} s later")
PY

# Starts progressd on database $1 with its log in $2; sets $server and $base.
start_server() {
  launch slices "$2" --db "$1" --expire-interval 1
}

failed=0
rows=()
for phase in $phases; do
  dir="$work/$phase"
  mkdir "$dir"
  db="$dir/db.sqlite3"
  start_server "$db" "$dir/server.log"
  curl -sf -o /dev/null "$base/progress/create?jobid=small&workers=$small_workers&maxage=3600"
  driver=(python3 "$work/driver.py")
  # Big work made beforehand, and the driver's part while wrk runs.
  during=()
  lead=1
  case "$phase" in
    roster) during=(roster "$seconds") ;;
    delete)
      "${driver[@]}" build "$base" "$db" 5 100000 >"$dir/build.out"
      during=(delete 5)
      ;;
    expire | expire-small)
      if [ "$phase" = expire ]; then jobs=10 size=100000 ahead=30; else jobs=10000 size=100 ahead=60; fi
      expires=$(awk -v now="$(date +%s.%N)" -v a="$ahead" 'BEGIN { printf "%.3f", now + a }')
      "${driver[@]}" build "$base" "$db" "$jobs" "$size" "$expires" >"$dir/build.out"
      # wrk starts a second or two before the first job goes (expiry allows
      # a second for the stamp's lag).
      wait_s=$(awk -v e="$expires" -v l="$lead" -v now="$(date +%s.%N)" 'BEGIN { w = e - l - now; printf "%.3f", (w > 0 ? w : 0) }')
      if [ "$wait_s" = 0.000 ]; then
        echo "slices: $phase: making the jobs took over $ahead s; some expired before wrk started" >&2
        failed=1
      fi
      sleep "$wait_s"
      during=(expiry "$jobs" "$expires")
      ;;
  esac
  window=$seconds
  [ "${#during[@]}" = 0 ] || window=600
  cpu_before=$(pressure cpu)
  io_before=$(pressure io)
  wrk -t"$threads" -c"$connections" -d"${window}s" --timeout 30s -s "$lua" "$base" -- update small "$small_workers" "$threads" >"$dir/wrk.out" &
  wrk_pid=$!
  started+=("$wrk_pid")
  big="-"
  if [ "${#during[@]}" -gt 0 ]; then
    sleep "$lead"
    "${driver[@]}" "${during[0]}" "$base" "$db" "${during[@]:1}" >"$dir/driver.out"
    big=$(cat "$dir/driver.out")
    sleep "$lead"
    # wrk reports what it has measured on SIGINT.
    kill -INT "$wrk_pid"
  fi
  wait "$wrk_pid"
  cpu_after=$(pressure cpu)
  io_after=$(pressure io)
  stop_server
  out="$dir/wrk.out"
  rate=$(awk -v n="$(field "$out" requests)" -v s="$(field "$out" seconds)" 'BEGIN { printf "%.0f", n / s }')
  bad=$(($(field "$out" refused) + $(field "$out" other) + $(field "$out" errors)))
  p50=$(field "$out" p50_ms)
  p99=$(field "$out" p99_ms)
  max=$(field "$out" max_ms)
  built=
  [ -f "$dir/build.out" ] && built=" (made first: $(cat "$dir/build.out"))"
  took=$(awk -v s="$(field "$out" seconds)" 'BEGIN { printf "%.1f", s }')
  cpu=$(share "$cpu_before" "$cpu_after" "$took")
  io=$(share "$io_before" "$io_after" "$took")
  rows+=("$(printf '%-13s %5s %9s %7s %7s %7s %7s %4s %4s  %s%s' "$phase" "$took" "$rate" "$p50" "$p99" "$max" "$bad" "$cpu" "$io" "$big" "$built")")
  if [ "$bad" != 0 ]; then
    echo "slices: FAILED: $phase: $bad updates got no 200" >&2
    failed=1
  fi
  if [ "$phase" != idle ] && awk -v p="$p99" -v m="$max" -v pt="$p99_target" -v mt="$max_target" \
    'BEGIN { exit !(p > pt || m > mt) }'; then
    echo "slices: FAILED: $phase: p99 $p99 ms / max $max ms past the targets ($p99_target / $max_target ms)" >&2
    failed=1
  fi
  grep -sE '\[(WARN|ERROR)\]' "$dir/server.log" | sort | uniq -c | sort -rn | head -3 |
    sed "s/^/slices: $phase: server log: /" || true
done
printf '%-13s %5s %9s %7s %7s %7s %7s %4s %4s  %s\n' phase "s" updates/s "p50 ms" "p99 ms" "max ms" non-200 cpu io "big work"
printf '%s\n' "${rows[@]}"
echo "slices: $binary; updates of a $small_workers-worker job, wrk -t$threads -c$connections (s: how long it ran); cpu, io: the share of it some task waited for a CPU, for the disk; targets with big work: p99 ≤ $p99_target ms, max ≤ $max_target ms"
exit "$failed"
