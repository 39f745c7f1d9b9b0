#!/usr/bin/env bash
# The reliability suite (test/chaos): runs under API faults and API server restarts,
# operator SIGKILL, leader SIGKILL with two replicas. Prints the counts of each scenario.
#   hack/chaos.sh            full form: 1,000 runs per scenario (CHAOS_RUNS overrides)
#   hack/chaos.sh --short    ~100 runs per scenario, as `make test` runs it
# BUILD selects the operator binary (build or build/asan).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export S2I_BUILD_DIR="$root/${BUILD:-build}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "${1:-}" = "--short" ]; then
    shift
    export CHAOS_RUNS=${CHAOS_RUNS:-100}
else
    export CHAOS_RUNS=${CHAOS_RUNS:-1000}
fi
cd "$root/test/chaos"
start=$(date +%s)
status=0
python3 -m unittest -v test_chaos "$@" || status=$?
echo "chaos: $CHAOS_RUNS runs per scenario, $(( $(date +%s) - start )) s"
exit $status
