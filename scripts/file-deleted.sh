#!/usr/bin/env bash
# Deletes the database (then its -wal and -shm) under full-speed updates
# from kept-alive clients, and counts the answers after the deletion: no
# 200 beyond the one commit in flight, then 503s, and /healthz 503. Builds
# the release binary first. Options go to the program: --clients C (8),
# --before S (3), --after S (5).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin progressd --example filedeleted
exec ./target/release/examples/filedeleted "$@"
