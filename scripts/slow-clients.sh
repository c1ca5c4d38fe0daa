#!/usr/bin/env bash
# Measures a normal client's update latency alone and while 1,000 idle or
# byte-at-a-time connections stay open, with progressd's thread count and
# memory in both phases. Builds the release binary first. Options go to the
# program: --connections N (1000), --seconds D (12 per phase).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin progressd --example slowclients
exec ./target/release/examples/slowclients "$@"
