#!/usr/bin/env bash
# Static checks: clang-format (dry run), cppcheck and clang-tidy over pkg/ and cmd/.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
files=$(git ls-files 'pkg/*.c' 'cmd/*.c')
headers=$(git ls-files 'pkg/*.h')
rc=0
clang-format --dry-run --Werror $files $headers || rc=1
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
    --inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB -Ipkg $files || rc=1
# Disabled: sizeof-expression flags "n * sizeof *ptr_to_ptr" allocations (correct C);
# valist.Uninitialized misreads a va_list handed to a helper after va_start.
flags="-std=gnu11 -D_GNU_SOURCE -Ipkg $(pkg-config --cflags libcurl json-c yaml-0.1 openssl libwebsockets libarchive)"
clang-tidy --quiet -checks='-*,bugprone-*,clang-analyzer-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,-bugprone-sizeof-expression,-clang-analyzer-security.insecureAPI.*,-clang-analyzer-optin.performance.Padding,-clang-analyzer-valist.Uninitialized' \
    --warnings-as-errors='*' $files -- $flags || rc=1
exit $rc
