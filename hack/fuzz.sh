#!/usr/bin/env bash
# libFuzzer targets test/fuzz/fuzz_*.c, built with clang -fsanitize=fuzzer,address,undefined
# from the build command in each file's header comment (its sources live there, so a new
# target needs no edit here).
#
#   hack/fuzz.sh [target...]           each target runs FUZZ_RUNS (1,000,000) executions
#   hack/fuzz.sh --smoke [target...]   each target runs FUZZ_SMOKE_SECONDS (5) seconds
#
# Every run works on a scratch copy of its corpus (build/fuzz/corpus/<name>, from
# test/fuzz/corpus/<name>): the committed seeds stay as they are. FUZZ_MERGE=1 afterwards
# merges (-merge=1) the new inputs that add coverage into test/fuzz/corpus/<name>, at most
# FUZZ_MERGE_MAX (10) files of at most FUZZ_MERGE_BYTES (2048) bytes each.
# Crashes are written to build/fuzz/artifacts/; the script exits 1 when any target failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
smoke=0
if [ "${1:-}" = "--smoke" ]; then
    smoke=1
    shift
fi
runs=${FUZZ_RUNS:-1000000}
smoke_seconds=${FUZZ_SMOKE_SECONDS:-5}
out=build/fuzz
mkdir -p "$out/bin" "$out/corpus" "$out/artifacts" "$out/logs"
command -v clang >/dev/null || { echo "fuzz: clang is not installed (make deps)" >&2; exit 1; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in test/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi

# The build command of a target: its header comment, joined into one line, from "clang"
# to "-o <file>"; the output is redirected into build/fuzz/bin.
build_command() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
src, binary = sys.argv[1], sys.argv[2]
text = open(src).read()
head = text[:text.index("*/")]
lines = [re.sub(r"^\s*/?\*+ ?", "", l) for l in head.splitlines()]
joined = " ".join(lines).replace("\\", " ")
m = re.search(r"(clang\s.*?)\s-o\s+(\S+)", joined)
if not m or "-fsanitize=fuzzer" not in m.group(1):
    sys.exit("no clang -fsanitize=fuzzer command in the header of " + src)
print(m.group(1) + " -o " + binary)
EOF
}

summary=()
failed=0
for t in "${targets[@]}"; do
    src=test/fuzz/$t.c
    name=${t#fuzz_}
    bin=$out/bin/$t
    [ -f "$src" ] || { echo "fuzz: no $src" >&2; exit 1; }
    cmd=$(build_command "$src" "$bin")
    if [ ! -x "$bin" ] || [ -n "$(find "$src" pkg -name '*.[ch]' -newer "$bin" -print -quit)" ]; then
        echo "== build $t"
        if ! bash -c "$cmd" >"$out/logs/$t.build.log" 2>&1; then
            cat "$out/logs/$t.build.log" >&2
            summary+=("$(printf '%-26s build failed' "$t")")
            failed=1
            continue
        fi
    fi
    scratch=$out/corpus/$name
    rm -rf "$scratch"
    mkdir -p "$scratch"
    if [ -d "test/fuzz/corpus/$name" ]; then
        cp -r "test/fuzz/corpus/$name/." "$scratch/"
    fi
    if [ $smoke = 1 ]; then
        limit=(-max_total_time="$smoke_seconds")
    else
        limit=(-runs="$runs")
    fi
    log=$out/logs/$t.log
    echo "== run $t (${limit[*]})"
    start=$(date +%s%N)
    status=0
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        -timeout=30 -rss_limit_mb=2048 "$scratch" >"$log" 2>&1 || status=$?
    secs=$(( ($(date +%s%N) - start) / 1000000000 ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
    seeds=$(find "test/fuzz/corpus/$name" -type f 2>/dev/null | wc -l)
    if [ $status -ne 0 ]; then
        failed=1
        tail -40 "$log" >&2
        summary+=("$(printf '%-26s FAILED (exit %d) after %s execs: see %s and %s' "$t" "$status" "${execs:-?}" "$log" "$out/artifacts")")
        continue
    fi
    summary+=("$(printf '%-26s %10s execs %8s/s %6d s  %s (seeds %d)  peak %s MB' "$t" "${execs:-?}" "${rate:-?}" "$secs" "${cov:-?}" "$seeds" "${rss:-?}")")
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        merged=$out/merge/$name
        rm -rf "$merged"
        mkdir -p "$merged" "test/fuzz/corpus/$name"
        cp -r "test/fuzz/corpus/$name/." "$merged/"
        "$bin" -merge=1 "$merged" "$scratch" >"$out/logs/$t.merge.log" 2>&1
        n=0
        for f in "$merged"/*; do
            b=$(basename "$f")
            [ -e "test/fuzz/corpus/$name/$b" ] && continue
            [ "$(stat -c %s "$f")" -le "${FUZZ_MERGE_BYTES:-2048}" ] || continue
            [ $n -lt "${FUZZ_MERGE_MAX:-10}" ] || break
            cp "$f" "test/fuzz/corpus/$name/$b"
            n=$((n + 1))
        done
        echo "   merged $n new inputs into test/fuzz/corpus/$name"
    fi
done
echo
echo "fuzz summary (target, executions, rate, time, coverage at the end, corpus seeds, peak RSS):"
for line in "${summary[@]}"; do echo "  $line"; done
exit $failed
