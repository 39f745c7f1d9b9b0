#!/usr/bin/env bash
# The demo: a real Source-to-Image build on this machine, with no docker daemon and
# nothing downloaded.
#   - a registry (Debian's docker-registry on loopback) and our images, made from local
#     files by `s2i-builder image push-rootfs` (hack/fixtures.sh);
#   - the sample app in a git repository served by `git daemon` on loopback;
#   - kube-sim with its exec runtime (pods really run, in user namespaces) and the operator;
#   - an S2iBuilder and an S2iRun applied with kubectl; the build pod clones, assembles and
#     pushes; the run ends Successful with the image's digest, and a pod runs the image.
# Everything it started is stopped at the end. Needs root (user namespaces with ID maps).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build="$root/$build" ;; esac
export BUILD=$build
work=$(mktemp -d /tmp/s2i-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$root/hack/fixtures.sh" git-daemon-stop "$work/git" 2>/dev/null || true
    "$root/hack/registry.sh" stop "$work/registry" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

why=$(cd "$root/test/kube-sim" && python3 -c 'from kube_sim import runtime_exec; print(runtime_exec.unavailable() or "")')
if [ -n "$why" ]; then
    echo "demo: kube-sim cannot run build pods here: $why" >&2
    echo "demo: run it as root on a machine with user namespaces (hack/deps.sh installs the rest)" >&2
    exit 1
fi

step "a registry on loopback (Debian's docker-registry)"
registry=$("$root/hack/registry.sh" start "$work/registry")
echo "registry at $registry"

step "our images, from local files, pushed by s2i-builder image push-rootfs (no daemon)"
"$root/hack/fixtures.sh" images "$registry" prepare builder runtime | tee "$work/images"
prepare=$(awk '$1 == "prepare" {print $2}' "$work/images")
builder=$(awk '$1 == "builder" {print $2}' "$work/images")
runtime=$(awk '$1 == "runtime" {print $2}' "$work/images")

step "the sample app (test/fixtures/app) in a git repository, served by git daemon"
"$root/hack/fixtures.sh" repo "$work/git" >/dev/null
giturl="$("$root/hack/fixtures.sh" git-daemon "$work/git")app.git"
git ls-remote "$giturl"

step "kube-sim with the exec runtime (pods run for real) and the operator"
(cd "$root/test/kube-sim" && KUBE_SIM_IMAGE_CACHE="$work/images-cache" KUBE_SIM_PULL_BACKOFF=1 \
    exec python3 -m kube_sim --port 0 --kubeconfig-out "$work/kubeconfig" --cert-dir "$work/certs" \
    --gc-discovery-delay 2 --job-backoff 1 --runtime exec >"$work/kube-sim.out" 2>"$work/kube-sim.log") &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/kube-sim.out" 2>/dev/null && break; sleep 0.1; done
cat "$work/kube-sim.out"
export KUBECONFIG="$work/kubeconfig" KUBECACHEDIR="$work/kubecache"
kubectl apply -f "$root/crds/" >/dev/null
kubectl wait --for=condition=established crd --all --timeout=30s >/dev/null
# Its HTTP listeners on ports the kernel picks, and no webhooks (kube-sim has no
# webhook configuration for them here): the demo never collides with anything running.
"$build/bin/s2i-operator" --kubeconfig "$KUBECONFIG" --builder-image "$prepare" \
    --insecure-registry "$registry" --builder-status-interval 0.2 --run-status-interval 0.5 \
    --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 \
    --http-bind-address 127.0.0.1:0 --webhook-port 0 >"$work/operator.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "caches synced" "$work/operator.log" && break; sleep 0.1; done
if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    echo "demo: the operator exited:" >&2
    cat "$work/operator.log" >&2
    exit 1
fi
echo "operator started (--builder-image $prepare --insecure-registry $registry)"

step "a sample S2iBuilder and S2iRun"
cat >"$work/hello.yaml" <<EOF
apiVersion: devops.kubesphere.io/v1alpha1
kind: S2iBuilder
metadata:
  name: hello
spec:
  config:
    builderImage: $builder
    imageName: $registry/demo/hello
    tag: v1
    sourceUrl: $giturl
    revisionId: main
    environment:
    - name: SOURCE_DATE_EPOCH   # reproducible: the same source gives the same digest
      value: "1700000000"
---
apiVersion: devops.kubesphere.io/v1alpha1
kind: S2iRun
metadata:
  name: hello-1
spec:
  builderName: hello
EOF
cat "$work/hello.yaml"
kubectl apply -f "$work/hello.yaml"

# Progress, as `kubectl get -w` would show it: a line whenever something changes.
watch_run() {
    local run=$1 last="" now state
    for _ in $(seq 600); do
        now=$(kubectl get s2ir "$run" -o jsonpath='{.metadata.name} {.status.runState} {.status.conditions[0].reason}' 2>/dev/null)
        now="$now | pod $(kubectl get pods -l "devops.kubesphere.io/s2ir=$run" --no-headers 2>/dev/null |
            awk '{print $1, $3}' | tr '\n' ' ')"
        if [ "$now" != "$last" ]; then
            echo "$(date +%T)  $now"
            last=$now
        fi
        state=$(kubectl get s2ir "$run" -o jsonpath='{.status.runState}' 2>/dev/null || true)
        if [ "$state" = Successful ] || [ "$state" = Failed ]; then
            return 0
        fi
        sleep 0.5
    done
    echo "demo: $run did not finish" >&2
    return 1
}

step "building: prepare (clone) -> build (assemble in the builder image, push)"
watch_run hello-1
pod=$(kubectl get pods -l devops.kubesphere.io/s2ir=hello-1 -o jsonpath='{.items[0].metadata.name}')
echo "--- the build's log (kubectl logs $pod -c build)"
kubectl logs "$pod" -c build
echo "---"
kubectl get s2ir hello-1
state=$(kubectl get s2ir hello-1 -o jsonpath='{.status.runState}')
digest=$(kubectl get s2ir hello-1 -o jsonpath='{.status.s2iBuildResult.imageID}')
if [ "$state" != Successful ]; then
    echo "demo: the run ended $state" >&2
    kubectl get s2ir hello-1 -o yaml >&2
    exit 1
fi
if [ -z "$digest" ]; then
    # The builder's own report, from the pod's termination message.
    echo "note: the run's status has no s2iBuildResult; the build pod's report says:"
    digest=$(kubectl get pod "$pod" -o jsonpath='{.status.containerStatuses[0].state.terminated.message}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["s2iBuildResult"]["imageID"])')
fi
echo "run hello-1: $state, image $registry/demo/hello:v1@$digest"
registry_digest=$(skopeo inspect --tls-verify=false "docker://$registry/demo/hello:v1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
echo "skopeo inspect docker://$registry/demo/hello:v1: $registry_digest"
[ "$registry_digest" = "$digest" ] || { echo "demo: the registry holds another image" >&2; exit 1; }
skopeo inspect --tls-verify=false --config "docker://$registry/demo/hello:v1" |
    python3 -c 'import json,sys
c = json.load(sys.stdin)["config"]
print("image config: Cmd", c["Cmd"], "User", c["User"])
for k, v in sorted(c["Labels"].items()):
    if k.startswith("io.openshift.s2i.build."):
        print("  label", k, "=", v)'

step "proof: a pod runs the built image (its Cmd is the builder's run script)"
kubectl run hello-app --image="$registry/demo/hello:v1" --restart=Never >/dev/null
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/hello-app --timeout=120s >/dev/null
echo "kubectl logs hello-app:"
kubectl logs hello-app

step "a phased build: the same app on a slim runtime image"
cat >"$work/slim.yaml" <<EOF
apiVersion: devops.kubesphere.io/v1alpha1
kind: S2iBuilder
metadata:
  name: hello-slim
spec:
  config:
    builderImage: $builder
    runtimeImage: $runtime
    runtimeArtifacts:
    - source: /opt/app/greeting.compiled
      destination: .
    imageName: $registry/demo/hello-slim
    tag: v1
    sourceUrl: $giturl
    revisionId: main
---
apiVersion: devops.kubesphere.io/v1alpha1
kind: S2iRun
metadata:
  name: hello-slim-1
spec:
  builderName: hello-slim
EOF
kubectl apply -f "$work/slim.yaml"
watch_run hello-slim-1
kubectl get s2ir
echo "image sizes (compressed layers): hello $(kubectl get s2ir hello-1 -o jsonpath='{.status.s2iBuildResult.imageSize}') bytes," \
    "hello-slim $(kubectl get s2ir hello-slim-1 -o jsonpath='{.status.s2iBuildResult.imageSize}') bytes"
kubectl run hello-slim-app --image="$registry/demo/hello-slim:v1" --restart=Never >/dev/null
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/hello-slim-app --timeout=120s >/dev/null
echo "kubectl logs hello-slim-app:"
kubectl logs hello-slim-app

step "done: stopping the operator, kube-sim, git daemon and the registry"
