#!/usr/bin/env bash
# Screenshots of the show page and the job index, as a person sees them, in
# headless Chromium: a 10-worker job (one done, one failed, one stale), the
# same in dark mode, its PNG chart, a 1,000-worker job (past --list-all-up-to, so the
# big-job page), a job with a roster (two workers not started, one slow)
# with and without a worker's history opened, the index, and a job of
# 100,000 workers (30,000 of them reporting: some done, failed, slow or
# gone stale) on the big-job page, in light, dark and on a phone.
#
#   scripts/screenshots.sh [OUTDIR]      (default: ./screenshots)
#
# Builds the release binary, runs it on a temp database on 127.0.0.1, and
# waits a little over two minutes so that one worker turns stale.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-screenshots}
mkdir -p "$out"
cargo build --release -q
port=${PORT:-18093}
tmp=$(mktemp -d)
./target/release/progressd --listen "127.0.0.1:$port" --db "$tmp/demo.sqlite3" 2>"$tmp/log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
base="http://127.0.0.1:$port/progress"
for _ in $(seq 50); do curl -fs "$base/jobs" >/dev/null && break; sleep 0.1; done

update() { curl -fsS -G "$base/update" "$@" >/dev/null; }

curl -fsS "$base/create?jobid=obs1234&desc=MWA+observation+1234567890+calibration" >/dev/null
descs=("flagging" "calibrating" "imaging tile 3" "" "waiting for data" "lots of RFI"
       "" "writing uvfits" "" "deconvolving")
for i in $(seq 0 9); do
  update --data-urlencode jobid=obs1234 --data-urlencode "workid=node$i" \
         --data-urlencode "current=$(( (i * 37) % 90 ))" --data-urlencode total=100 \
         --data-urlencode "desc=${descs[$i]}"
done
sleep 2
for i in 0 1 2 3 5 7 8 9; do
  update --data-urlencode jobid=obs1234 --data-urlencode "workid=node$i" \
         --data-urlencode "current=$(( (i * 37) % 90 + 4 ))"
done
update --data-urlencode jobid=obs1234 --data-urlencode workid=node4 --data-urlencode current=100 \
       --data-urlencode desc=finished
update --data-urlencode jobid=obs1234 --data-urlencode workid=node6 --data-urlencode current=40 \
       --data-urlencode ok=0 --data-urlencode "desc=segfault in cotter"

# A second job with 1,000 workers, in one curl run over one connection.
curl -fsS "$base/create?jobid=big&desc=1000-rank+MPI+job" >/dev/null
for i in $(seq 0 999); do
  echo "url = \"$base/update?jobid=big&workid=rank$i&current=$(( (i * 7919) % 1000 ))&total=1000\""
  echo "output = /dev/null"
done >"$tmp/urls"
curl -fsS -K "$tmp/urls"

# A job of 100,000 workers: 30,000 report now; after the wait below most
# report again (some done, some failed, a few far slower than the rest),
# and those that do not have gone stale. One curl run per round.
big_round() {
  local round=$1
  for i in $(seq 0 29999); do
    if [ "$round" -eq 0 ]; then
      echo "url = \"$base/update?jobid=mpi100k&workid=$i&current=0&total=1000&desc=block+$((i % 64))\""
    else
      [ $((i % 613)) -eq 5 ] && continue
      local q="current=$(( 300 + (i * 7919) % 400 ))"
      [ $((i % 9)) -eq 4 ] && q="current=1000&desc=finished"
      [ $((i % 997)) -eq 13 ] && q="current=3"
      [ $((i % 1499)) -eq 7 ] && q="current=$(( (i * 31) % 600 ))&ok=0&desc=MPI_ABORT+on+rank+$i:+out+of+memory"
      echo "url = \"$base/update?jobid=mpi100k&workid=$i&$q\""
    fi
    echo "output = /dev/null"
  done >"$tmp/urls"
  curl -fsS -K "$tmp/urls"
}
curl -fsS "$base/create?jobid=mpi100k&desc=MPI+reduction,+100000+ranks&workers=100000" >/dev/null
big_round 0

# A job with a roster of 12: ten report at different paces (rank3 far
# slower than the rest), two never do.
curl -fsS "$base/create?jobid=sweep42&desc=Parameter+sweep+42&workers=12" >/dev/null
sweep() {
  local round=$1
  for i in $(seq 0 9); do
    local pace=$(( 3 + (i * 5) % 4 ))
    [ "$i" -eq 3 ] && pace=1
    update --data-urlencode jobid=sweep42 --data-urlencode "workid=$i" \
           --data-urlencode "current=$(( round * pace ))" --data-urlencode total=400
  done
}

echo "waiting 125 s so that one worker is stale..."
# Everyone but node8 keeps reporting; node8 goes silent.
for round in $(seq 1 25); do
  for i in 0 1 2 3 5 7 9; do
    update --data-urlencode jobid=obs1234 --data-urlencode "workid=node$i" \
           --data-urlencode "current=$(( (i * 37) % 90 + 4 + round ))"
  done
  sweep "$round"
  sleep 5
done

# The big job reports again, so most of it is running; a few ranks finish
# and two fail.
for i in $(seq 0 999); do
  c=$(( (i * 7919) % 1000 + 40 )); ok=1
  [ $c -gt 1000 ] && c=1000
  [ $((i % 397)) -eq 5 ] && ok=0
  echo "url = \"$base/update?jobid=big&workid=rank$i&current=$c&ok=$ok\""
  echo "output = /dev/null"
done >"$tmp/urls"
curl -fsS -K "$tmp/urls"

big_round 1

shot() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/profile" --hide-scrollbars "$@" 2>/dev/null
}
shot --window-size=1200,720 --screenshot="$out/show-10.png" "$base/show?jobid=obs1234"
# The same job's chart, as a page would embed it.
curl -fsS "$base/render?jobid=obs1234" -o "$out/chart-10.png"
shot --force-dark-mode --window-size=1200,720 --screenshot="$out/show-10-dark.png" "$base/show?jobid=obs1234"
# The big-job page draws its lists from requests of its own: give it time.
big() { shot --virtual-time-budget=10000 "$@"; }
big --window-size=1200,1400 --screenshot="$out/show-1000.png" "$base/show?jobid=big"
shot --window-size=420,900 --screenshot="$out/show-10-phone.png" "$base/show?jobid=obs1234"
shot --window-size=1200,900 --screenshot="$out/show-roster.png" "$base/show?jobid=sweep42"
shot --virtual-time-budget=3000 --window-size=1200,900 --screenshot="$out/show-roster-detail.png" "$base/show?jobid=sweep42#worker=3"
shot --window-size=1200,500 --screenshot="$out/index.png" "$base/"
big --window-size=1200,1500 --screenshot="$out/show-100000.png" "$base/show?jobid=mpi100k"
big --force-dark-mode --window-size=1200,1500 --screenshot="$out/show-100000-dark.png" "$base/show?jobid=mpi100k"
big --window-size=420,1600 --screenshot="$out/show-100000-phone.png" "$base/show?jobid=mpi100k"
ls -l "$out"
