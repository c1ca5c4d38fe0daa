#!/usr/bin/env bash
# Updates/s through nginx with 1, 2 and 3 progressd instances behind it
# (deploy/nginx-sharded.conf: that file, with this run's ports and without
# TLS), beside the same load sent straight to one instance, all in one run.
# Builds the release progressd; for each setup starts fresh instances on
# temp databases (127.0.0.1, default options) and, but for the baseline,
# nginx on a free port of 127.0.0.1 (its default worker_processes auto);
# then runs `wrk -t2 -c16` for --seconds (10) of kept-alive single updates
# (scripts/wal-bound.lua) spread over --jobs (60) jobs of 4 workers, so the
# hash spreads them over the instances. Prints a table of updates/s, wrk's
# latency p50 / p99, the CPU time the instances, nginx and wrk each used
# per update (/proc/PID/stat, /usr/bin/time), the updates each commit of
# the instances' writers held on average (their /metrics), and the answers other than
# 200 and connection errors (an update waits up to 30 s before wrk counts
# it an error); then the share of the run some task waited for a CPU
# (/proc/pressure). Exits 1 if
# any update got anything but 200. Stops everything it started on exit.
#
#   scripts/shard-bench.sh [--seconds N] [--jobs N]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

seconds=10
jobs=60
usage='usage: scripts/shard-bench.sh [--seconds N (10)] [--jobs N (60)]'
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds | --jobs)
      whole_number "$1" "${2:-}"
      if [ "$1" = --seconds ]; then seconds=$2; else jobs=$2; fi
      shift 2
      ;;
    *)
      echo "$usage" >&2
      exit 2
      ;;
  esac
done
needs shard-bench wrk "apt-get install wrk"
needs shard-bench python3
needs shard-bench curl
[ -x /usr/bin/time ] || { echo "shard-bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "shard-bench: needs nginx (apt-get install nginx-light)" >&2; exit 2; }

# shellcheck disable=SC2034 # scripts/lib/server.sh's launch runs it
binary=./target/release/progressd
cargo build --release -q --bin progressd
lua=scripts/wal-bound.lua
threads=2
connections=16
workers=4

make_work_dir

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nginx_conf DIR FRONT PORT...: deploy/nginx-sharded.conf with nginx
# listening on FRONT over the instances on PORTs, its files in DIR.
nginx_conf() {
  local dir=$1 front=$2
  shift 2
  printf 'pid %s/nginx.pid;\nerror_log %s/error.log warn;\nworker_processes auto;\n' "$dir" "$dir"
  printf 'events { worker_connections 1024; }\nhttp {\n  access_log off;\n'
  for temp in client_body proxy fastcgi uwsgi scgi; do
    printf '  %s_temp_path %s/%s;\n' "$temp" "$dir" "$temp"
  done
  awk -v front="$front" -v ports="$*" '
    BEGIN { n = split(ports, port, " ") }
    /# Plain HTTP: redirect to TLS\./ { exit }
    /ssl_certificate/ || /listen \[::\]:443 ssl;/ { next }
    /listen 443 ssl;/ { print "    listen 127.0.0.1:" front ";"; next }
    /^ *server 127\.0\.0\.1:/ { if (++i <= n) print "    server 127.0.0.1:" port[i] " max_fails=0;"; next }
    { print }
  ' deploy/nginx-sharded.conf
  echo "}"
}

# CPU time, in clock ticks, that the processes PIDs have used so far.
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
ticks_per_second=$(getconf CLK_TCK)

# measure LABEL URL PROXY_PID: runs the load against URL and prints the
# table's row, with the CPU each part used per update: the instances
# (${instances[@]}), nginx (PROXY_PID and its workers, if any) and wrk.
failed=0
measure() {
  local label=$1 url=$2 proxy=${3:-} out line nginx_pids=() before_server before_nginx
  [ -z "$proxy" ] || mapfile -t nginx_pids < <(echo "$proxy"; pgrep -P "$proxy")
  before_server=$(cpu_ticks "${instances[@]}")
  before_nginx=$(cpu_ticks "${nginx_pids[@]}")
  out=$(/usr/bin/time -f 'wrk_cpu %U %S' wrk -t"$threads" -c"$connections" -d"${seconds}s" \
    --timeout 30s -s "$lua" "$url" -- update bench "$workers" "$threads" "$jobs" 2>&1)
  line=$(grep '^result' <<<"$out") || { echo "shard-bench: wrk said: $out" >&2; exit 2; }
  local server_ticks=$(($(cpu_ticks "${instances[@]}") - before_server))
  local nginx_ticks=$(($(cpu_ticks "${nginx_pids[@]}") - before_nginx))
  local wrk_cpu commits=0 committed=0 b c u
  wrk_cpu=$(awk '/^wrk_cpu/ { print $2 + $3 }' <<<"$out")
  # Commits and updates committed, over the instances (fresh for each
  # setup, so the run's): how well each writer groups its share.
  for b in "${bases[@]}"; do
    read -r c u < <(curl -s "$b/metrics" | awk '
      /^progressd_commit_batch_size_count / { c = $2 }
      /^progressd_updates_committed_total / { u = $2 }
      END { print c + 0, u + 0 }')
    commits=$((commits + c))
    committed=$((committed + u))
  done
  # result requests=N seconds=S ok=N refused=N other=N errors=N p50_ms=X p99_ms=X ...
  read -r ok secs bad errs p50 p99 < <(
    awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
           print v["ok"], v["seconds"], v["refused"] + v["other"], v["errors"], v["p50_ms"], v["p99_ms"] }' <<<"$line"
  )
  [ "$bad" = 0 ] && [ "$errs" = 0 ] || failed=1
  awk -v l="$label" -v ok="$ok" -v s="$secs" -v p50="$p50" -v p99="$p99" -v bad="$bad" -v errs="$errs" \
    -v st="$server_ticks" -v nt="$nginx_ticks" -v hz="$ticks_per_second" -v w="$wrk_cpu" \
    -v commits="$commits" -v committed="$committed" \
    'BEGIN { us = 1e6 / (ok > 0 ? ok : 1)
             printf "| %-22s | %9.0f | %5.1f / %5.1f | %5.0f · %5.0f · %5.0f | %6.1f | %d / %d |\n",
               l, ok / s, p50, p99, st / hz * us, nt / hz * us, w * us,
               committed / (commits > 0 ? commits : 1), bad, errs }'
}

cpu_pressure() {
  sed -n 's/^some .*total=//p' /proc/pressure/cpu 2>/dev/null || true
}

echo "shard-bench: $(nproc) cores, wrk -t$threads -c$connections for $seconds s a setup," \
  "single updates over $jobs jobs × $workers workers"
echo
echo "| setup                  | updates/s | p50 / p99 ms  | CPU µs an update: progressd · nginx · wrk | updates a commit | not 200 / errors |"
echo "| ---------------------- | --------: | ------------: | ----------------------------------------: | ---------------: | ---------------: |"
pressure_before=$(cpu_pressure)
started_at=$(date +%s.%N)
for setup in direct 1 2 3; do
  dir="$work/$setup"
  mkdir -p "$dir"
  instances=()
  ports=()
  bases=()
  for i in $(seq "${setup/direct/1}"); do
    launch shard-bench "$dir/progressd$i.log" --db "$dir/shard$i.sqlite3"
    instances+=("$server")
    ports+=("${base##*:}")
    bases+=("$base")
  done
  if [ "$setup" = direct ]; then
    measure "straight to 1 instance" "$base"
  else
    front=$(free_port)
    nginx_conf "$dir" "$front" "${ports[@]}" >"$dir/nginx.conf"
    "$nginx" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/nginx.err" &
    proxy=$!
    started+=("$proxy")
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$front") 2>/dev/null && break
      kill -0 "$proxy" 2>/dev/null || { cat "$dir/nginx.err" "$dir/error.log" >&2; exit 2; }
      sleep 0.1
    done
    measure "nginx, $setup instance$([ "$setup" = 1 ] || echo s)" "http://127.0.0.1:$front" "$proxy"
    kill -TERM "$proxy" 2>/dev/null || true
    wait "$proxy" 2>/dev/null || true
  fi
  for pid in "${instances[@]}"; do
    server=$pid
    stop_server
  done
done
pressure_after=$(cpu_pressure)
if [ -n "$pressure_before" ] && [ -n "$pressure_after" ]; then
  awk -v a="$pressure_before" -v b="$pressure_after" -v t0="$started_at" -v t1="$(date +%s.%N)" \
    'BEGIN { printf "\nsome task waited for a CPU %.0f%% of the run\n", (b - a) / 1e4 / (t1 - t0) }'
fi
exit "$failed"
