#!/usr/bin/env bash
# How the show page fares as jobs grow: for 500 workers (the page with a bar
# per worker, for comparison) and 1,000, 10,000 and 100,000 (the big-job
# page, which lists its workers a page at a time), the HTML's size and the
# server's time for it, then in headless Chromium first paint, when the
# lists are drawn, and a poll (the page's own work, and from its requests to
# the page drawn) while workers keep reporting. Prints a Markdown table;
# asserts nothing about time.
#
#   scripts/page-timing.sh [SIZES]      (default: 500,1000,10000,100000)
#
# Filling the 100,000-worker job takes a minute or so (two reports per
# worker, one request each). The machine's load average is printed before
# and after: on a shared machine, figures move with it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PAGE_TIMING_WORKERS=${1:-500,1000,10000,100000}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo test --release -q --test browser page_timing_of_small_and_big_jobs -- --ignored --nocapture 2>&1 \
  | grep -E '^\|'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
