"""The operator's costs, measured on the whole binary against an API server: memory,
create->Job latency, burst throughput, API requests per run, CPU per run as runs
accumulate. Prints a table (each figure with its workload); asserts nothing.

Against kube-sim on loopback (started here), or against $KUBECONFIG when set (then the
kube-sim-only figures -- request counts by verb from /kube-sim/stats, cached-state
loading, the bare Job-create ceiling -- are skipped or taken from the operator's side).

Timing: kube-sim's creationTimestamp has one-second precision, so latencies are taken
client-side: one watch on S2iRuns and one on Jobs, and each event's local receive time
(time.monotonic() when its bytes arrived). create->Job = receive(Job ADDED) -
receive(run ADDED): both events come from the same server over the same kind of
stream, so their delivery delays mostly cancel; the figure is what a user watching
the cluster sees. Job complete->runState likewise: receive(Job MODIFIED with condition
Complete/Failed) to receive(run MODIFIED with runState final).

Knobs (environment):
  BENCH_BURST=1000          runs in the burst
  BENCH_STEPS=5             bursts of BENCH_BURST for CPU/RSS/latency against runs accumulated
  BENCH_SERIAL=100          samples of create->Job with one creation at a time
  BENCH_CONCURRENT=100      creations at once; BENCH_ROUNDS=3 rounds of them
  BENCH_CACHED=1000,10000   finished runs (+ Jobs + Pods) in the cluster for the cached RSS
  BENCH_UNRELATED=10000     unrelated ConfigMaps and as many Pods
  BENCH_LIFECYCLE=200       runs through the scripted kubelet (completion latency, requests/run)
  BENCH_PROBE=20            runs created one at a time after each burst (latency as runs accumulate)
  BENCH_QPS=1000            --kube-api-qps of the other sections and of --workers 8 (burst 2x)
  BENCH_WORKERS=8           the backlog also with that many --workers (0: not)
  BENCH_OUT=build/bench-out data files (operator.json, operator.dat for the plot)
"""
import json
import os
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

NS = "bench"
E = os.environ.get
BURST = int(E("BENCH_BURST", "1000"))
STEPS = int(E("BENCH_STEPS", "5"))
SERIAL = int(E("BENCH_SERIAL", "100"))
CONCURRENT = int(E("BENCH_CONCURRENT", "100"))
ROUNDS = int(E("BENCH_ROUNDS", "3"))
CACHED = [int(x) for x in E("BENCH_CACHED", "1000,10000").split(",") if x]
UNRELATED = int(E("BENCH_UNRELATED", "10000"))
LIFECYCLE = int(E("BENCH_LIFECYCLE", "200"))
PROBE = int(E("BENCH_PROBE", "20"))
WORKERS = int(E("BENCH_WORKERS", "8"))
QPS = int(E("BENCH_QPS", "1000"))
OUT = E("BENCH_OUT") or os.path.join(bl.ROOT, "build", "bench-out")
RAISED = ["--kube-api-qps", str(QPS), "--kube-api-burst", str(2 * QPS)]

rows = []      # (section, figure, value, workload)
data = {}      # for operator.json and the plot


def row(section, figure, value, workload=""):
    rows.append((section, figure, value, workload))
    print("  %-44s %-26s %s" % (figure, value, workload), flush=True)


def ms(s):
    return "%.1f ms" % (s * 1000.0)


def mem_row(section, op, what, workload):
    sm = op.smaps()
    row(section, what, bl.mib(sm["Rss"]),
        "%s; anon %s, file-backed %s" % (workload, bl.mib(sm.get("Anonymous", 0)),
                                         bl.mib(sm["Rss"] - sm.get("Anonymous", 0))))
    return sm


def top_file_mappings(pid, n=6):
    """The file-backed mappings with most resident pages: where the non-anonymous RSS is."""
    by = {}
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                cur = parts[5] if len(parts) >= 6 else "[anon]"
            elif parts[0] == "Rss:" and cur and cur.startswith("/"):
                by[os.path.basename(cur)] = by.get(os.path.basename(cur), 0) + int(parts[1])
    return sorted(by.items(), key=lambda kv: -kv[1])[:n]


class Timeline:
    """Receive times of run and Job events in namespace NS, keyed by run name."""

    def __init__(self, cluster):
        self.run_added, self.job_added, self.job_done, self.run_done = {}, {}, {}, {}
        self.run_rv, self.job_rv = {}, {}
        self.run_writes = {}          # run name -> [rv of each MODIFIED]
        self.event_rvs = {}           # run name -> [rv of each Event about it]
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.watches = [bl.Watch(cluster, bl.RUNS_PATH % NS, self.on_run),
                        bl.Watch(cluster, bl.JOBS_PATH % NS, self.on_job),
                        bl.Watch(cluster, "/api/v1/namespaces/%s/events" % NS, self.on_event)]

    def on_run(self, t, typ, o):
        name = o["metadata"]["name"]
        with self.cond:
            if typ == "ADDED":
                self.run_added.setdefault(name, t)
                self.run_rv.setdefault(name, int(o["metadata"]["resourceVersion"]))
            elif typ == "MODIFIED":
                self.run_writes.setdefault(name, []).append(int(o["metadata"]["resourceVersion"]))
                if (o.get("status") or {}).get("runState") in ("Successful", "Failed"):
                    self.run_done.setdefault(name, t)
            self.cond.notify_all()

    def on_job(self, t, typ, o):
        owners = [r["name"] for r in o["metadata"].get("ownerReferences") or [] if r.get("kind") == "S2iRun"]
        if not owners:
            return
        name = owners[0]
        with self.cond:
            if typ == "ADDED":
                self.job_added.setdefault(name, t)
                self.job_rv.setdefault(name, int(o["metadata"]["resourceVersion"]))
            for c in (o.get("status") or {}).get("conditions") or []:
                if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                    self.job_done.setdefault(name, t)
            self.cond.notify_all()

    def on_event(self, t, typ, o):
        io = o.get("involvedObject") or o.get("regarding") or {}
        if io.get("kind") == "S2iRun" and typ in ("ADDED", "MODIFIED"):
            with self.cond:
                self.event_rvs.setdefault(io.get("name"), []).append(int(o["metadata"]["resourceVersion"]))

    def wait(self, names, which, timeout=600):
        d = getattr(self, which)
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(n in d for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in d]
                    raise RuntimeError("%d of %d runs without %s (e.g. %s)" % (len(missing), len(names), which,
                                                                             missing[:3]))
                self.cond.wait(min(left, 1.0))

    def latencies(self, names, start="run_added", end="job_added"):
        s, e = getattr(self, start), getattr(self, end)
        return [e[n] - s[n] for n in names if n in s and n in e]

    def writes_before_job(self, names):
        """Per run: the operator's writes that the server ordered before the Job's creation
        (one global resourceVersion: the run's MODIFIEDs and Events about it with a lower
        one), plus the Job create itself."""
        out = []
        for n in names:
            jrv = self.job_rv.get(n)
            if jrv is None:
                continue
            w = sum(1 for rv in self.run_writes.get(n, []) if rv < jrv)
            w += sum(1 for rv in self.event_rvs.get(n, []) if rv < jrv)
            out.append(w + 1)
        return out

    def stop(self):
        for w in self.watches:
            w.stop()


def names(prefix, n):
    return ["%s-%05d" % (prefix, i) for i in range(n)]


def create_runs(cluster, ns_names, labeled=True, clients=8):
    objs = [bl.run(n, "b", labeled=labeled) for n in ns_names]
    return bl.create_parallel(cluster, bl.RUNS_PATH % NS, objs, clients=clients)


def delete_collection(cluster, path):
    c = cluster.conn()
    c.request("DELETE", path)
    c.close()


# ---- sections -------------------------------------------------------------------------

def section_idle_and_unrelated(cluster, workdir):
    print("\n# memory: idle, and with unrelated objects in the cluster", flush=True)
    op = bl.Operator(cluster, workdir)
    op.wait_ready()
    time.sleep(2)
    sm0 = mem_row("memory", op, "RSS idle after sync", "empty cluster: CRDs, 1 S2iBuilder")
    data["idle"] = sm0
    data["file_mappings"] = top_file_mappings(op.pid)
    row("memory", "  largest file-backed mappings", ", ".join("%s %s" % (k, bl.mib(v))
                                                              for k, v in data["file_mappings"][:4]))
    op.stop()
    if UNRELATED and cluster.is_sim:
        bl.ensure_namespace(cluster, "unrelated")
        t0 = time.monotonic()
        cms = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%05d" % i},
                "data": {"k": "x" * 512}} for i in range(UNRELATED)]
        pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod-%05d" % i, "labels": {"app": "other"}},
                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}} for i in range(UNRELATED)]
        bl.create_parallel(cluster, bl.CM_PATH % "unrelated", cms)
        bl.create_parallel(cluster, bl.PODS_PATH % "unrelated", pods)
        print("  (created %d ConfigMaps and %d Pods in %.0f s)" % (UNRELATED, UNRELATED, time.monotonic() - t0))
        op = bl.Operator(cluster, workdir)
        op.wait_ready()
        time.sleep(2)
        sm1 = mem_row("memory", op, "RSS idle after sync, unrelated objects",
                      "+%d ConfigMaps and %d Pods (other namespace, no s2i labels)" % (UNRELATED, UNRELATED))
        row("memory", "  difference to idle", "%+.1f MiB" % ((sm1["Rss"] - sm0["Rss"]) / 1024.0),
            "anon %+.1f MiB" % ((sm1.get("Anonymous", 0) - sm0.get("Anonymous", 0)) / 1024.0))
        data["unrelated"] = sm1
        op.stop()
        delete_collection(cluster, bl.CM_PATH % "unrelated")
        delete_collection(cluster, bl.PODS_PATH % "unrelated")


def serial_latency(cluster, tl, prefix, n, labeled=True):
    ns = names(prefix, n)
    c = cluster.conn()
    for name in ns:
        c.request("POST", bl.RUNS_PATH % NS, bl.run(name, "b", labeled=labeled), retries=3)
        tl.wait([name], "job_added", timeout=60)
    c.close()
    return ns


def concurrent_latency(cluster, tl, prefix, n, rounds):
    all_names = []
    for r in range(rounds):
        ns = names("%s%d" % (prefix, r), n)
        barrier = threading.Barrier(n)

        def one(name):
            c = cluster.conn()
            c._connect()
            barrier.wait()
            c.request("POST", bl.RUNS_PATH % NS, bl.run(name, "b"), retries=3)
            c.close()
        threads = [threading.Thread(target=one, args=(x,)) for x in ns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        tl.wait(ns, "job_added", timeout=300)
        all_names += ns
    return all_names


def section_latency_throughput(cluster, workdir):
    """kube-sim without the job controller and kubelet: Jobs stay as created, so the
    API server's time goes to the operator's requests and ours only."""
    print("\n# create->Job latency, burst throughput, writes and CPU (no job controller, no kubelet)",
          flush=True)
    tl = Timeline(cluster)
    op = bl.Operator(cluster, workdir, *RAISED)
    op.wait_ready()

    ns = serial_latency(cluster, tl, "s1", SERIAL)
    lat = tl.latencies(ns)
    row("latency", "create->Job, 1 at a time: p50 / p99", "%s / %s" % (ms(bl.pct(lat, 50)), ms(bl.pct(lat, 99))),
        "%d runs, each created after the previous one's Job" % len(lat))
    data["serial"] = lat
    jobs = bl.list_items(cluster, bl.JOBS_PATH % NS)
    if jobs:
        data["sample_job"] = jobs[0]
    wb = tl.writes_before_job(ns)
    row("writes", "writes per run up to its Job (labeled run)", "%.2f" % (sum(wb) / max(1, len(wb))),
        "run created with the builder label (as our webhook sets it); by resourceVersion order")
    ns2 = serial_latency(cluster, tl, "nolabel", 20, labeled=False)
    wb2 = tl.writes_before_job(ns2)
    row("writes", "writes per run up to its Job (no label)", "%.2f" % (sum(wb2) / max(1, len(wb2))),
        "run created without the label (no webhook): the operator patches it first")

    ns = concurrent_latency(cluster, tl, "c", CONCURRENT, ROUNDS)
    lat = tl.latencies(ns)
    row("latency", "create->Job, %d at once: p50 / p99" % CONCURRENT,
        "%s / %s" % (ms(bl.pct(lat, 50)), ms(bl.pct(lat, 99))),
        "%d rounds of %d runs created together (barrier)" % (ROUNDS, CONCURRENT))
    data["concurrent"] = lat
    op.stop()
    tl.stop()
    if cluster.is_sim:
        delete_collection(cluster, bl.RUNS_PATH % NS)   # their Jobs go with them (gc)
        time.sleep(3)

    # A backlog: BURST runs waiting when the operator starts (its reconcile rate alone,
    # no client competing for the CPU), with the default client limits and raised ones.
    configs = [("default flags (--kube-api-qps 1000, --workers 2)", []),
               ("--kube-api-qps 50 (the default before 2026-11-26)",
                ["--kube-api-qps", "50", "--kube-api-burst", "100"])]
    if WORKERS:
        configs.append(("--kube-api-qps %d --workers %d" % (QPS, WORKERS), RAISED + ["--workers", str(WORKERS)]))
    for k, (label, args) in enumerate(configs):
        tl = Timeline(cluster)
        ns = names("q%d" % k, BURST)
        bl.create_procs(cluster, bl.RUNS_PATH % NS, [bl.run(n, "b") for n in ns])
        tl.wait(ns, "run_added", timeout=120)
        if cluster.is_sim:
            cluster.admin("DELETE", "stats")
        op = bl.Operator(cluster, workdir, *args)
        sampler = bl.RssSampler(op.pid)
        tl.wait(ns, "job_added", timeout=900)
        first = min(tl.job_added[n] for n in ns)
        last = max(tl.job_added[n] for n in ns)
        time.sleep(2.0)
        peak = max(sampler.stop(), op.status_kib("VmHWM") or 0)
        st = cluster.stats() if cluster.is_sim else {}
        row("throughput", "backlog of %d runs, %s" % (BURST, label), "%.0f runs/s to Job" % ((BURST - 1) / (last - first)),
            "runs created before the operator starts; first to last Job ADDED")
        row("memory", "  peak RSS while working it off", bl.mib(peak), "VmHWM")
        if st:
            w = {k: v for k, v in st.items() if not k.startswith(("get", "list", "watch"))}
            row("requests", "  writes per run (Job + what follows it within 2 s)",
                ", ".join("%s %.2f" % (k, v / BURST) for k, v in sorted(w.items())), "kube-sim stats, s2i-operator")
        data.setdefault("backlog", {})[label] = {"rate": (BURST - 1) / (last - first), "peak": peak, "stats": st}
        op.stop()
        tl.stop()
        if cluster.is_sim:
            delete_collection(cluster, bl.RUNS_PATH % NS)
            time.sleep(3)

    # Live bursts (8 clients in 4 processes create BURST runs as fast as the server takes
    # them) with raised limits; RSS, CPU and latency as runs accumulate (nothing deleted).
    tl = Timeline(cluster)
    op = bl.Operator(cluster, workdir, *RAISED)
    op.wait_ready()
    time.sleep(1)
    per_step = []
    for s in range(STEPS):
        ns = names("b%d" % s, BURST)
        if cluster.is_sim:
            cluster.admin("DELETE", "stats")
        sampler = bl.RssSampler(op.pid)
        cpu0 = op.cpu_seconds()
        t0 = time.monotonic()
        bl.create_procs(cluster, bl.RUNS_PATH % NS, [bl.run(n, "b") for n in ns])
        t_created = time.monotonic() - t0
        tl.wait(ns, "job_added", timeout=900)
        first = min(tl.run_added[n] for n in ns)
        last = max(tl.job_added[n] for n in ns)
        rate = BURST / (last - first)
        time.sleep(2.0)   # let the writes after the Job (status, events) settle
        cpu = op.cpu_seconds() - cpu0
        peak = sampler.stop()
        lat = tl.latencies(ns)
        rss = op.smaps()
        probe = tl.latencies(serial_latency(cluster, tl, "p%d" % s, PROBE)) if PROBE else []
        per_step.append({"runs": (s + 1) * BURST, "rate": rate, "cpu": cpu, "rss": rss["Rss"],
                         "anon": rss.get("Anonymous", 0), "peak": peak, "p50": bl.pct(lat, 50),
                         "p99": bl.pct(lat, 99), "client_rate": BURST / t_created,
                         "probe_p50": bl.pct(probe, 50), "probe_p99": bl.pct(probe, 99)})
        if s == 0:
            row("throughput", "live burst of %d, --kube-api-qps %d" % (BURST, QPS), "%.0f runs/s to Job" % rate,
                "first run ADDED to last Job ADDED; the runs were created at %.0f/s" % (BURST / t_created))
            row("latency", "  create->Job in that burst: p50 / p99",
                "%s / %s" % (ms(bl.pct(lat, 50)), ms(bl.pct(lat, 99))), "queueing included")
            row("memory", "  peak RSS during that burst", bl.mib(max(peak, op.status_kib("VmHWM") or 0)),
                "VmHWM of the operator")
    data["steps"] = per_step
    for p in per_step:
        row("cpu", "CPU per 1,000 runs, at %d runs" % p["runs"], "%.2f s" % (p["cpu"] * 1000.0 / BURST),
            "burst %d: RSS after %s (anon %s), %.0f runs/s; then 1 at a time create->Job p50 %s p99 %s"
            % (p["runs"] // BURST, bl.mib(p["rss"]), bl.mib(p["anon"]), p["rate"], ms(p["probe_p50"]),
               ms(p["probe_p99"])))
    if cluster.is_sim:
        mr = bl.malloc_report(op.pid, op.log_path)
        if mr:
            row("memory", "  after malloc_trim(0), malloc in use", "%s (RSS %s)" % (
                bl.mib(mr[0] / 1024.0), bl.mib(op.status_kib("VmRSS"))),
                "%d runs + Jobs cached: heap really used vs kept" % (STEPS * BURST))
            data["steps_malloc"] = mr
    op.stop()
    tl.stop()
    if cluster.is_sim:
        delete_collection(cluster, bl.RUNS_PATH % NS)
        time.sleep(5)


def section_bare_job_rate():
    """The ceiling: how many Jobs per second a fresh kube-sim (same options, nothing else
    running in it) creates for clients that do nothing else, with a copy of a Job the
    operator made; and the round trip of one create, the floor of create->Job."""
    print("\n# the API server's own Job-create rate (a fresh kube-sim)", flush=True)
    sim = bl.start_sim("--controllers", "crd,namespace,gc")
    try:
        cluster = bl.Cluster(sim)
        bl.ensure_namespace(cluster, "ceiling")
        job = data.get("sample_job") or {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"labels": {bl.RUN_LABEL: "x"}},
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": {bl.RUN_LABEL: "x"}},
                     "spec": {"restartPolicy": "Never", "containers": [{"name": "build", "image": "x:1"}]}}}}
        for md in ("uid", "resourceVersion", "creationTimestamp", "ownerReferences", "managedFields",
                   "generation", "namespace"):
            job["metadata"].pop(md, None)
        job.pop("status", None)
        size = len(json.dumps(job))
        c = cluster.conn()
        rtt = []
        for i in range(200):
            j = dict(job, metadata=dict(job["metadata"], name="rtt-%05d" % i))
            t0 = time.monotonic()
            code, _ = c.request("POST", bl.JOBS_PATH % "ceiling", j)
            rtt.append(time.monotonic() - t0)
        c.close()
        row("latency", "one Job create, round trip: p50 / p99", "%s / %s" % (ms(bl.pct(rtt, 50)), ms(bl.pct(rtt, 99))),
            "200 sequential creates on one keep-alive connection: the floor under create->Job")
        data["job_rtt"] = rtt
        for procs, clients in ((2, 1), (4, 2)):
            objs = []
            for i in range(BURST):
                j = json.loads(json.dumps(job))
                j["metadata"]["name"] = "job-%d-%05d" % (procs, i)
                objs.append(j)
            t0 = time.monotonic()
            n = bl.create_procs(cluster, bl.JOBS_PATH % "ceiling", objs, procs=procs, clients=clients)
            dt = time.monotonic() - t0
            row("throughput", "bare Job creates, %d connections (ceiling)" % (procs * clients),
                "%.0f Jobs/s" % (n / dt), "%d Jobs of %d B (a copy of one the operator made), %d processes"
                % (n, size, procs))
            data.setdefault("ceiling", {})[procs * clients] = n / dt
    finally:
        sim.stop()


def section_lifecycle(cluster, workdir):
    """With kube-sim's job controller and scripted kubelet: runs that finish. Completion
    latency and requests per successful run."""
    print("\n# full lifecycle (job controller + scripted kubelet)", flush=True)
    bl.set_scripts(cluster, {"bench.local/builder-ok:1": {
        "exitCode": 0, "duration": 0.05, "logs": "assembling\ndone",
        "terminationMessage": json.dumps({"s2iBuildResult": {"imageName": "x"}})},
        bl.PREPARE_IMAGE: {"exitCode": 0, "duration": 0.01}})
    tl = Timeline(cluster)
    op = bl.Operator(cluster, workdir, *RAISED)
    op.wait_ready()
    if cluster.is_sim:
        cluster.admin("DELETE", "stats")
    cpu0 = op.cpu_seconds()
    # a steady stream, 10 in flight: the kubelet is not the bottleneck
    ns = names("life", LIFECYCLE)
    for i in range(0, LIFECYCLE, 10):
        create_runs(cluster, ns[i:i + 10], clients=2)
        tl.wait(ns[i:i + 10], "run_done", timeout=120)
    time.sleep(3)
    cpu = op.cpu_seconds() - cpu0
    lat = tl.latencies(ns, "job_done", "run_done")
    row("latency", "Job complete->runState: p50 / p99", "%s / %s" % (ms(bl.pct(lat, 50)), ms(bl.pct(lat, 99))),
        "%d runs, 10 in flight, builds of 50 ms" % len(lat))
    data["completion"] = lat
    row("cpu", "CPU per 1,000 complete runs", "%.2f s" % (cpu * 1000.0 / LIFECYCLE),
        "%d runs through Job, Pod and status" % LIFECYCLE)
    if cluster.is_sim:
        st = cluster.stats()
        data["requests_per_run"] = {k: v / LIFECYCLE for k, v in st.items()}
        per = sorted(((k, v / float(LIFECYCLE)) for k, v in st.items()), key=lambda kv: -kv[1])
        row("requests", "API requests per successful run, by verb", "%.2f total" % sum(v for _, v in per),
            ", ".join("%s %.2f" % kv for kv in per if kv[1] >= 0.005))
    rss = op.smaps()
    row("memory", "RSS after %d complete runs" % LIFECYCLE, bl.mib(rss["Rss"]),
        "anon %s" % bl.mib(rss.get("Anonymous", 0)))
    op.stop()
    tl.stop()
    if cluster.is_sim:
        sim = cluster.sim
        snap = sim.request("GET", bl.RUNS_PATH % NS)[1]["items"], \
            sim.request("GET", bl.JOBS_PATH % NS)[1]["items"], sim.request("GET", bl.PODS_PATH % NS)[1]["items"]
        return snap
    return None


def clone_state(template_state, samples, n):
    """A kube-sim state with n finished runs, each with its Job and Pod, cloned from real
    ones (names, uids and owner references renamed)."""
    runs, jobs, pods = samples
    job_by_run = {r["uid"]: j for j in jobs for r in j["metadata"].get("ownerReferences") or []}
    pod_by_job = {r["uid"]: p for p in pods for r in p["metadata"].get("ownerReferences") or []}
    triples = [(r, job_by_run[r["metadata"]["uid"]], pod_by_job[job_by_run[r["metadata"]["uid"]]["metadata"]["uid"]])
               for r in runs if r["metadata"]["uid"] in job_by_run
               and job_by_run[r["metadata"]["uid"]]["metadata"]["uid"] in pod_by_job]
    st = json.loads(json.dumps(template_state))
    rv = st["rv"]
    out = {"devops.kubesphere.io|s2iruns": [], "batch|jobs": [], "|pods": []}
    for i in range(n):
        r, j, p = json.loads(json.dumps(triples[i % len(triples)]))
        suffix = "%06d" % i
        ruid, juid, puid = (str(uuid.uuid4()) for _ in range(3))
        old_run, old_job, old_pod = r["metadata"]["name"], j["metadata"]["name"], p["metadata"]["name"]
        rn, jn, pn = "cached-%s" % suffix, "cached-%s-job" % suffix, "cached-%s-pod" % suffix
        text_r = json.dumps(r).replace(old_job, jn).replace(old_pod, pn)
        text_j = json.dumps(j).replace(old_run, rn)
        text_p = json.dumps(p).replace(old_job, jn).replace(old_run, rn)
        r, j, p = json.loads(text_r), json.loads(text_j), json.loads(text_p)
        r["metadata"].update(name=rn, uid=ruid)
        j["metadata"].update(name=jn, uid=juid)
        p["metadata"].update(name=pn, uid=puid)
        for ref in j["metadata"].get("ownerReferences") or []:
            ref.update(name=rn, uid=ruid)
        for ref in p["metadata"].get("ownerReferences") or []:
            ref.update(name=jn, uid=juid)
        for o, key in ((r, "devops.kubesphere.io|s2iruns"), (j, "batch|jobs"), (p, "|pods")):
            rv += 1
            o["metadata"]["resourceVersion"] = str(rv)
            out[key].append(o)
    for k, v in out.items():
        st["data"][k] = sorted(st["data"].get(k, []) + v,
                               key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    st["rv"] = rv
    return st


def section_cached(workdir, samples):
    print("\n# memory with finished runs cached (state cloned from real runs, loaded into kube-sim)", flush=True)
    state_path = os.path.join(workdir, "base-state.json")
    # kube-sim saves its state on SIGTERM when started with --state-file
    base = bl.start_sim("--controllers", "crd,namespace,gc", state_file=state_path)
    base_cluster = bl.Cluster(base)
    bl.install_crds(base_cluster)
    bl.ensure_namespace(base_cluster, NS)
    base.request("POST", bl.BUILDERS_PATH % NS, bl.builder("b"))
    base.stop()
    with open(state_path) as f:
        template = json.load(f)
    for n in CACHED:
        st = clone_state(template, samples, n)
        path = os.path.join(workdir, "state-%d.json" % n)
        with open(path, "w") as f:
            json.dump(st, f)
        sim = bl.start_sim("--controllers", "crd,namespace,gc", state_file=path)
        try:
            cl = bl.Cluster(sim)
            op = bl.Operator(cl, workdir)
            t0 = time.monotonic()
            op.wait_ready(timeout=600)
            sync = time.monotonic() - t0
            time.sleep(3)
            sm = mem_row("memory", op, "RSS with %d finished runs cached" % n,
                         "%d runs + %d Jobs + %d Pods; synced in %.1f s; peak %s"
                         % (n, n, n, sync, bl.mib(op.status_kib("VmHWM"))))
            entry = {"runs": n, "rss": sm["Rss"], "anon": sm.get("Anonymous", 0),
                     "peak": op.status_kib("VmHWM"), "sync": sync}
            mr = bl.malloc_report(op.pid, op.log_path)
            if mr:
                entry["malloc_in_use"], entry["malloc_system"] = mr
                entry["rss_trimmed"] = op.status_kib("VmRSS")
                row("memory", "  after malloc_trim(0)", "%s; malloc in use %s" % (
                    bl.mib(entry["rss_trimmed"]), bl.mib(mr[0] / 1024.0)),
                    "what the heap holds vs what it keeps (freed pages of the initial list)")
            data.setdefault("cached", []).append(entry)
            op.stop()
        finally:
            sim.stop()
            os.unlink(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bench-operator-")
    kubeconfig = os.environ.get("KUBECONFIG")
    print("| machine | |")
    print("|---|---|")
    for k, v in bl.machine():
        print("| %s | %s |" % (k, v))
    print("| API server | %s |" % ("$KUBECONFIG" if kubeconfig else "kube-sim (Python) on loopback"))
    samples = None
    if kubeconfig:
        cluster = bl.Cluster(kubeconfig=kubeconfig)
        bl.ensure_namespace(cluster, NS)
        c = cluster.conn()
        c.request("POST", bl.BUILDERS_PATH % NS, bl.builder("b"))
        c.close()
        section_idle_and_unrelated(cluster, workdir)
        section_latency_throughput(cluster, workdir)
        section_lifecycle(cluster, workdir)
    else:
        sim = bl.start_sim("--controllers", "crd,namespace,gc")
        try:
            cluster = bl.Cluster(sim)
            bl.install_crds(cluster)
            bl.ensure_namespace(cluster, NS)
            sim.request("POST", bl.BUILDERS_PATH % NS, bl.builder("b"))
            section_idle_and_unrelated(cluster, workdir)
            section_latency_throughput(cluster, workdir)
        finally:
            sim.stop()
        section_bare_job_rate()
        sim = bl.start_sim()
        try:
            cluster = bl.Cluster(sim)
            bl.install_crds(cluster)
            bl.ensure_namespace(cluster, NS)
            sim.request("POST", bl.BUILDERS_PATH % NS, bl.builder("b"))
            samples = section_lifecycle(cluster, workdir)
        finally:
            sim.stop()
        if samples and CACHED:
            section_cached(workdir, samples)

    print("\n| section | figure | value | workload |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s |" % r)
    with open(os.path.join(OUT, "operator.json"), "w") as f:
        data.pop("sample_job", None)
        json.dump({"rows": rows, "data": data, "machine": bl.machine()}, f, indent=1, default=str)
    write_plot_data()


def write_plot_data():
    """operator.dat: runs in the cluster, RSS MiB, create->Job p50 ms, p99 ms (from the
    accumulating bursts) and cached.dat: runs cached, RSS MiB (finished runs loaded)."""
    steps = data.get("steps", [])
    with open(os.path.join(OUT, "operator.dat"), "w") as f:
        f.write("# runs rss_mib burst_p50_ms burst_p99_ms cpu_s_per_1000 serial_p50_ms serial_p99_ms anon_mib\n")
        idle = data.get("idle")
        serial = data.get("serial")
        if idle:
            f.write("0 %.2f nan nan nan %s %s %.2f\n" % (
                idle["Rss"] / 1024.0, "%.2f" % (bl.pct(serial, 50) * 1000) if serial else "nan",
                "%.2f" % (bl.pct(serial, 99) * 1000) if serial else "nan", idle.get("Anonymous", 0) / 1024.0))
        for p in steps:
            f.write("%d %.2f %.2f %.2f %.3f %.2f %.2f %.2f\n" % (
                p["runs"], p["rss"] / 1024.0, p["p50"] * 1000, p["p99"] * 1000, p["cpu"] * 1000.0 / BURST,
                p["probe_p50"] * 1000, p["probe_p99"] * 1000, p["anon"] / 1024.0))
    with open(os.path.join(OUT, "cached.dat"), "w") as f:
        f.write("# runs rss_mib anon_mib\n")
        for c in data.get("cached", []):
            f.write("%d %.2f %.2f\n" % (c["runs"], c["rss"] / 1024.0, c["anon"] / 1024.0))


if __name__ == "__main__":
    main()
