#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need.
# Idempotent: when everything is present it only checks (a second or so).
#   hack/deps.sh           install what is missing
#   hack/deps.sh --check   exit 1 if anything is missing, install nothing
set -euo pipefail

PACKAGES=(
    # build
    gcc make pkg-config libc6-dev
    libcurl4-openssl-dev libjson-c-dev libyaml-dev libssl-dev libwebsockets-dev
    libarchive-dev zlib1g-dev
    # the s2i-builder bundle (hack/bundle.sh reads the program interpreter with readelf);
    # ssh for git over ssh in the prepare image (hack/fixtures.sh copies it in)
    binutils openssh-client
    # unit tests, memory checks, lint, fuzzing
    check libsubunit-dev valgrind clang libclang-rt-14-dev clang-tidy clang-format cppcheck
    # kube-sim, e2e tests, demo
    python3 openssl curl ca-certificates git procps util-linux
    docker-registry skopeo umoci busybox-static apache2-utils
    # GitOps health check tests, benchmark plots
    lua5.4 gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

# kubectl is the client of every end-to-end test: use the machine's, else Debian's.
if ! command -v kubectl >/dev/null 2>&1; then
    missing+=(kubernetes-client)
fi

if [ "${1:-}" = "--check" ]; then
    if [ ${#missing[@]} -gt 0 ]; then
        echo "missing packages: ${missing[*]}" >&2
        exit 1
    fi
    exit 0
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
