#!/usr/bin/env bash
# `progressd watch` in tmux, as README and docs/api.md show it, and how it holds up on a
# job of 100,000 workers: prints the screen of a small job (six workers,
# one failed), then for the big job the time from a key (End, f) to the
# screen that answers it, and the watch process's peak memory (VmHWM) and
# the server's, after scrolling.
#
#   scripts/watch.sh
#
# Builds the release binary, runs it on a temp database on 127.0.0.1, and
# needs tmux, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/progressd
port=${PORT:-18094}
tmp=$(mktemp -d)
sock="$tmp/tmux.sock"
"$bin" --listen "127.0.0.1:$port" --db "$tmp/db.sqlite3" --log-level warn 2>"$tmp/log" &
server=$!
trap 'tmux -S "$sock" kill-server 2>/dev/null; kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
url="http://127.0.0.1:$port"
base="$url/progress"
for _ in $(seq 50); do curl -fs "$base/jobs" >/dev/null && break; sleep 0.1; done
update() { curl -fsS -G "$base/update" "$@" >/dev/null; }

# A small job: two reports each, so rates and times left show.
curl -fsS "$base/create?jobid=myjob123&desc=Nightly+render" >/dev/null
descs=("frames 1-400" "frames 401-800" "frames 801-1200" "frames 1201-1600" "frames 1601-2000" "frames 2001-2400")
for round in 0 1; do
  for i in 0 1 2 3 4 5; do
    ok=1
    [ "$round" = 1 ] && [ "$i" = 3 ] && ok=0
    update --data-urlencode jobid=myjob123 --data-urlencode "workid=node$i" \
           --data-urlencode "current=$(( (i * 53) % 300 + round * (20 + i * 7) ))" \
           --data-urlencode total=400 --data-urlencode ok=$ok \
           --data-urlencode "desc=${descs[$i]}"
  done
  [ "$round" = 0 ] && sleep 3
done
tmux -S "$sock" -f /dev/null new-session -d -s watch -x 80 -y 20 \
  "$bin" watch --url "$url" myjob123
sleep 2
echo '--- progressd watch myjob123 (80 x 20) ---'
tmux -S "$sock" capture-pane -p -t watch
tmux -S "$sock" send-keys -t watch q
sleep 0.5

# A big job: 100,000 workers in batches of 1,000, one in 97 failed.
python3 - "$tmp" <<'EOF'
import random, sys
random.seed(15)
for b in range(100):
    with open(f"{sys.argv[1]}/batch{b}.txt", "w") as f:
        for i in range(b * 1000, (b + 1) * 1000):
            ok = 0 if i % 97 == 0 else 1
            f.write(f"workid=w{i}&current={random.randint(0, 100)}&total=100&ok={ok}\n")
EOF
for b in $(seq 0 99); do
  curl -fsS --data-binary "@$tmp/batch$b.txt" "$base/update?jobid=big" >/dev/null
done
tmux -S "$sock" -f /dev/null new-session -d -s big -x 120 -y 40 \
  "$bin" watch --url "$url" --interval 0.5 big
until tmux -S "$sock" capture-pane -p -t big | grep -q 'of 100000'; do sleep 0.05; done
pid=$(tmux -S "$sock" display -p -t big '#{pane_pid}')
# The time from a key to the screen that answers it.
answer() {
  local t0 t1
  t0=$(date +%s%N)
  tmux -S "$sock" send-keys -t big "$1"
  until tmux -S "$sock" capture-pane -p -t big | grep -q "$2"; do sleep 0.01; done
  t1=$(date +%s%N)
  echo "$1: $(( (t1 - t0) / 1000000 )) ms to '$2'"
}
echo '--- 100,000 workers (120 x 40) ---'
answer End 'workers 99972–100000 of 100000$'
answer f '^Failed workers'
for _ in $(seq 29); do tmux -S "$sock" send-keys -t big PgDn; done
answer PgDn 'workers 871–899 of 1031 failed'
sleep 2
echo "watch ($(ps -o comm= -p "$pid")): $(grep VmHWM /proc/"$pid"/status)"
echo "server: $(grep VmHWM /proc/$server/status)"
tmux -S "$sock" send-keys -t big q
