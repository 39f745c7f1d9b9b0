#!/usr/bin/env bash
# A throw-away OCI registry (Debian's docker-registry, i.e. distribution 2.x) on loopback,
# for tests and the demo.
#
#   hack/registry.sh start DIR [--auth USER:PASS] [--tls] [--token REALM]
#       Writes DIR/config.yml (filesystem storage in DIR/storage, 127.0.0.1 on a free
#       port), starts the registry in the background and prints its address
#       (127.0.0.1:PORT; also in DIR/addr).
#         --auth USER:PASS  htpasswd (bcrypt) Basic authentication, DIR/htpasswd
#         --tls             HTTPS with a self-signed certificate for 127.0.0.1/localhost,
#                           DIR/cert.pem (use it as the CA) and DIR/key.pem
#         --token REALM     bearer token authentication: tokens from REALM, issuer
#                           "s2i-test-issuer", service "s2i-test-registry", signed with
#                           DIR/token.key (RSA) whose certificate is DIR/token.crt
#   hack/registry.sh stop DIR
#       Stops the registry started in DIR (storage is left for inspection).
set -euo pipefail

die() {
    echo "registry.sh: $*" >&2
    exit 1
}

write_config() {
    local dir=$1 auth=$2 tls=$3 realm=$4
    {
        echo "version: 0.1"
        echo "log:"
        echo "  level: info"
        echo "  accesslog:"
        echo "    disabled: true"
        echo "storage:"
        echo "  filesystem:"
        echo "    rootdirectory: $dir/storage"
        echo "  delete:"
        echo "    enabled: true"
        echo "  maintenance:"
        echo "    uploadpurging:"
        echo "      enabled: false"
        echo "http:"
        echo "  addr: 127.0.0.1:0"
        echo "  secret: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
        if [ "$tls" = 1 ]; then
            echo "  tls:"
            echo "    certificate: $dir/cert.pem"
            echo "    key: $dir/key.pem"
        fi
        if [ -n "$auth" ]; then
            echo "auth:"
            echo "  htpasswd:"
            echo "    realm: s2i-test"
            echo "    path: $dir/htpasswd"
        elif [ -n "$realm" ]; then
            echo "auth:"
            echo "  token:"
            echo "    realm: $realm"
            echo "    service: s2i-test-registry"
            echo "    issuer: s2i-test-issuer"
            echo "    rootcertbundle: $dir/token.crt"
        fi
        echo "health:"
        echo "  storagedriver:"
        echo "    enabled: false"
    } >"$dir/config.yml"
}

start() {
    local dir=$1
    shift
    local auth="" tls=0 realm=""
    while [ $# -gt 0 ]; do
        case $1 in
        --auth)
            auth=${2:?--auth needs USER:PASS}
            shift 2
            ;;
        --tls)
            tls=1
            shift
            ;;
        --token)
            realm=${2:?--token needs a realm URL}
            shift 2
            ;;
        *) die "unknown option $1" ;;
        esac
    done
    [ -n "$auth" ] && [ -n "$realm" ] && die "--auth and --token exclude each other"
    command -v docker-registry >/dev/null || die "docker-registry is not installed (apt-get install docker-registry)"
    mkdir -p "$dir/storage"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/registry.pid" ] && alive "$(cat "$dir/registry.pid")"; then
        die "a registry already runs in $dir (pid $(cat "$dir/registry.pid"))"
    fi
    if [ -n "$auth" ]; then
        command -v htpasswd >/dev/null || die "htpasswd is not installed (apt-get install apache2-utils)"
        htpasswd -Bbn "${auth%%:*}" "${auth#*:}" >"$dir/htpasswd"
    fi
    if [ "$tls" = 1 ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
            -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    fi
    if [ -n "$realm" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=s2i-test-token-issuer \
            -keyout "$dir/token.key" -out "$dir/token.crt" 2>/dev/null
    fi
    local scheme=http
    [ "$tls" = 1 ] && scheme=https
    # Port 0: the kernel picks a free port, the registry logs which (no race with another
    # process taking a port we chose).
    write_config "$dir" "$auth" "$tls" "$realm"
    setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/registry.pid"
    local port=""
    for _ in $(seq 1 100); do
        alive "$pid" || break
        if [ -z "$port" ]; then
            port=$(sed -n 's/.*msg="listening on 127\.0\.0\.1:\([0-9]*\)[",].*/\1/p' "$dir/registry.log" | head -1)
        fi
        if [ -n "$port" ]; then
            local code
            code=$(curl -sk -o /dev/null -w '%{http_code}' "$scheme://127.0.0.1:$port/v2/" || true)
            if [ "$code" = 200 ] || [ "$code" = 401 ]; then
                echo "127.0.0.1:$port" >"$dir/addr"
                echo "127.0.0.1:$port"
                return 0
            fi
        fi
        sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    rm -f "$dir/registry.pid"
    die "docker-registry did not start; see $dir/registry.log"
}

# Running, and not a zombie waiting for a parent (or an init) to reap it.
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

stop() {
    local dir=$1
    [ -f "$dir/registry.pid" ] || return 0
    local pid
    pid=$(cat "$dir/registry.pid")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do
            alive "$pid" || break
            sleep 0.1
        done
        alive "$pid" && kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$dir/registry.pid" "$dir/addr"
}

case ${1:-} in
start)
    [ $# -ge 2 ] || die "usage: $0 start DIR [--auth USER:PASS] [--tls] [--token REALM]"
    dir=$2
    shift 2
    start "$dir" "$@"
    ;;
stop)
    [ $# -eq 2 ] || die "usage: $0 stop DIR"
    stop "$2"
    ;;
*)
    die "usage: $0 start DIR [--auth USER:PASS] [--tls] [--token REALM] | stop DIR"
    ;;
esac
