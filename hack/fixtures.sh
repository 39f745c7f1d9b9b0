#!/usr/bin/env bash
# Images and sources for builds on a machine without a docker daemon or network: every
# image is made from local files and pushed by our own `s2i-builder image push-rootfs`
# (nothing is downloaded), the sample app is a git repository served on loopback.
#
#   hack/fixtures.sh images REGISTRY [NAME...]
#       Builds and pushes images to REGISTRY (host:port, plain HTTP); prints
#       "NAME REFERENCE DIGEST" per image. NAMEs (default: prepare builder runtime):
#         prepare      our image of the build's prepare step (s2i-operator --builder-image):
#                      the s2i-builder bundle, git with its helpers and libraries, busybox
#                      for git's shell scripts, CA certificates, user 65532
#         builder      a tiny S2I builder image from Debian's busybox-static with the
#                      scripts in test/fixtures/builder, a "toolchain" of TOOLCHAIN_MB
#                      (default 4) MiB, user 1001
#         runtime      a runtime image for phased builds: busybox and the run script only
#         runtime-ar   the runtime image with an assemble-runtime script
#         big-builder  the builder with a 50 MiB toolchain (the benchmark's)
#   hack/fixtures.sh repo DIR
#       DIR/app.git: a bare repository of test/fixtures/app with fixed dates, so that its
#       commits are the same everywhere: branch main, tag v1, branch broken (assemble fails).
#   hack/fixtures.sh git-daemon DIR
#       Serves DIR's repositories with `git daemon` on a free loopback port; prints the
#       base URL (git://127.0.0.1:PORT/). hack/fixtures.sh git-daemon-stop DIR stops it.
#
# BUILD (default build) selects the binaries: BUILD/bin/s2i-builder and the bundle in
# BUILD/bundle/s2i-builder (make builds both). SOURCE_DATE_EPOCH (default 1700000000)
# makes the images reproducible: the same files give the same digests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build="$root/$build" ;; esac
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
APPLETS="sh ash cat cp mv rm ls mkdir rmdir chmod ln echo printf test [ tr sed grep wc head tail
         tar gzip env id sleep true false touch date basename dirname find sort uniq cut expr
         readlink realpath pwd uname which xargs"

die() {
    echo "fixtures.sh: $*" >&2
    exit 1
}

busybox_bin() {
    for b in /bin/busybox /usr/bin/busybox; do
        if [ -x "$b" ] && ! readelf -l "$b" 2>/dev/null | grep -q 'program interpreter'; then
            echo "$b"
            return
        fi
    done
    die "a statically linked busybox is needed (apt-get install busybox-static)"
}

# A busybox userland with an /etc/passwd holding `user` (uid:gid) and a world-writable /tmp.
base_rootfs() {
    local dir=$1 uid=$2 name=$3 bb
    bb=$(busybox_bin)
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/usr/bin" "$dir/root"
    chmod 1777 "$dir/tmp"
    chmod 700 "$dir/root"
    cp "$bb" "$dir/bin/busybox"
    for a in $APPLETS; do
        [ -e "$dir/bin/$a" ] || ln -s busybox "$dir/bin/$a"
    done
    ln -s ../../bin/env "$dir/usr/bin/env"
    printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:0:%s:/tmp:/bin/sh\n' "$name" "$uid" "$name" \
        >"$dir/etc/passwd"
    printf 'root:x:0:\n' >"$dir/etc/group"
}

# A "toolchain": MiB of deterministic incompressible bytes (AES-CTR of zeros under a fixed
# key) in 64 KiB files, so that a snapshot has files to walk as in a real builder image.
filler() {
    local mb=$1 dir=$2
    mkdir -p "$dir"
    head -c $((mb * 1024 * 1024)) /dev/zero |
        openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f \
            -iv 00000000000000000000000000000000 -nosalt |
        split -b 64k -a 4 - "$dir/sdk-"
}

push() {
    local name=$1 ref=$2
    shift 2
    local digest
    digest=$("$build/bin/s2i-builder" image push-rootfs --to "$ref" --insecure "${ref%%/*}" \
        --work "$work" "$@")
    echo "$name $ref $digest"
}

copy_libs() {
    # The shared libraries of each program into the rootfs, at the paths ldd found them.
    local dir=$1
    shift
    for prog in "$@"; do
        ldd "$prog" 2>/dev/null | while read -r name arrow path _; do
            if [ "$arrow" = "=>" ] && [ -f "$path" ]; then
                mkdir -p "$dir/$(dirname "$path")"
                [ -e "$dir/$path" ] || cp -L "$path" "$dir/$path"
            elif [ "${name#/}" != "$name" ] && [ -f "$name" ]; then # the loader
                mkdir -p "$dir/$(dirname "$name")"
                [ -e "$dir/$name" ] || cp -L "$name" "$dir/$name"
            fi
        done
    done
}

image_prepare() {
    local ref=$1 dir="$work/prepare" bundle="$build/bundle/s2i-builder"
    [ -f "$bundle/bundle.txt" ] || die "no bundle in $bundle (run make)"
    command -v git >/dev/null || die "git is not installed"
    base_rootfs "$dir" 65532 s2i
    mkdir -p "$dir/usr/local/lib" "$dir/usr/local/bin" "$dir/usr/lib" "$dir/etc/ssl/certs"
    cp -a "$bundle" "$dir/usr/local/lib/s2i-builder"
    ln -s ../lib/s2i-builder/s2i-builder "$dir/usr/local/bin/s2i-builder"
    cp -L "$(command -v git)" "$dir/usr/bin/git"
    cp -a /usr/lib/git-core "$dir/usr/lib/git-core"
    rm -rf "$dir/usr/lib/git-core/mergetools"
    if [ -d /usr/share/git-core/templates ]; then
        mkdir -p "$dir/usr/share/git-core"
        cp -a /usr/share/git-core/templates "$dir/usr/share/git-core/templates"
    fi
    # The bundle's libraries (the sanitizer runtime of an ASan build too) where the system
    # loader finds them, so that /usr/local/bin/s2i-builder runs as a plain program; hard
    # links, which the layer stores once.
    local b="$dir/usr/local/lib/s2i-builder"
    mkdir -p "$dir/lib/x86_64-linux-gnu" "$dir/lib64"
    ln "$b/ld.so" "$dir/lib64/ld-linux-x86-64.so.2"
    for l in "$b"/lib/*; do
        ln "$l" "$dir/lib/x86_64-linux-gnu/${l##*/}"
    done
    local progs=(/usr/bin/git)
    for p in "$dir"/usr/lib/git-core/*; do
        [ -L "$p" ] || ! head -c4 "$p" | grep -q ELF || progs+=("/usr/lib/git-core/${p##*/}")
    done
    if command -v ssh >/dev/null; then
        cp -L "$(command -v ssh)" "$dir/usr/bin/ssh"
        progs+=("$(command -v ssh)")
    fi
    copy_libs "$dir" "${progs[@]}"
    [ -f /etc/ssl/certs/ca-certificates.crt ] && cp -L /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
    push prepare "$ref" --layer "$dir:0:0" --user 65532 --workdir /tmp \
        --env PATH=/usr/local/bin:/usr/bin:/bin --env HOME=/tmp \
        --entrypoint /usr/local/bin/s2i-builder --cmd version \
        --label org.opencontainers.image.title=s2i-operator-prepare
}

image_builder() {
    local name=$1 ref=$2 mb=$3 dir="$work/$1"
    base_rootfs "$dir" 1001 default
    cp -a "$root/test/fixtures/builder/." "$dir/"
    mkdir -p "$dir/opt/app"
    chmod 777 "$dir/opt/app"
    filler "$mb" "$dir/opt/toolchain/lib"
    push "$name" "$ref" --layer "$dir:0:0" --user 1001 --workdir /opt/app \
        --env PATH=/usr/bin:/bin --env HOME=/tmp --cmd /usr/libexec/s2i/usage \
        --label io.openshift.s2i.scripts-url=image:///usr/libexec/s2i \
        --label io.k8s.description="A tiny S2I builder (busybox)" \
        --label io.openshift.tags=builder,busybox
}

image_runtime() {
    local ref=$1 extra=${2:-}
    local dir="$work/runtime$extra"
    base_rootfs "$dir" 1001 default
    cp -a "$root/test/fixtures/runtime/." "$dir/"
    [ -z "$extra" ] || cp -a "$root/test/fixtures/runtime$extra/." "$dir/"
    mkdir -p "$dir/opt/app"
    chmod 777 "$dir/opt/app"
    push "runtime$extra" "$ref" --layer "$dir:0:0" --user 1001 --workdir /opt/app \
        --env PATH=/usr/bin:/bin --env HOME=/tmp --cmd /usr/libexec/s2i/run \
        --label io.openshift.s2i.scripts-url=image:///usr/libexec/s2i
}

cmd_images() {
    local registry=${1:?usage: $0 images REGISTRY [NAME...]}
    shift
    [ -x "$build/bin/s2i-builder" ] || die "no $build/bin/s2i-builder (run make)"
    [ $# -gt 0 ] || set -- prepare builder runtime
    work=$(mktemp -d /tmp/s2i-fixtures.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    for name in "$@"; do
        case $name in
        prepare) image_prepare "$registry/s2i/prepare:dev" ;;
        builder) image_builder builder "$registry/s2i/busybox-builder:1" "${TOOLCHAIN_MB:-4}" ;;
        big-builder) image_builder big-builder "$registry/s2i/busybox-builder:big" 50 ;;
        runtime) image_runtime "$registry/s2i/busybox-runtime:1" ;;
        runtime-ar) image_runtime "$registry/s2i/busybox-runtime:ar" -ar ;;
        *) die "unknown image $name" ;;
        esac
    done
}

git_fixed() {
    GIT_AUTHOR_NAME="Ada Lovelace" GIT_AUTHOR_EMAIL=ada@example.com \
        GIT_COMMITTER_NAME="Ada Lovelace" GIT_COMMITTER_EMAIL=ada@example.com \
        GIT_AUTHOR_DATE="@$SOURCE_DATE_EPOCH +0000" GIT_COMMITTER_DATE="@$SOURCE_DATE_EPOCH +0000" \
        git -c init.defaultBranch=main -c commit.gpgsign=false "$@"
}

cmd_repo() {
    local dir=${1:?usage: $0 repo DIR}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local src="$dir/app.src"
    rm -rf "$src" "$dir/app.git"
    cp -a "$root/test/fixtures/app" "$src"
    (
        cd "$src"
        git_fixed init -q
        git_fixed add -A
        git_fixed commit -q -m "sample app"
        git_fixed tag v1
        git_fixed checkout -q -b broken
        echo "this file makes assemble fail" >fail-build
        git_fixed add fail-build
        git_fixed commit -q -m "break the build"
        git_fixed checkout -q main
    )
    git clone -q --bare "$src" "$dir/app.git"
    rm -rf "$src"
    echo "$dir/app.git"
}

cmd_git_daemon() {
    local dir=${1:?usage: $0 git-daemon DIR}
    dir=$(cd "$dir" && pwd)
    local port pid
    for _ in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        setsid git daemon --reuseaddr --export-all --base-path="$dir" --listen=127.0.0.1 \
            --port="$port" "$dir" >"$dir/git-daemon.log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$dir/git-daemon.pid"
        for _ in $(seq 50); do
            if git ls-remote "git://127.0.0.1:$port/app.git" >/dev/null 2>&1 ||
                (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                echo "git://127.0.0.1:$port/"
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
    done
    die "git daemon did not start; see $dir/git-daemon.log"
}

cmd_git_daemon_stop() {
    local dir=${1:?usage: $0 git-daemon-stop DIR}
    [ -f "$dir/git-daemon.pid" ] || return 0
    kill "$(cat "$dir/git-daemon.pid")" 2>/dev/null || true
    rm -f "$dir/git-daemon.pid"
}

case ${1:-} in
images) shift && cmd_images "$@" ;;
repo) shift && cmd_repo "$@" ;;
git-daemon) shift && cmd_git_daemon "$@" ;;
git-daemon-stop) shift && cmd_git_daemon_stop "$@" ;;
*) die "usage: $0 images REGISTRY [NAME...] | repo DIR | git-daemon DIR | git-daemon-stop DIR" ;;
esac
