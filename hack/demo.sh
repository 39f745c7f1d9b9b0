#!/usr/bin/env bash
# The demo: start the local control plane (kube-sim), install the CRDs, and show
# what the API server serves. Cleans up what it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/s2i-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting kube-sim (the embedded local control plane)"
(cd "$root/test/kube-sim" && exec python3 -m kube_sim --port 0 --kubeconfig-out "$work/kubeconfig" \
    --cert-dir "$work/certs" --gc-discovery-delay 2 --job-backoff 1 >"$work/kube-sim.out" 2>"$work/kube-sim.log") &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/kube-sim.out" 2>/dev/null && break; sleep 0.1; done
cat "$work/kube-sim.out"
export KUBECONFIG="$work/kubeconfig" KUBECACHEDIR="$work/kubecache"

step "installing the CustomResourceDefinitions"
kubectl apply -f "$root/crds/"
kubectl wait --for=condition=established crd --all --timeout=30s

step "what the API server now serves for devops.kubesphere.io"
kubectl api-resources --api-group=devops.kubesphere.io
kubectl explain s2irun.spec | sed -n '1,12p'

step "starting the operator"
"$root/${BUILD:-build}/bin/s2i-operator" --kubeconfig "$KUBECONFIG" --builder-image s2i-operator/builder:demo \
    --builder-status-interval 0.2 >"$work/operator.log" 2>&1 &
pids+=($!)

step "a sample builder and run (kube-sim's scripted kubelet plays the build pod)"
kubectl apply -f "$root/crds/samples/secret-docker-config.yaml" -f "$root/crds/samples/secret-git-basic-auth.yaml"
kubectl apply -f "$root/crds/samples/s2ibuilder.yaml"
kubectl apply -f "$root/crds/samples/s2irun.yaml"
kubectl wait --for=condition=Succeeded s2irun --all --timeout=60s
kubectl get s2ib,s2ir,jobs,pods
