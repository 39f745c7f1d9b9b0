#!/usr/bin/env bash
# Benchmarks: prints numbers, asserts nothing. BUILD selects the binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/${BUILD:-build}"
echo "## kube-sim"
(cd "$root/test/kube-sim" && python3 ../bench/bench_kube_sim.py)
cd "$root"
for b in "$build"/bench/*; do
    [ -x "$b" ] || continue
    echo
    echo "## $(basename "$b")"
    "$b"
done
