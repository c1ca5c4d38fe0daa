#!/usr/bin/env bash
# How long the show page takes with 5,000 workers: the server's answer, the
# page's load in headless Chromium, and each in-place update from the status
# JSON. Prints figures; asserts nothing about time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -q --test browser page_timing -- --ignored --nocapture 2>&1 \
  | grep -E '^(server|browser):'
