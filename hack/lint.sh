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
flags="-std=gnu11 -D_GNU_SOURCE -Ipkg $(pkg-config --cflags libcurl json-c yaml-0.1 openssl libwebsockets libarchive)"
clang-tidy --quiet -checks='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,clang-analyzer-*,-clang-analyzer-security.insecureAPI.*,-clang-analyzer-optin.performance.Padding' \
    --warnings-as-errors='*' $files -- $flags || rc=1
exit $rc
