#!/usr/bin/env bash
# Assembles a minimal root filesystem for a dynamically linked binary: the binary, the
# shared libraries it loads (its ldd closure, with the dynamic loader), the CA
# certificates, /etc/passwd and /etc/group with the non-root user 65532 (`nonroot`), and
# /tmp. Nothing else: no shell, no package manager, no other programs ("distroless").
#
#   config/images/rootfs.sh DEST BINARY...     each BINARY goes to DEST/usr/local/bin/
#
# Used by the build stage of operator/Containerfile, and by `config/images/build.sh
# rootfs` to make the same tree without a container engine (build/images/operator/rootfs),
# which a daemonless image builder can pack as the image's one layer.
# Works on the glibc of Debian bookworm, where the NSS modules for files and DNS are part
# of libc itself (nothing is dlopen'ed for name resolution).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 DEST BINARY..." >&2
    exit 2
fi
dest=$1
shift

rm -rf "$dest"
mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/tmp" "$dest/home/nonroot"
chmod 1777 "$dest/tmp"
chown 65532:65532 "$dest/home/nonroot" 2>/dev/null || true

libs=()
for bin in "$@"; do
    install -m 0755 "$bin" "$dest/usr/local/bin/$(basename "$bin")"
    # "libx.so.1 => /path/libx.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)";
    # linux-vdso has no file.
    while read -r lib; do
        libs+=("$lib")
    done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
done
for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
    mkdir -p "$dest$(dirname "$lib")"
    # -L: the file itself, under the name the loader looks for.
    cp -L "$lib" "$dest$lib"
    chmod 0755 "$dest$lib"
done

if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/ca-certificates.crt"
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$dest/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$dest/etc/group"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group"
