#!/usr/bin/env bash
# End-to-end tests: test/e2e/test_*.py (Python unittest driving kubectl and our
# binaries). They start their own kube-sim; with E2E_KUBECONFIG set they run
# against that cluster instead. BUILD selects the binaries (build or build/asan).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export S2I_BUILD_DIR="$root/${BUILD:-build}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$root/test"
shopt -s nullglob
tests=(e2e/test_*.py)
if [ ${#tests[@]} -eq 0 ]; then
    echo "no end-to-end tests yet"
    exit 0
fi
python3 -m unittest ${E2E_TESTS:-discover -s e2e -t .} "$@"
