#!/usr/bin/env bash
# `make image`: builds the container images of config/images/*/Containerfile with
# whichever of buildah, podman or docker (with a reachable daemon) is installed.
#
#   config/images/build.sh [operator|prepare|all]   default all
#   config/images/build.sh rootfs                   only the operator's root filesystem,
#                                                   no engine needed
# Environment:
#   VERSION       image tag (the Makefile passes its VERSION)
#   IMAGE_PREFIX  prepended to the image names, e.g. registry.example.com/devops/
#                 (default none: s2i-operator:VERSION and s2i-prepare:VERSION)
#   IMAGE_ENGINE  buildah, podman or docker: use that one instead of looking
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
VERSION=${VERSION:-0.1.0}
IMAGE_PREFIX=${IMAGE_PREFIX:-}
what=${1:-all}

case "$what" in
    operator | prepare | all | rootfs) ;;
    *) echo "usage: $0 [operator|prepare|all|rootfs]" >&2; exit 2 ;;
esac

if [ "$what" = rootfs ]; then
    # The operator image's tree, built here: what the Containerfile's build stage makes
    # on the same Debian release.
    make all
    config/images/rootfs.sh build/images/operator/rootfs build/bin/s2i-operator
    echo "image: operator root filesystem in build/images/operator/rootfs"
    exit 0
fi

engine=${IMAGE_ENGINE:-}
if [ -z "$engine" ]; then
    if command -v buildah >/dev/null 2>&1; then
        engine=buildah
    elif command -v podman >/dev/null 2>&1; then
        engine=podman
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        engine=docker
    fi
fi
if [ -z "$engine" ]; then
    why="no buildah, no podman"
    if command -v docker >/dev/null 2>&1; then
        why="$why, and the docker client finds no daemon"
    else
        why="$why, no docker"
    fi
    cat >&2 <<MSG
image: no container engine on this machine ($why).
  The Containerfiles are config/images/operator/Containerfile and
  config/images/prepare/Containerfile (context: the repository root); build them where
  buildah, podman or docker exists, or set IMAGE_ENGINE.
  Without any engine: the prepare image is built daemonless by our own s2i-builder
  image code (make images-daemonless, issue 6, not part of config/), and
  'config/images/build.sh rootfs' makes the operator's root filesystem for it.
MSG
    exit 1
fi

# A context holding only what the Containerfiles copy, so that build/ (hundreds of MB of
# objects) is never sent to a daemon.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/config"
cp -r Makefile cmd pkg "$ctx/"
mkdir -p "$ctx/hack" && cp hack/bundle.sh "$ctx/hack/"
cp -r config/images "$ctx/config/"

build_one() {
    local name=$1 tag="${IMAGE_PREFIX}s2i-$1:${VERSION}"
    [ "$name" = operator ] || tag="${IMAGE_PREFIX}s2i-prepare:${VERSION}"
    echo "image: $engine builds $tag from config/images/$name/Containerfile"
    case "$engine" in
        buildah) buildah build --layers -f "$ctx/config/images/$name/Containerfile" \
                     --build-arg "VERSION=$VERSION" -t "$tag" "$ctx" ;;
        *) "$engine" build -f "$ctx/config/images/$name/Containerfile" \
               --build-arg "VERSION=$VERSION" -t "$tag" "$ctx" ;;
    esac
}

case "$what" in
    all) build_one operator; build_one prepare ;;
    *) build_one "$what" ;;
esac
