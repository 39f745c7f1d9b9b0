#!/usr/bin/env bash
# Benchmarks: prints numbers, asserts nothing. BUILD selects the binaries.
#   build/bench/*             C benchmarks of single modules (test/bench/bench_<module>.c)
#   test/bench/bench_*.py     kube-sim, and the operator binary end to end (bench_operator.py;
#                             its knobs are in its docstring; KUBECONFIG set: against that cluster)
# Everything printed also goes to $BENCH_OUT/bench.txt (default build/bench-out), with
# the plot of RSS and latency against runs in the cluster ($BENCH_OUT/results.png, gnuplot).
# BENCH_PUBLISH=1 copies the plot to test/bench/results.png.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/${BUILD:-build}"
export BENCH_OUT=${BENCH_OUT:-$root/build/bench-out}
mkdir -p "$BENCH_OUT"
cd "$root"
{
    for b in "$build"/bench/*; do
        [ -x "$b" ] || continue
        echo
        echo "## $(basename "$b")"
        "$b"
    done
    for p in test/bench/bench_*.py; do
        echo
        echo "## $(basename "$p")"
        S2I_BUILD_DIR="$build" python3 "$p"
    done
} 2>&1 | tee "$BENCH_OUT/bench.txt"
status=${PIPESTATUS[0]}
if command -v gnuplot >/dev/null && [ -s "$BENCH_OUT/operator.dat" ]; then
    (cd "$BENCH_OUT" && gnuplot "$root/test/bench/plot.gp") && echo "plot: $BENCH_OUT/results.png"
    if [ "${BENCH_PUBLISH:-0}" = 1 ]; then
        cp "$BENCH_OUT/results.png" test/bench/results.png
    fi
fi
exit "$status"
