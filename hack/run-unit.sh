#!/usr/bin/env bash
# Runs the Check unit test binaries given as arguments; with VALGRIND=1 each
# runs under valgrind (memcheck, leaks are errors). Prints a summary and exits
# non-zero if any binary failed.
set -u
failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "$@"; do
    echo "== $(basename "$t")"
    if [ "${VALGRIND:-0}" = 1 ]; then
        CK_FORK=no valgrind --quiet --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --track-origins=yes "$t"
    else
        "$t"
    fi
    rc=$?
    [ $rc -eq 0 ] || failed+=("$(basename "$t") (exit $rc)")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED unit tests: ${failed[*]}"
    exit 1
fi
echo "all $# unit test binaries passed"
