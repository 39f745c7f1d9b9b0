"""Benchmark of a real build: what s2i-builder adds on top of assemble.

Runs builds through the whole stack (kube-sim with its exec runtime, the operator, the
build pod, a loopback docker-registry) with the sample builder images of
hack/fixtures.sh: the small one (4 MiB toolchain) and the big one (50 MiB toolchain in
64 KiB files). Each build step logs where its time went ("build step timings": reading
the builder image's config, the first snapshot, injecting the source, assemble, the
snapshot diff and layer, the push); this prints them, with the run's wall time from
S2iRun created to Successful, and what the second build of the same source reused (the
same layer digest: nothing uploaded but the manifest).

Prints numbers, asserts nothing; says why and exits 0 when the exec runtime cannot work
here. Uses the binaries of $S2I_BUILD_DIR (default build/; hack/bench.sh sets BUILD).
Run from anywhere: python3 test/bench/bench_build.py
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "S2I_BUILD_DIR" not in os.environ and os.environ.get("BUILD"):
    b = os.environ["BUILD"]
    os.environ["S2I_BUILD_DIR"] = b if os.path.isabs(b) else os.path.join(ROOT, b)
sys.path.insert(0, os.path.join(ROOT, "test"))
sys.path.insert(0, os.path.join(ROOT, "test", "kube-sim"))
from e2e.e2eutil import BUILD, Operator  # noqa: E402
from kube_sim import runtime_exec  # noqa: E402
from tests.simutil import Sim, wait_for  # noqa: E402

EPOCH = "1700000000"
RUNS = [("small", "builder", "first build"), ("small", "builder", "same source again"),
        ("big", "big-builder", "first build"), ("big", "big-builder", "same source again")]


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    if r.returncode != 0:
        raise SystemExit("%s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def why_not():
    for tool in ("docker-registry", "git", "skopeo", "umoci", "kubectl", "openssl"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    for path in ("bin/s2i-operator", "bin/s2i-builder", "bundle/s2i-builder/bundle.txt"):
        if not os.path.exists(os.path.join(BUILD, path)):
            return "%s is not built (make)" % os.path.join(BUILD, path)
    return runtime_exec.unavailable()


def fields(line):
    return dict(re.findall(r'(\w+)="([^"]*)"', line))


def main():
    why = why_not()
    if why:
        print("bench_build: skipped: %s" % why)
        return
    work = tempfile.mkdtemp(prefix="bench-build-")
    hack = os.path.join(ROOT, "hack")
    sim = operator = None
    registry_dir = os.path.join(work, "registry")
    git_dir = os.path.join(work, "git")
    try:
        registry = run(os.path.join(hack, "registry.sh"), "start", registry_dir).strip()
        env = dict(os.environ, BUILD=BUILD, SOURCE_DATE_EPOCH=EPOCH)
        t0 = time.monotonic()
        out = run(os.path.join(hack, "fixtures.sh"), "images", registry, "prepare", "builder", "big-builder",
                  env=env)
        images = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}
        print("images made and pushed by s2i-builder image push-rootfs in %.1f s" % (time.monotonic() - t0))
        for name in ("builder", "big-builder"):
            raw = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + images[name]))
            print("  %-11s %s: %.1f MiB compressed" % (name, images[name],
                                                       sum(x["size"] for x in raw["layers"]) / 2 ** 20))
        run(os.path.join(hack, "fixtures.sh"), "repo", git_dir, env=env)
        giturl = run(os.path.join(hack, "fixtures.sh"), "git-daemon", git_dir).strip() + "app.git"
        os.environ["KUBE_SIM_IMAGE_CACHE"] = os.path.join(work, "image-cache")
        sim = Sim("--gc-discovery-delay", "0", "--job-backoff", "0.3", "--runtime", "exec")
        sim.kubectl("apply", "-f", os.path.join(ROOT, "crds"))
        sim.kubectl("wait", "--for=condition=established", "crd", "--all", "--timeout=30s")
        operator = Operator(sim.kubeconfig, work, "--builder-image", images["prepare"], "--insecure-registry",
                            registry, "--http-bind-address", "127.0.0.1:0", "--webhook-port", "0")
        for size, image in (("small", "builder"), ("big", "big-builder")):
            builder = {"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iBuilder",
                       "metadata": {"name": size, "namespace": "default"},
                       "spec": {"config": {"builderImage": images[image],
                                           "imageName": "%s/bench/%s" % (registry, size), "tag": "v1",
                                           "sourceUrl": giturl, "revisionId": "main",
                                           "environment": [{"name": "SOURCE_DATE_EPOCH", "value": EPOCH}]}}}
            sim.kubectl("apply", "-f", "-", input=json.dumps(builder))
        print()
        print("%-6s %-18s %7s %7s %9s %8s %8s %7s %6s %9s  %s" % (
            "image", "build", "run s", "pod s", "builder", "snapshot", "assemble", "layer", "push",
            "overhead", "reuse"))
        digests = {}
        for i, (size, _, what) in enumerate(RUNS):
            name = "%s-%d" % (size, i)
            run_obj = {"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iRun",
                       "metadata": {"name": name, "namespace": "default"}, "spec": {"builderName": size}}
            t0 = time.monotonic()
            sim.kubectl("apply", "-f", "-", input=json.dumps(run_obj))

            def done():
                r = json.loads(sim.kubectl("get", "s2irun", name, "-o", "json").stdout)
                return r if r.get("status", {}).get("runState") in ("Successful", "Failed") else None
            r = wait_for(done, timeout=300, interval=0.1, what=name)
            wall = time.monotonic() - t0
            job = r["status"]["kubernetesJobName"]
            pod = json.loads(sim.kubectl("get", "pods", "-l", "job-name=" + job, "-o", "json").stdout)["items"][0]
            log = sim.kubectl("logs", pod["metadata"]["name"], "-c", "build").stdout
            timing = next((fields(l) for l in log.splitlines() if "build step timings" in l), None)
            pushed = next((fields(l) for l in log.splitlines() if '"pushed"' in l or " pushed " in l), {})
            if r["status"]["runState"] != "Successful" or timing is None:
                print("%-6s %-18s failed: %s" % (size, what, log[-2000:]))
                continue
            st = pod["status"]["containerStatuses"][0]["state"]["terminated"]
            pod_secs = (time.mktime(time.strptime(st["finishedAt"], "%Y-%m-%dT%H:%M:%SZ")) -
                        time.mktime(time.strptime(st["startedAt"], "%Y-%m-%dT%H:%M:%SZ")))
            digest = json.loads(st["message"])["s2iBuildResult"]["imageID"]
            reuse = "base: %s; layer %s" % (pushed.get("baseLayers", "?"), pushed.get("layer", "?"))
            if what == "same source again":
                reuse += "; digest %s" % ("same" if digests.get(size) == digest else "DIFFERENT")
            digests[size] = digest
            print("%-6s %-18s %7.2f %7.0f %9s %8s %8s %7s %6s %9s  %s" % (
                size, what, wall, pod_secs, timing["builderImage"], timing["snapshot"], timing["assemble"],
                timing["layer"], timing["push"], timing["overhead"], reuse))
        print()
        print("run s: S2iRun created -> Successful (both pod steps, image pulls, kube-sim's rootfs copies);")
        print("pod s: the build container (whole seconds); overhead: the build step minus assemble.")
    finally:
        if operator is not None:
            operator.stop(check=False)
        if sim is not None:
            sim.stop()
        subprocess.run([os.path.join(hack, "fixtures.sh"), "git-daemon-stop", git_dir], capture_output=True)
        subprocess.run([os.path.join(hack, "registry.sh"), "stop", registry_dir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
