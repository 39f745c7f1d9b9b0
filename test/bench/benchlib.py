"""Shared pieces of the operator benchmarks and the reliability suite (test/chaos):
a kube-sim (or the cluster in $KUBECONFIG), keep-alive API connections, watches that
record when each event arrived, the operator as a process and what /proc says of it.

Nothing here asserts: the benchmarks print numbers, the chaos suite checks outcomes."""
import base64
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "kube-sim"))
from tests.simutil import Sim, wait_for  # noqa: E402,F401

BUILD = os.environ.get("S2I_BUILD_DIR") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
GROUP = "devops.kubesphere.io"
RUNS_PATH = "/apis/devops.kubesphere.io/v1alpha1/namespaces/%s/s2iruns"
BUILDERS_PATH = "/apis/devops.kubesphere.io/v1alpha1/namespaces/%s/s2ibuilders"
JOBS_PATH = "/apis/batch/v1/namespaces/%s/jobs"
PODS_PATH = "/api/v1/namespaces/%s/pods"
CM_PATH = "/api/v1/namespaces/%s/configmaps"
RUN_LABEL = "devops.kubesphere.io/s2ir"
BUILDER_LABEL = "labels.devops.kubesphere.io/builder-name"
PREPARE_IMAGE = "bench.local/s2i-prepare:test"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- the API server --------------------------------------------------------------------

class Cluster:
    """Where the API requests go: a kube-sim we started, or (KUBECONFIG) a real cluster
    reached with the kubeconfig's bearer token or client certificate."""

    def __init__(self, sim=None, kubeconfig=None):
        self.sim = sim
        if sim is not None:
            self.kubeconfig = sim.kubeconfig
            self.url, self.token, self.ssl = sim.url, sim.token, sim.ssl
            self.cert = None
            return
        self.kubeconfig = kubeconfig
        out = subprocess.run(["kubectl", "config", "view", "--raw", "--minify", "-o", "json"],
                             env=dict(os.environ, KUBECONFIG=kubeconfig), capture_output=True,
                             text=True, check=True).stdout
        cfg = json.loads(out)
        cl, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        self.url = cl["server"].rstrip("/")
        self.token = user.get("token")
        self.ssl = ssl.create_default_context()
        if cl.get("insecure-skip-tls-verify"):
            self.ssl.check_hostname = False
            self.ssl.verify_mode = ssl.CERT_NONE
        if cl.get("certificate-authority-data"):
            self.ssl.load_verify_locations(cadata=base64.b64decode(cl["certificate-authority-data"]).decode())
        elif cl.get("certificate-authority"):
            self.ssl.load_verify_locations(cl["certificate-authority"])
        if user.get("client-certificate-data"):
            d = tempfile.mkdtemp(prefix="bench-cert-")
            crt, key = os.path.join(d, "c.crt"), os.path.join(d, "c.key")
            with open(crt, "wb") as f:
                f.write(base64.b64decode(user["client-certificate-data"]))
            with open(key, "wb") as f:
                f.write(base64.b64decode(user["client-key-data"]))
            self.ssl.load_cert_chain(crt, key)

    @property
    def is_sim(self):
        return self.sim is not None

    def conn(self):
        return Conn(self)

    def kubectl(self, *args, input=None, check=True, timeout=120):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig)
        r = subprocess.run(["kubectl"] + list(args), input=input, capture_output=True, text=True,
                           env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("kubectl %s: %s" % (" ".join(args), r.stderr))
        return r

    def admin(self, method, cmd, body=None):
        """kube-sim's admin API (faults, stats, restart); None against a real cluster."""
        if not self.is_sim:
            return None
        return self.sim.admin(method, cmd, body)

    def stats(self, agent="s2i-operator"):
        """{"verb resource": count} of the requests made by one user agent (kube-sim)."""
        r = self.admin("GET", "stats")
        if not r or r[0] != 200:
            return {}
        out = {}
        for k, v in r[1]["requests"].items():
            a, _, rest = k.partition(" ")
            if a == agent:
                out[rest] = out.get(rest, 0) + v
        return out


class Conn:
    """One keep-alive HTTPS connection, as the operator and real clients use; reconnects
    when the server dropped it."""

    def __init__(self, cluster):
        self.cluster = cluster
        u = urllib.parse.urlparse(cluster.url)
        self.host, self.port, self.scheme = u.hostname, u.port, u.scheme
        self.c = None

    def _connect(self):
        if self.scheme == "https":
            self.c = http.client.HTTPSConnection(self.host, self.port, context=self.cluster.ssl, timeout=60)
        else:
            self.c = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method, path, body=None, ctype="application/json", retries=0):
        h = {"Accept": "application/json", "User-Agent": "bench/1"}
        if self.cluster.token:
            h["Authorization"] = "Bearer " + self.cluster.token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = ctype
        for attempt in range(retries + 2):
            try:
                if self.c is None:
                    self._connect()
                self.c.request(method, path, data, h)
                r = self.c.getresponse()
                txt = r.read()
                try:
                    obj = json.loads(txt) if txt else None
                except ValueError:
                    obj = txt.decode(errors="replace")
                if r.status in (429, 500, 503, 504) and attempt < retries + 1:
                    time.sleep(0.2)
                    continue
                return r.status, obj
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt >= retries + 1:
                    raise
                time.sleep(0.2)
        raise RuntimeError("unreachable")

    def close(self):
        if self.c is not None:
            try:
                self.c.close()
            except OSError:
                pass
            self.c = None


class Watch:
    """A watch whose events are recorded with the local monotonic time they arrived:
    events.append((t, type, object)). Resumes from the last resourceVersion when the
    server ends the stream, relists on 410 (and records nothing for the relist)."""

    def __init__(self, cluster, path, on_event=None, label_selector=None):
        self.cluster, self.path, self.on_event = cluster, path, on_event
        self.selector = label_selector
        self.events = []
        self.lock = threading.Lock()
        self.stopping = False
        self.ready = threading.Event()
        self.rv = None
        self.sock = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        self.ready.wait(30)

    def _q(self, extra):
        q = dict(extra)
        if self.selector:
            q["labelSelector"] = self.selector
        return self.path + "?" + urllib.parse.urlencode(q)

    def _list(self):
        c = Conn(self.cluster)
        code, lst = c.request("GET", self._q({"limit": "500000"}))
        c.close()
        if code != 200:
            raise RuntimeError("list %s: %s" % (self.path, code))
        self.rv = lst["metadata"]["resourceVersion"]

    def _loop(self):
        while not self.stopping:
            try:
                if self.rv is None:
                    self._list()
                self._stream()
            except Exception:  # noqa: BLE001 - a dropped stream is resumed
                if self.stopping:
                    return
                time.sleep(0.2)

    def _stream(self):
        c = Conn(self.cluster)
        c._connect()
        h = {"Accept": "application/json", "User-Agent": "bench-watch/1"}
        if self.cluster.token:
            h["Authorization"] = "Bearer " + self.cluster.token
        c.c.request("GET", self._q({"watch": "1", "resourceVersion": self.rv,
                                    "allowWatchBookmarks": "true", "timeoutSeconds": "600"}), None, h)
        r = c.c.getresponse()
        self.sock = c.c
        if r.status != 200:
            r.read()
            c.close()
            if r.status == 410:
                self.rv = None
            time.sleep(0.2)
            return
        self.ready.set()
        buf = b""
        while not self.stopping:
            chunk = r.read1(65536)
            if not chunk:
                break
            t = time.monotonic()
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                ev = json.loads(line)
                typ, obj = ev.get("type"), ev.get("object") or {}
                if typ == "ERROR":
                    if obj.get("code") == 410:
                        self.rv = None
                    c.close()
                    return
                self.rv = obj.get("metadata", {}).get("resourceVersion", self.rv)
                if typ == "BOOKMARK":
                    continue
                with self.lock:
                    self.events.append((t, typ, obj))
                if self.on_event:
                    self.on_event(t, typ, obj)
        c.close()

    def stop(self):
        self.stopping = True
        try:
            if self.sock is not None and self.sock.sock is not None:
                self.sock.sock.shutdown(2)
        except OSError:
            pass

    def snapshot(self):
        with self.lock:
            return list(self.events)


# ---- cluster set-up ---------------------------------------------------------------------

def start_sim(*args, state_file=None, history=200000):
    a = ["--gc-discovery-delay", "0", "--job-backoff", "0.3", "--bookmark-interval", "5",
         "--history", str(history)] + list(args)
    if state_file:
        a += ["--state-file", state_file]
    return Sim(*a)


def install_crds(cluster):
    cluster.kubectl("apply", "-f", os.path.join(ROOT, "crds"))
    cluster.kubectl("wait", "--for=condition=established", "crd", "--all", "--timeout=60s")


def ensure_namespace(cluster, ns):
    c = cluster.conn()
    c.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    c.close()


def set_scripts(cluster, scripts):
    """What each image does in kube-sim's scripted kubelet (key: image)."""
    c = cluster.conn()
    path = "/api/v1/namespaces/kube-system/configmaps/kube-sim-scripts"
    code, cur = c.request("GET", path)
    data = (cur.get("data") or {}) if code == 200 else {}
    data.update({k: json.dumps(v) for k, v in scripts.items()})
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "kube-sim-scripts", "namespace": "kube-system"}, "data": data}
    if code == 200:
        cm["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        c.request("PUT", path, cm)
    else:
        c.request("POST", "/api/v1/namespaces/kube-system/configmaps", cm)
    c.close()


def builder(name, image="bench.local/builder-ok:1", **config):
    cfg = {"builderImage": image, "imageName": "registry.bench:5000/demo/%s" % name, "tag": "latest",
           "sourceUrl": "https://git.bench/demo/%s.git" % name, "revisionId": "main",
           "builderPullPolicy": "if-not-present", "export": True, "outputBuildResult": True}
    cfg.update(config)
    return {"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iBuilder",
            "metadata": {"name": name}, "spec": {"config": cfg}}


def run(name, builder_name, labeled=True, **spec):
    """An S2iRun. labeled: with the builder-name label our mutating webhook sets at
    admission (without the webhook, the operator patches it: one more write)."""
    s = {"builderName": builder_name}
    s.update(spec)
    md = {"name": name}
    if labeled:
        md["labels"] = {BUILDER_LABEL: builder_name}
    return {"apiVersion": "devops.kubesphere.io/v1alpha1", "kind": "S2iRun", "metadata": md, "spec": s}


def create_parallel(cluster, path, objs, clients=8, retries=5):
    """POSTs every object with `clients` keep-alive connections; returns the number created."""
    done = [0]
    lock = threading.Lock()

    def worker(k):
        c = cluster.conn()
        n = 0
        for o in objs[k::clients]:
            code, body = c.request("POST", path, o, retries=retries)
            if code == 201:
                n += 1
            elif code != 409:
                raise RuntimeError("create %s: %s %s" % (path, code, str(body)[:300]))
        c.close()
        with lock:
            done[0] += n
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0]


_proc_cluster = None


def _proc_create(args):
    path, objs, clients, retries = args
    return create_parallel(_proc_cluster, path, objs, clients=clients, retries=retries)


def create_procs(cluster, path, objs, procs=4, clients=2, retries=5):
    """create_parallel from `procs` forked processes (the GIL of one Python process
    would otherwise cap the client below what the server takes)."""
    import multiprocessing
    global _proc_cluster
    _proc_cluster = cluster
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        return sum(pool.map(_proc_create, [(path, objs[k::procs], clients, retries) for k in range(procs)]))


def malloc_report(pid, log_path):
    """Asks a process (through gdb) to malloc_trim(0) and print malloc_stats() to its
    stderr; returns (in-use bytes, system bytes) parsed from its log, or None. Only as the
    last look at a process before it is stopped."""
    import shutil
    if not shutil.which("gdb"):
        return None
    before = os.path.getsize(log_path)
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (int) malloc_trim(0)",
                        "-ex", "call (void) malloc_stats()"], capture_output=True, text=True, timeout=60)
    # (gdb may complain that it cannot restore the extended register state on this
    # kernel; the calls are made all the same: measure, then stop the process)
    time.sleep(0.2)
    with open(log_path, errors="replace") as f:
        f.seek(before)
        text = f.read()
    m = re.search(r"Total \(incl\. mmap\):\s*system bytes\s*=\s*(\d+)\s*in use bytes\s*=\s*(\d+)", text)
    return (int(m.group(2)), int(m.group(1))) if m else None


def list_items(cluster, path, selector=None):
    c = cluster.conn()
    q = "?limit=500000" + ("&labelSelector=" + urllib.parse.quote(selector) if selector else "")
    code, lst = c.request("GET", path + q, retries=5)
    c.close()
    if code != 200:
        raise RuntimeError("list %s: %s" % (path, code))
    return lst["items"]


# ---- the operator ------------------------------------------------------------------------

class Operator:
    """s2i-operator as a process, with its log in workdir."""

    def __init__(self, cluster, workdir, *args, name="operator", env=None):
        self.log_path = os.path.join(workdir, "%s-%d.log" % (name, time.time_ns()))
        self.log = open(self.log_path, "w")
        binary = os.path.join(BUILD, "bin", "s2i-operator")
        cmd = [binary, "--kubeconfig", cluster.kubeconfig, "--builder-image", PREPARE_IMAGE,
               "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
               "--http-bind-address", "0", "--webhook-port", "0"] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})))
        self.pid = self.proc.pid

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def port(self, which):
        def found():
            m = re.search(r'%sPort="(\d+)"' % which, self.text())
            return int(m.group(1)) if m else None
        return wait_for(found, timeout=30, what="%s port in the operator log" % which)

    def http(self, which, path):
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port(which), path), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def wait_ready(self, timeout=120):
        wait_for(lambda: self.http("probes", "/readyz")[0] == 200, timeout=timeout, interval=0.05,
                 what="operator ready")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    # -- /proc -----------------------------------------------------------------------
    def status_kib(self, field):
        return proc_status_kib(self.pid, field)

    def smaps(self):
        return smaps_rollup(self.pid)

    def cpu_seconds(self):
        return cpu_seconds(self.pid)


def proc_status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def smaps_rollup(pid):
    """{"Rss": kib, "Anonymous": kib, ...} from /proc/<pid>/smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class RssSampler:
    """Samples VmRSS of a pid every `interval` seconds; peak is the highest seen (VmHWM
    is kept too, which covers what the sampling misses)."""

    def __init__(self, pid, interval=0.02):
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.stopping = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stopping:
            try:
                v = proc_status_kib(self.pid, "VmRSS") or 0
            except OSError:
                return
            self.peak = max(self.peak, v)
            time.sleep(self.interval)

    def stop(self):
        self.stopping = True
        self.t.join()
        return self.peak


def mib(kib):
    return "%.1f MiB" % (kib / 1024.0) if kib is not None else "-"


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def machine():
    """One line per fact about where the numbers were taken."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024.0 / 1024.0)
    return [("CPUs (nproc)", str(os.cpu_count())), ("CPU model", model), ("memory", mem),
            ("kernel", os.uname().release), ("python", sys.version.split()[0])]
