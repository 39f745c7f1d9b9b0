#!/usr/bin/env bash
# The self-contained s2i-builder: the binary, every shared library it needs (ldd), the
# dynamic loader and a CA bundle in one directory, so that it runs in any builder image
# (glibc, musl, busybox, distroless) through its own loader:
#
#   DIR/ld.so --inhibit-cache --library-path DIR/lib DIR/s2i-builder build
#
#   hack/bundle.sh BINARY DIR
# DIR is replaced. DIR/bundle.txt marks it as a bundle (s2i-builder prepare copies
# such a directory to /s2i/tools).
set -euo pipefail
bin=${1:?usage: $0 BINARY DIR}
out=${2:?usage: $0 BINARY DIR}
die() {
    echo "bundle.sh: $*" >&2
    exit 1
}
[ -x "$bin" ] || die "$bin is not an executable"
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
[ -n "$interp" ] || die "$bin has no program interpreter (a static binary needs no bundle)"
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/lib" "$tmp/certs"
cp "$bin" "$tmp/s2i-builder"
cp -L "$interp" "$tmp/ld.so"
# "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)": saved under its soname,
# the name the loader looks for.
ldd "$bin" | while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    [ -n "$path" ] && [ -f "$path" ] || die "$bin: $name not found"
    cp -L "$path" "$tmp/lib/$name"
done
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp -L /etc/ssl/certs/ca-certificates.crt "$tmp/certs/ca-certificates.crt"
fi
chmod -R a+rX "$tmp"
version=$("$tmp/ld.so" --inhibit-cache --library-path "$tmp/lib" "$tmp/s2i-builder" version)
{
    echo "$version"
    echo "run: ld.so --inhibit-cache --library-path lib s2i-builder"
} >"$tmp/bundle.txt"
rm -rf "$out"
mv "$tmp" "$out"
