#!/usr/bin/env bash
# Measures /healthz latency (p50, max over 50 probes) alone and beside 8
# clients that ask for the show page of a 100,000-worker job and never read
# it, with progressd's thread count and memory, the bytes it keeps for those
# clients (at most --max-unsent-mib, 256 by default), and whether it closes
# them at its response deadline. Builds the release binary first.
# Options go to the program: --workers N (100000), --readers K (8; 64 to see
# the budget at work), --probes P (50), --binary PATH (another build, to
# compare).
set -euo pipefail
cd "$(dirname "$0")/.."
# The page with a bar per worker, the largest answer there is (past 500
# workers the show page is the big-job page, about 15 KB).
export PROGRESSD_LIST_ALL_UP_TO=${PROGRESSD_LIST_ALL_UP_TO:-1000000}
cargo build --release -q --bin progressd --example slowreaders
exec ./target/release/examples/slowreaders "$@"
