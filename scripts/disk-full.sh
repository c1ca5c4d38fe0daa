#!/usr/bin/env bash
# Disk full: runs the release progressd on a small tmpfs, fills the disk,
# and checks that updates then get 503 (never a 200 for an update that was
# not stored), that the server keeps answering reads, and that writes work
# again once space is freed, without a restart. Needs root (it mounts the
# tmpfs); talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "disk-full: needs root to mount a tmpfs" >&2
  exit 2
fi
cargo build --release -q --bin progressd
dir=$(mktemp -d)
mount -t tmpfs -o size=4m tmpfs "$dir"
log=$(mktemp)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  umount "$dir" 2>/dev/null || true
  rmdir "$dir" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

./target/release/progressd --listen 127.0.0.1:0 --db "$dir/db.sqlite3" 2>"$log" &
pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$log" && break
  sleep 0.1
done
base=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
desc=$(head -c 900 /dev/zero | tr '\0' x)

# Sends updates for new workers w$1..w$2; prints the status of each as
# "status workid".
send() {
  for i in $(seq "$1" "$2"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' \
      "$base/progress/update?jobid=full&workid=w$i&current=1&total=2&desc=$desc")
    echo "$code w$i"
  done
}

send 1 20 >"$dir.before"
dd if=/dev/zero of="$dir/filler" bs=64k 2>/dev/null || true
echo "disk-full: tmpfs filled: $(df -h --output=avail "$dir" | tail -1 | tr -d ' ') left"
send 21 300 >"$dir.full"
acked_full=$(grep -c '^200 ' "$dir.full" || true)
refused_full=$(grep -c '^503 ' "$dir.full" || true)
other_full=$(grep -vc '^\(200\|503\) ' "$dir.full" || true)
reads=$(curl -s -o /dev/null -w '%{http_code}' "$base/progress/status?jobid=full")
rm -f "$dir/filler"
send 301 320 >"$dir.after"
acked_after=$(grep -c '^200 ' "$dir.after" || true)

# Every update answered 200 must be stored.
status=$(curl -s "$base/progress/status?jobid=full")
lost=0
for w in $(grep -h '^200 ' "$dir.before" "$dir.full" "$dir.after" | cut -d' ' -f2); do
  grep -q "\"workid\":\"$w\"" <<<"$status" || lost=$((lost + 1))
done
stored=$(grep -o '"workid":"w[0-9]*"' <<<"$status" | wc -l)
alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)
rm -f "$dir.before" "$dir.full" "$dir.after"

echo "disk-full: while full: $acked_full answered 200, $refused_full answered 503, $other_full other; reads answered $reads"
echo "disk-full: after freeing space: $acked_after of 20 answered 200 (no restart; server alive: $alive)"
echo "disk-full: $stored workers stored, $lost acknowledged updates missing"
grep -E "WARN|ERROR|INFO\] check" "$log" | sort | uniq -c | sort -rn | head -5 | sed 's/^/disk-full: log: /'
[ "$refused_full" -gt 0 ] && [ "$other_full" = 0 ] && [ "$reads" = 200 ] &&
  [ "$acked_after" = 20 ] && [ "$lost" = 0 ] && [ "$alive" = yes ]
