#!/usr/bin/env bash
# API conformance: replay the recorded real kube-apiserver scenario against a
# fresh kube-sim and require 0 DIFF. Uses ../shared/conformance when it sits
# beside the repository (the team's reference copy), else test/conformance.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref="$root/../shared/conformance"
[ -f "$ref/apidiff.py" ] || ref="$root/test/conformance"
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
cd "$root/test/kube-sim"
python3 -m kube_sim --port 0 --kubeconfig-out "$work/kubeconfig" --cert-dir "$work/certs" \
    >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$work/out" || { echo "kube-sim did not start"; cat "$work/log"; exit 1; }
export KUBECACHEDIR="$work/kubecache"
python3 "$ref/apidiff.py" --a "$work/kubeconfig" --against "$ref/real-apiserver.json"
