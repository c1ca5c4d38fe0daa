#!/usr/bin/env bash
# Kills the release progressd with SIGKILL at random moments under update
# load and checks after each kill that every acknowledged update is in the
# database and that the file passes PRAGMA integrity_check. Builds the binary
# first, so the test never runs a stale one. Options go to the test:
# --kills N (20), --workers W (16), --seed S (from the clock; printed),
# --batch L (each client POSTs batches of L lines for its own L workers).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin progressd --example crashtest
exec ./target/release/examples/crashtest "$@"
