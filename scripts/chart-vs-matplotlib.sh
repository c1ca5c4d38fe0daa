#!/usr/bin/env bash
# progressd's chart against matplotlib's barh, in one run on this machine:
# render time for 100 and 1,000 workers (median of several renders, PNG
# bytes included; chartbench prints progressd's SVG figures beside its
# PNG's). Needs python3 with matplotlib (pip install matplotlib).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --example chartbench
echo "== progressd (examples/chartbench.rs)"
./target/release/examples/chartbench
echo "== matplotlib barh, Agg backend, 800 px wide, PNG to memory"
python3 - <<'PY'
import io, statistics, time
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
for n in (10, 100, 1000):
    ids = [f"rank{i}" for i in range(n)]
    pct = [(i * 7919) % 1000 / 10 for i in range(n)]
    colors = ["#d3423d" if i % 37 == 5 else "#3566c9" if i % 10 == 3 else "#2f9e57" for i in range(n)]
    times = []
    runs = 5 if n >= 1000 else 9
    for _ in range(runs):
        start = time.perf_counter()
        fig, ax = plt.subplots(figsize=(8, max(2, 0.2 * n)), dpi=100)
        ax.barh(ids, pct, color=colors)
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
        ax.set_title(f"Benchmark job with {n} workers")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        times.append((time.perf_counter() - start) * 1000)
    print(f"{n:>8} {statistics.median(times):>10.1f} ms median, {len(buf.getvalue()):>9} PNG bytes")
PY
