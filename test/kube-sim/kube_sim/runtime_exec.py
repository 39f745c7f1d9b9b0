"""A container runtime for kube-sim's kubelet that really runs pod containers
(`python3 -m kube_sim --runtime exec`), with no daemon.

Images: pulled with Debian's `skopeo` from the registry named in the image
reference into an OCI layout cache (content-addressed: one layout, tagged by the
registry's manifest digest, so unchanged images are never copied twice),
honouring imagePullPolicy; unpacked once per manifest with `umoci unpack
--uid-map` into a pristine rootfs whose owners are already shifted into the
container's ID range; each container run gets a fresh copy of it (builds modify
their rootfs).

Containers: this file re-executed as a helper (`python3 -I -S runtime_exec.py
--helper SPEC CTLFD`, still the host's root) that
  1. unshares pid, uts and ipc namespaces (hostname = pod name) and forks the
     new pid namespace's pid 1;
  2. that pid 1 unshares a mount namespace, makes / private, bind-mounts the
     rootfs on itself, mounts /proc, a tmpfs /dev with null/zero/full/random/
     urandom/tty bound from the host, /dev/shm, /dev/pts, /tmp if missing,
     /etc/hosts, /etc/hostname, /etc/resolv.conf, the termination-message file
     and the pod's volumes (read-only where asked, and always for secret,
     configMap, downwardAPI and projected ones; mountpoints resolved inside the
     rootfs, symlinks never leaving it), then pivot_roots into the rootfs.
     Doing this as the host's root needs no access rights for the container's
     IDs on host paths (the runtime dir may live under a 0700 temp dir);
  3. it then unshares a user namespace; the helper, still outside, writes its
     ID maps (container 0..65535 -> host BASE..BASE+65535, BASE=100000 by
     default: nothing in the container is the host's root, and the mount, pid,
     uts and ipc namespaces belong to the host's user namespace, so even the
     container's root cannot mount or change the hostname) and pid 1 becomes
     root of the new user namespace;
  4. pid 1 stays as a tiny init (like `docker run --init`, or the pause
     container of a pod with shareProcessNamespace): it forks the container
     process, forwards SIGTERM & co. to it, reaps orphans and exits with its
     status (128+N when killed by signal N); when it exits the kernel kills
     whatever is left in the pid namespace;
  5. the container process starts a session, drops to the image's User (numeric
     or a name from the rootfs's /etc/passwd, overridden by securityContext.
     runAsUser/runAsGroup; supplementary groups from /etc/group plus
     supplementalGroups/fsGroup), chdirs to workingDir (created if missing) and
     execs the command with Kubernetes semantics (command/args over
     Entrypoint/Cmd, $(VAR) expansion, image Env + envFrom + env).
Its stdout and stderr are one pipe, read line by line into kube-sim's LogStore
(so `kubectl logs -f` follows them); a control pipe carries pid 1's host pid
(for SIGTERM) and start errors (exit 128, reason StartError, as containerd).
No network namespace: containers reach loopback services (registry, git, the
kube-sim API through KUBERNETES_SERVICE_HOST/PORT).

Environment: KUBE_SIM_IMAGE_CACHE (default ~/.cache/kube-sim/images),
KUBE_SIM_RUNTIME_DIR (pod bundles and volumes; default a temp dir removed at
exit), KUBE_SIM_USERNS_BASE (100000), KUBE_SIM_PULL_BACKOFF (seconds before the
first pull retry, doubling up to 300; real: 10), KUBE_SIM_INSECURE_REGISTRIES
(comma list of host:port pulled without TLS verification, besides loopback).
Needs root on the host (to write multi-range ID maps without newuidmap).

This module imports only the standard library at top level: the helper runs
it as a plain script."""
import os
import sys

if __name__ == "__main__":
    # Run as a script: kube_sim/ itself must not shadow the standard library (selectors.py).
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import base64
import hashlib
import json
import shutil
import signal
import subprocess
import tempfile
import threading
import time

UID_COUNT = 65536
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_TERMINATION_MESSAGE = 4096
NODE_ALLOCATABLE = {"cpu": "2", "memory": "8Gi", "ephemeral-storage": "100Gi"}


class PullError(Exception):
    def __init__(self, reason, message, detail=""):
        super().__init__(message)
        self.reason, self.message, self.detail = reason, message, detail


class ConfigError(Exception):
    """CreateContainerConfigError: a referenced Secret/ConfigMap key is missing, etc."""


class MountError(Exception):
    """FailedMount: a volume cannot be materialised (the pod stays ContainerCreating)."""


def unavailable():
    """Why this runtime cannot work here, or None."""
    for tool in ("skopeo", "umoci"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    if os.geteuid() != 0:
        return "the exec runtime needs root on the host to map a range of IDs into user namespaces"
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if int(f.read().strip() or 0) == 0:
                return "user namespaces are disabled (user.max_user_namespaces=0)"
    except OSError:
        pass
    r = subprocess.run([sys.executable, "-I", "-S", os.path.abspath(__file__), "--probe"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or r.stdout.strip() != "ok":
        return "cannot create user+mount+pid namespaces: %s" % (r.stderr.strip() or r.stdout.strip())
    return None


# -- image references ------------------------------------------------------------------

def split_image(image):
    """(repository, tag, digest) of an image reference; the repository keeps its registry."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    if tag is None and digest is None:
        tag = "latest"
    return image, tag, digest


def registry_host(repo):
    first = repo.split("/", 1)[0]
    if "/" in repo and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _insecure(host):
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    extra = [h.strip() for h in os.environ.get("KUBE_SIM_INSECURE_REGISTRIES", "").split(",") if h.strip()]
    return name in ("127.0.0.1", "localhost", "[::1]") or name.startswith("127.") or host in extra


# -- quantities (resourceFieldRef) ---------------------------------------------------------

_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "E": 1e18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}


def parse_quantity(q):
    q = str(q).strip()
    for suf in sorted(_SUFFIX, key=len, reverse=True):
        if suf and q.endswith(suf):
            return float(q[:-len(suf)]) * _SUFFIX[suf]
    return float(q)


# -- Kubernetes $(VAR) expansion -----------------------------------------------------------

def expand(s, env):
    """Kubernetes' expansion: $(VAR) is replaced when VAR is defined, $$ is a literal $,
    anything else is left as written."""
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "$" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = s.find(")", i + 2)
                if end != -1:
                    name = s[i + 2:end]
                    if name in env:
                        out.append(env[name])
                    else:
                        out.append(s[i:end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


# -- the runtime (runs inside kube-sim) ----------------------------------------------------

class _Proc:
    def __init__(self, popen):
        self.popen = popen
        self.init_pid = None
        self.error = None
        self.done = threading.Event()
        self.have_pid = threading.Event()
        self.stopping = False


class Runtime:
    def __init__(self, sim):
        from .api import now_iso
        from .controllers import emit_event
        self.sim = sim
        self.now_iso = now_iso
        self.emit_event = emit_event
        self.cache = os.path.abspath(os.environ.get("KUBE_SIM_IMAGE_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kube-sim", "images"))
        os.makedirs(self.cache, exist_ok=True)
        self.layout = os.path.join(self.cache, "layout")
        rdir = os.environ.get("KUBE_SIM_RUNTIME_DIR")
        self.own_dir = not rdir
        self.dir = os.path.abspath(rdir or tempfile.mkdtemp(prefix="kube-sim-runtime-"))
        os.makedirs(os.path.join(self.dir, "pods"), exist_ok=True)
        self.base = int(os.environ.get("KUBE_SIM_USERNS_BASE", "100000"))
        self.backoff = float(os.environ.get("KUBE_SIM_PULL_BACKOFF", "10"))
        self.lock = threading.Lock()
        self.pull_lock = threading.Lock()
        self.procs = {}        # pod uid -> {container name: _Proc}
        self.prepared = {}     # (pod uid, container name) -> dict for run()
        self.pod_locks = {}    # pod uid -> Lock (volumes are made once per pod)
        self.volumes_ready = set()
        self.deleted = set()
        import atexit
        atexit.register(self.shutdown)

    # -- kubelet interface --------------------------------------------------------------

    def prepare(self, runner, c, group):
        """Pulls c's image and resolves its configuration. While that fails the container
        waits (ErrImagePull/ImagePullBackOff, ErrImageNeverPull, CreateContainerConfigError,
        or ContainerCreating with FailedMount events), as with the real kubelet. Returns the
        imageID, or None when the pod is killed meanwhile."""
        backoff = self.backoff
        reported = None
        while not runner.killed.is_set():
            try:
                return self._prepare(runner, c)
            except PullError as e:
                img = c.get("image", "")
                self._waiting(runner, c, group, e.reason, e.message)
                if e.reason == "ErrImageNeverPull":
                    if e.message != reported:
                        self._event(runner, "Warning", "ErrImageNeverPull", e.message)
                        reported = e.message
                    if runner.killed.wait(backoff):
                        return None
                    continue
                self._event(runner, "Warning", "Failed", 'Failed to pull image "%s": %s' % (img, e.detail))
                self._event(runner, "Warning", "Failed", "Error: ErrImagePull")
                if runner.killed.wait(0.5):
                    return None
                self._waiting(runner, c, group, "ImagePullBackOff", 'Back-off pulling image "%s"' % img)
                self._event(runner, "Normal", "BackOff", 'Back-off pulling image "%s"' % img)
                self._event(runner, "Warning", "Failed", "Error: ImagePullBackOff")
                if runner.killed.wait(backoff):
                    return None
                backoff = min(backoff * 2, 300.0)
            except ConfigError as e:
                self._waiting(runner, c, group, "CreateContainerConfigError", str(e))
                if str(e) != reported:
                    self._event(runner, "Warning", "Failed", "Error: %s" % e)
                    reported = str(e)
                if runner.killed.wait(2.0):
                    return None
            except MountError as e:
                if str(e) != reported:
                    self._event(runner, "Warning", "FailedMount", str(e))
                    reported = str(e)
                if runner.killed.wait(2.0):
                    return None
        return None

    def run(self, runner, c, group):
        """Runs the prepared container; (exit code, termination message, reason)."""
        pod = runner.pod
        uid, ns, pname = pod["metadata"]["uid"], pod["metadata"]["namespace"], pod["metadata"]["name"]
        cname = c["name"]
        prep = self.prepared.pop((uid, cname), None)
        if prep is None:        # the pod was removed from the API since prepare()
            return 137, "", "Error"
        cdir = os.path.join(self._pod_dir(uid), "containers", cname)
        try:
            self._make_bundle(cdir, prep["rootfs"])
        except (OSError, subprocess.SubprocessError) as e:
            return 128, "failed to create the container's rootfs: %s" % e, "StartError"
        tlog = os.path.join(cdir, "termination-log")
        with open(tlog, "wb"):
            pass
        os.chmod(tlog, 0o666)
        mounts = list(prep["mounts"])
        mounts.append({"src": tlog, "dst": c.get("terminationMessagePath") or "/dev/termination-log",
                       "file": True})
        spec = dict(prep["spec"], rootfs=os.path.join(cdir, "rootfs"), mounts=mounts,
                    base=self.base, count=UID_COUNT)
        spec_path = os.path.join(cdir, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        self._event(runner, "Normal", "Created", "Created container %s" % cname)
        ctl_r, ctl_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            popen = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), "--helper", spec_path,
                                      str(ctl_w)], stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                                     pass_fds=(ctl_w,), start_new_session=True, close_fds=True)
        finally:
            os.close(ctl_w)
            os.close(out_w)
        proc = _Proc(popen)
        with self.lock:
            self.procs.setdefault(uid, {})[cname] = proc
        started = time.time()
        self._event(runner, "Normal", "Started", "Started container %s" % cname)
        logs = self.sim.logs
        reader = threading.Thread(target=self._read_logs, args=(out_r, ns, pname, cname), daemon=True)
        reader.start()
        ctl = threading.Thread(target=self._read_control, args=(ctl_r, proc), daemon=True)
        ctl.start()
        if runner.killed.is_set() or uid in self.deleted:
            self.kill(pod)
        rc = popen.wait()
        proc.done.set()
        ctl.join(5)
        reader.join(10)
        with self.lock:
            self.procs.get(uid, {}).pop(cname, None)
        if proc.error:
            logs.append(ns, pname, cname, proc.error)
            return 128, proc.error, "StartError"
        code = rc if rc >= 0 else 128 - rc
        message = ""
        try:
            with open(tlog, "rb") as f:
                message = f.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        except OSError:
            pass
        if self.sim.verbose:
            print("runtime: %s/%s %s exited %d after %.3fs" % (ns, pname, cname, code, time.time() - started),
                  file=sys.stderr)
        return code, message, None

    def kill(self, pod):
        """SIGTERM to each running container's process, SIGKILL to its process group after the
        grace period (the pod's deletionGracePeriodSeconds, else terminationGracePeriodSeconds)."""
        md = pod["metadata"]
        cur = self.sim.store.get(("", "pods"), md["namespace"], md["name"])
        if cur is None or cur["metadata"].get("uid") != md["uid"]:
            cur = pod
        grace = cur["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (cur.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        with self.lock:
            procs = [(n, p) for n, p in (self.procs.get(md["uid"]) or {}).items() if not p.stopping]
            for _, p in procs:
                p.stopping = True
        for cname, p in procs:
            threading.Thread(target=self._stop, args=(cur, cname, p, float(grace)), daemon=True).start()

    def forget(self, pod):
        """The pod is gone from the API: kill what is left and remove its bundles and volumes."""
        uid = pod["metadata"]["uid"]
        self.deleted.add(uid)

        def clean():
            with self.lock:
                procs = list((self.procs.get(uid) or {}).values())
            for p in procs:
                _killpg(p.popen.pid, signal.SIGKILL)
                p.done.wait(10)
            with self.lock:
                self.procs.pop(uid, None)
                self.pod_locks.pop(uid, None)
                self.volumes_ready.discard(uid)
                for k in [k for k in self.prepared if k[0] == uid]:
                    del self.prepared[k]
            shutil.rmtree(self._pod_dir(uid), ignore_errors=True)
        threading.Thread(target=clean, daemon=True).start()

    def shutdown(self):
        with self.lock:
            procs = [p for d in self.procs.values() for p in d.values()]
        for p in procs:
            _killpg(p.popen.pid, signal.SIGKILL)
        for p in procs:
            p.done.wait(2)
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- status helpers -----------------------------------------------------------------

    def _waiting(self, runner, c, group, reason, message):
        def mutate(st):
            for cs in st.get(group) or []:
                if cs["name"] == c["name"]:
                    cs["state"] = {"waiting": {"reason": reason, "message": message}}
        runner.k.set_status(runner.pod, mutate)

    def _event(self, runner, etype, reason, message):
        self.emit_event(self.sim, runner._latest(), etype, reason, message, "kubelet")

    def _stop(self, pod, cname, p, grace):
        self.emit_event(self.sim, pod, "Normal", "Killing", "Stopping container %s" % cname, "kubelet")
        if grace > 0:
            p.have_pid.wait(2.0)
            try:
                os.kill(p.init_pid or p.popen.pid, signal.SIGTERM)
            except OSError:
                pass
            if p.done.wait(grace):
                return
        _killpg(p.popen.pid, signal.SIGKILL)

    # -- images -------------------------------------------------------------------------

    def _prepare(self, runner, c):
        pod = runner.pod
        md = pod["metadata"]
        uid = md["uid"]
        image = c.get("image") or ""
        policy = c.get("imagePullPolicy") or "IfNotPresent"
        info, pulled = self.pull(image, policy, self._pull_secrets(pod),
                                 lambda: self._event(runner, "Normal", "Pulling", 'Pulling image "%s"' % image))
        if pulled is None:
            self._event(runner, "Normal", "Pulled", 'Container image "%s" already present on machine' % image)
        else:
            self._event(runner, "Normal", "Pulled", 'Successfully pulled image "%s" in %.3fs' % (image, pulled))
        config = info["config"]
        rootfs = self._pristine(info["tag"], info["manifest"])
        latest = runner._latest()
        env, env_map = self._env(latest, c, config)
        argv = self._argv(c, config, env_map)
        if not argv:
            raise ConfigError("no command specified")
        user = self._user(latest, c, config, rootfs)
        with self.lock:
            plock = self.pod_locks.setdefault(uid, threading.Lock())
        with plock:
            if uid not in self.volumes_ready:
                self._make_pod_dirs(latest)
                self.volumes_ready.add(uid)
        mounts = self._mounts(latest, c, env_map)
        sc = c.get("securityContext") or {}
        spec = {"argv": argv, "env": env, "cwd": c.get("workingDir") or config.get("WorkingDir") or "/",
                "uid": user[0], "gid": user[1], "groups": user[2], "home": user[3], "hostname": md["name"][:63],
                "readonly_rootfs": bool(sc.get("readOnlyRootFilesystem"))}
        self.prepared[(uid, c["name"])] = {"rootfs": rootfs, "mounts": mounts, "spec": spec}
        return "docker-pullable://%s@%s" % (split_image(image)[0], info["digest"])

    def _pull_secrets(self, pod):
        auths = {}
        ns = pod["metadata"]["namespace"]
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            s = self.sim.store.get(("", "secrets"), ns, ref.get("name"))
            data = (s or {}).get("data") or {}
            try:
                if ".dockerconfigjson" in data:
                    auths.update(json.loads(base64.b64decode(data[".dockerconfigjson"])).get("auths") or {})
                elif ".dockercfg" in data:
                    auths.update(json.loads(base64.b64decode(data[".dockercfg"])))
            except ValueError:
                pass
        return auths

    def pull(self, image, policy, auths=None, on_pull=None):
        """Makes the image present in the layout cache. Returns (info, seconds pulling or None
        when it was already present); raises PullError."""
        if not image:
            raise PullError("InvalidImageName", "Failed to apply default image tag \"\": couldn't parse image "
                            "reference \"\": invalid reference format", "invalid reference format")
        with self.pull_lock, _FileLock(os.path.join(self.cache, "lock")):
            db = self._db()
            known = db.get(image)
            if known and not self._layout_has(known["tag"]):
                known = None
            if policy == "Never":
                if known is None:
                    raise PullError("ErrImageNeverPull", 'Container image "%s" is not present with pull policy of '
                                    'Never' % image)
                return self._info(known), None
            if policy != "Always" and known is not None:
                return self._info(known), None
            if on_pull is not None:
                on_pull()
            t0 = time.time()
            repo, tag, digest = split_image(image)
            host = registry_host(repo)
            flags = ["--tls-verify=false"] if _insecure(host) else []
            authfile = None
            if auths:
                fd, authfile = tempfile.mkstemp(prefix="auth-", suffix=".json", dir=self.cache)
                with os.fdopen(fd, "w") as f:
                    json.dump({"auths": auths}, f)
                flags.append("--authfile=" + authfile)
            try:
                r = _skopeo(["inspect", "--raw"] + flags + ["docker://" + image], binary=True)
                reg_digest = "sha256:" + hashlib.sha256(r).hexdigest()
                if digest and digest != reg_digest:
                    reg_digest = digest
                ltag = "sha256-" + reg_digest.split(":", 1)[1]
                if not self._layout_has(ltag):
                    src_flags = [f.replace("--tls-verify", "--src-tls-verify").replace("--authfile",
                                                                                         "--src-authfile")
                                 for f in flags]
                    _skopeo(["copy", "--quiet"] + src_flags + ["docker://%s@%s" % (repo, reg_digest),
                                                                "oci:%s:%s" % (self.layout, ltag)])
            finally:
                if authfile:
                    os.unlink(authfile)
            entry = {"digest": reg_digest, "tag": ltag}
            db[image] = entry
            self._save_db(db)
            return self._info(entry), time.time() - t0

    def _db(self):
        try:
            with open(os.path.join(self.cache, "images.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _save_db(self, db):
        path = os.path.join(self.cache, "images.json")
        with open(path + ".tmp", "w") as f:
            json.dump(db, f, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)

    def _index(self):
        try:
            with open(os.path.join(self.layout, "index.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _layout_has(self, tag):
        return self._manifest_desc(tag) is not None

    def _manifest_desc(self, tag):
        for m in self._index().get("manifests") or []:
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
                return m
        return None

    def _blob(self, digest):
        algo, hexd = digest.split(":", 1)
        with open(os.path.join(self.layout, "blobs", algo, hexd), "rb") as f:
            return json.load(f)

    def _info(self, entry):
        desc = self._manifest_desc(entry["tag"])
        manifest = self._blob(desc["digest"])
        config = self._blob(manifest["config"]["digest"]).get("config") or {}
        return {"digest": entry["digest"], "tag": entry["tag"], "manifest": desc["digest"], "config": config}

    def _pristine(self, tag, manifest_digest):
        """The image's rootfs, unpacked once with owners shifted into the container ID range."""
        key = "%s-%d" % (manifest_digest.split(":", 1)[1], self.base)
        path = os.path.join(self.cache, "rootfs", key)
        if os.path.isdir(os.path.join(path, "rootfs")):
            return os.path.join(path, "rootfs")
        with self.pull_lock, _FileLock(os.path.join(self.cache, "lock")):
            if os.path.isdir(os.path.join(path, "rootfs")):
                return os.path.join(path, "rootfs")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".tmp-%d" % os.getpid()
            shutil.rmtree(tmp, ignore_errors=True)
            m = "0:%d:%d" % (self.base, UID_COUNT)
            r = subprocess.run(["umoci", "--log", "error", "unpack", "--uid-map", m, "--gid-map", m,
                                "--image", "%s:%s" % (self.layout, tag), tmp], capture_output=True, text=True)
            if r.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                raise PullError("ErrImagePull", "failed to unpack image", r.stderr.strip().splitlines()[-1:]
                                and r.stderr.strip().splitlines()[-1] or "umoci unpack failed")
            os.rename(tmp, path)
        return os.path.join(path, "rootfs")

    def _make_bundle(self, cdir, rootfs):
        if os.path.exists(cdir):
            shutil.rmtree(cdir)
        os.makedirs(cdir)
        r = subprocess.run(["cp", "-a", "--reflink=auto", rootfs, os.path.join(cdir, "rootfs")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise OSError(r.stderr.strip())

    # -- container configuration --------------------------------------------------------

    def _pod_dir(self, uid):
        return os.path.join(self.dir, "pods", uid)

    def _field(self, pod, path):
        md = pod["metadata"]
        st = pod.get("status") or {}
        spec = pod.get("spec") or {}
        simple = {"metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
                  "metadata.uid": md.get("uid"), "spec.nodeName": spec.get("nodeName"),
                  "spec.serviceAccountName": spec.get("serviceAccountName"), "status.hostIP": st.get("hostIP"),
                  "status.podIP": st.get("podIP"),
                  "status.podIPs": ",".join(p.get("ip", "") for p in st.get("podIPs") or []),
                  "status.hostIPs": ",".join(p.get("ip", "") for p in st.get("hostIPs") or []) or st.get("hostIP")}
        if path in simple:
            return simple[path] or ""
        for kind in ("labels", "annotations"):
            prefix = "metadata.%s" % kind
            items = md.get(kind) or {}
            if path == prefix:
                return "\n".join("%s=%s" % (k, json.dumps(items[k], ensure_ascii=False)) for k in sorted(items))
            if path.startswith(prefix + "['") and path.endswith("']"):
                return items.get(path[len(prefix) + 2:-2], "")
        raise ConfigError("unsupported fieldPath: %s" % path)

    def _resource(self, pod, c, ref):
        if ref.get("containerName"):
            c = next((x for x in (pod["spec"].get("containers") or []) + (pod["spec"].get("initContainers") or [])
                      if x["name"] == ref["containerName"]), c)
        res = ref.get("resource", "")
        kind, _, name = res.partition(".")
        val = ((c.get("resources") or {}).get(kind) or {}).get(name)
        if val is None and kind == "requests":
            val = ((c.get("resources") or {}).get("limits") or {}).get(name)
        if val is None:
            val = NODE_ALLOCATABLE.get(name, "0") if kind == "limits" else "0"
        div = parse_quantity(ref.get("divisor") or "1") or 1
        q = parse_quantity(val) / div
        n = int(q) if q == int(q) else int(q) + 1
        return str(n)

    def _key_ref(self, ns, ref, plural):
        kind = "secret" if plural == "secrets" else "configmap"
        obj = self.sim.store.get(("", plural), ns, ref.get("name"))
        if obj is None:
            if ref.get("optional"):
                return None
            raise ConfigError('%s "%s" not found' % (kind, ref.get("name")))
        data = _object_data(obj)
        if ref.get("key") not in data:
            if ref.get("optional"):
                return None
            raise ConfigError("couldn't find key %s in %s %s/%s" % (ref.get("key"), "Secret" if kind == "secret"
                                                                    else "ConfigMap", ns, ref.get("name")))
        return data[ref["key"]].decode(errors="replace")

    def _env(self, pod, c, config):
        """(environment list for exec, the kubelet-defined variables for $(VAR) expansion)."""
        ns = pod["metadata"]["namespace"]
        kube = {}
        for src in c.get("envFrom") or []:
            prefix = src.get("prefix") or ""
            for key, plural in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
                ref = src.get(key)
                if ref is None:
                    continue
                obj = self.sim.store.get(("", plural), ns, ref.get("name"))
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise ConfigError('%s "%s" not found' % (plural[:-1], ref.get("name")))
                for k, v in sorted(_object_data(obj).items()):
                    kube[prefix + k] = v.decode(errors="replace")
        for e in c.get("env") or []:
            name = e.get("name")
            vf = e.get("valueFrom")
            if vf is None:
                kube[name] = expand(e.get("value") or "", dict(self._service_env(), **kube))
                continue
            if "fieldRef" in vf:
                val = self._field(pod, vf["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in vf:
                val = self._resource(pod, c, vf["resourceFieldRef"])
            elif "secretKeyRef" in vf:
                val = self._key_ref(ns, vf["secretKeyRef"], "secrets")
            elif "configMapKeyRef" in vf:
                val = self._key_ref(ns, vf["configMapKeyRef"], "configmaps")
            else:
                val = None
            if val is not None:
                kube[name] = val
        for k, v in self._service_env().items():     # the master service's, always present
            kube.setdefault(k, v)
        env = {"PATH": DEFAULT_PATH}
        for kv in config.get("Env") or []:
            k, _, v = kv.partition("=")
            env[k] = v
        env["HOSTNAME"] = pod["metadata"]["name"][:63]
        env.update(kube)
        return ["%s=%s" % kv for kv in env.items()], kube

    def _service_env(self):
        port = str(getattr(self.sim, "port", 443))
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
                "KUBERNETES_SERVICE_PORT_HTTPS": port, "KUBERNETES_PORT": "tcp://127.0.0.1:" + port,
                "KUBERNETES_PORT_%s_TCP" % port: "tcp://127.0.0.1:" + port,
                "KUBERNETES_PORT_%s_TCP_PROTO" % port: "tcp", "KUBERNETES_PORT_%s_TCP_PORT" % port: port,
                "KUBERNETES_PORT_%s_TCP_ADDR" % port: "127.0.0.1"}

    @staticmethod
    def _argv(c, config, env_map):
        """command replaces the image's Entrypoint (and drops its Cmd), args replace Cmd;
        $(VAR) in command and args refers to the container's kubelet-defined variables."""
        entry, cmd = list(config.get("Entrypoint") or []), list(config.get("Cmd") or [])
        command, args = c.get("command"), c.get("args")
        if command:
            return [expand(a, env_map) for a in list(command) + list(args or [])]
        if args:
            return entry + [expand(a, env_map) for a in args]
        return entry + cmd

    def _user(self, pod, c, config, rootfs):
        """(uid, gid, supplementary groups, HOME) inside the container: the image's User
        (numeric or a name from the rootfs's /etc/passwd, optionally :group), overridden
        by securityContext.runAsUser/runAsGroup; groups from /etc/group plus the pod's
        supplementalGroups and fsGroup."""
        psc = (pod.get("spec") or {}).get("securityContext") or {}
        csc = c.get("securityContext") or {}
        passwd = _read_db(os.path.join(rootfs, "etc", "passwd"))
        groups_db = _read_db(os.path.join(rootfs, "etc", "group"))

        def by_uid(u):
            return next((e for e in passwd if len(e) > 3 and e[2] == str(u)), None)
        name, _, group = (config.get("User") or "").strip().partition(":")
        if not name:
            uid = 0
        elif name.isdigit():
            uid = int(name)
        else:
            ent = next((e for e in passwd if e[0] == name and len(e) > 3 and e[2].isdigit()), None)
            if ent is None:
                raise ConfigError("unable to find user %s: no matching entries in passwd file" % name)
            uid = int(ent[2])
        run_as = csc.get("runAsUser", psc.get("runAsUser"))
        if run_as is not None:
            uid = int(run_as)
        ent = by_uid(uid)
        gid = int(ent[3]) if ent is not None and ent[3].isdigit() else 0
        if group and run_as is None:
            if group.isdigit():
                gid = int(group)
            else:
                g = next((e for e in groups_db if e[0] == group and len(e) > 2 and e[2].isdigit()), None)
                if g is None:
                    raise ConfigError("unable to find group %s: no matching entries in group file" % group)
                gid = int(g[2])
        run_group = csc.get("runAsGroup", psc.get("runAsGroup"))
        if run_group is not None:
            gid = int(run_group)
        if csc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            where = '(pod: "%s_%s(%s)", container: %s)' % (pod["metadata"]["name"], pod["metadata"]["namespace"],
                                                           pod["metadata"]["uid"], c["name"])
            if run_as is None and name and not name.isdigit():
                raise ConfigError("container has runAsNonRoot and image has non-numeric user (%s), cannot verify "
                                  "user is non-root %s" % (name, where))
            if uid == 0:
                raise ConfigError("container has runAsNonRoot and image will run as root %s" % where)
        extra = []
        if ent is not None:
            extra = [int(g[2]) for g in groups_db if len(g) > 3 and g[2].isdigit() and ent[0] in g[3].split(",")]
        extra += [int(g) for g in psc.get("supplementalGroups") or []]
        if psc.get("fsGroup") is not None:
            extra.append(int(psc["fsGroup"]))
        home = ent[5] if ent is not None and len(ent) > 5 and ent[5] else "/"
        return uid, gid, sorted(set(x for x in extra if x != gid)), home

    # -- volumes --------------------------------------------------------------------------

    def _make_pod_dirs(self, pod):
        """Materialises the pod's volumes (once per pod, shared by its containers) and its
        /etc/hosts, /etc/hostname and /etc/resolv.conf."""
        uid = pod["metadata"]["uid"]
        ns = pod["metadata"]["namespace"]
        pdir = self._pod_dir(uid)
        os.makedirs(os.path.join(pdir, "volumes"), exist_ok=True)
        os.makedirs(os.path.join(pdir, "etc"), exist_ok=True)
        name = pod["metadata"]["name"][:63]
        _write(os.path.join(pdir, "etc", "hosts"), ("# Kubernetes-managed hosts file (kube-sim: host network).\n"
                                                   "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                                                   "ip6-loopback\n127.0.0.1\t%s\n" % name).encode(), 0o644)
        _write(os.path.join(pdir, "etc", "hostname"), (name + "\n").encode(), 0o644)
        try:
            with open("/etc/resolv.conf", "rb") as f:
                resolv = f.read()
        except OSError:
            resolv = b""
        _write(os.path.join(pdir, "etc", "resolv.conf"), resolv, 0o644)
        psc = (pod.get("spec") or {}).get("securityContext") or {}
        fs_group = psc.get("fsGroup")
        owner = (self.base, self.base + int(fs_group) if fs_group is not None else self.base)
        for v in (pod.get("spec") or {}).get("volumes") or []:
            vdir = os.path.join(pdir, "volumes", v["name"])
            if "hostPath" in v:
                continue
            if os.path.exists(vdir):
                continue
            files = None
            if "secret" in v or "configMap" in v:
                key = "secret" if "secret" in v else "configMap"
                src = v[key]
                ref = dict(src, name=src.get("secretName") if key == "secret" else src.get("name"))
                files = self._projection_files(pod, key, ref, src.get("defaultMode", 0o644))
            elif "downwardAPI" in v:
                files = self._downward_files(pod, v["downwardAPI"].get("items") or [],
                                             v["downwardAPI"].get("defaultMode", 0o644))
            elif "projected" in v:
                files = []
                mode = v["projected"].get("defaultMode", 0o644)
                for src in v["projected"].get("sources") or []:
                    if "secret" in src:
                        files += self._projection_files(pod, "secret", src["secret"], mode)
                    elif "configMap" in src:
                        files += self._projection_files(pod, "configMap", src["configMap"], mode)
                    elif "downwardAPI" in src:
                        files += self._downward_files(pod, src["downwardAPI"].get("items") or [], mode)
                    elif "serviceAccountToken" in src:
                        sat = src["serviceAccountToken"]
                        aud = [sat["audience"]] if sat.get("audience") else None
                        tok = self.sim.mint_token(ns, pod["spec"].get("serviceAccountName") or "default", aud)
                        files.append((sat.get("path") or "token", tok.encode(), mode))
            tmp = vdir + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            if files is None:     # emptyDir (and anything else: a fresh directory per pod)
                os.chown(tmp, *owner)
                os.chmod(tmp, 0o2777 if fs_group is not None else 0o777)
            else:
                os.chown(tmp, *owner)
                os.chmod(tmp, 0o755 if fs_group is None else 0o2755)
                for path, data, mode in files:
                    parts = [p for p in path.split("/") if p not in ("", ".")]
                    if not parts or ".." in parts:
                        raise MountError('MountVolume.SetUp failed for volume "%s" : invalid path "%s"'
                                         % (v["name"], path))
                    d = tmp
                    for p in parts[:-1]:
                        d = os.path.join(d, p)
                        if not os.path.isdir(d):
                            os.mkdir(d)
                            os.chown(d, *owner)
                            os.chmod(d, 0o755)
                    target = os.path.join(d, parts[-1])
                    if fs_group is not None:
                        mode |= 0o040
                    _write(target, data, mode)
                    os.chown(target, *owner)
            os.rename(tmp, vdir)

    def _projection_files(self, pod, key, ref, default_mode):
        ns = pod["metadata"]["namespace"]
        plural = "secrets" if key == "secret" else "configmaps"
        obj = self.sim.store.get(("", plural), ns, ref.get("name"))
        if obj is None:
            if ref.get("optional"):
                return []
            raise MountError('MountVolume.SetUp failed for volume : %s "%s" not found'
                             % ("secret" if key == "secret" else "configmap", ref.get("name")))
        data = _object_data(obj)
        mode = ref.get("defaultMode", default_mode)
        items = ref.get("items")
        if not items:
            return [(k, v, mode) for k, v in sorted(data.items())]
        out = []
        for it in items:
            if it.get("key") not in data:
                if ref.get("optional"):
                    continue
                raise MountError("MountVolume.SetUp failed : %s references non-existent %s key: %s"
                                 % (key.lower() if key == "secret" else "configmap",
                                    "secret" if key == "secret" else "config", it.get("key")))
            out.append((it.get("path") or it["key"], data[it["key"]], it.get("mode", mode)))
        return out

    def _downward_files(self, pod, items, default_mode):
        out = []
        for it in items:
            if "fieldRef" in it:
                val = self._field(pod, it["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in it:
                val = self._resource(pod, {}, it["resourceFieldRef"])
            else:
                continue
            out.append((it.get("path"), val.encode(), it.get("mode", default_mode)))
        return out

    def _mounts(self, pod, c, env_map):
        pdir = self._pod_dir(pod["metadata"]["uid"])
        mounts = [{"src": os.path.join(pdir, "etc", n), "dst": "/etc/" + n, "file": True}
                  for n in ("hosts", "hostname", "resolv.conf")]
        volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
        for m in c.get("volumeMounts") or []:
            v = volumes.get(m.get("name"))
            if v is None:
                raise ConfigError('cannot find volume "%s" to mount into container "%s"' % (m.get("name"), c["name"]))
            ro = bool(m.get("readOnly"))
            if "hostPath" in v:
                src = v["hostPath"].get("path", "")
                htype = v["hostPath"].get("type") or ""
                if not os.path.exists(src):
                    if htype == "DirectoryOrCreate":
                        os.makedirs(src, mode=0o755)
                    elif htype == "FileOrCreate":
                        _write(src, b"", 0o644)
                    else:
                        raise MountError('MountVolume.SetUp failed for volume "%s" : hostPath type check failed: '
                                         '%s is not a directory' % (v["name"], src))
            else:
                src = os.path.join(pdir, "volumes", v["name"])
                if any(k in v for k in ("secret", "configMap", "downwardAPI", "projected")):
                    ro = True
            sub = m.get("subPath") or ""
            if m.get("subPathExpr"):
                sub = expand(m["subPathExpr"], env_map)
            if sub:
                parts = [p for p in sub.split("/") if p not in ("", ".")]
                if ".." in parts or sub.startswith("/"):
                    raise ConfigError("subPath %s must not be absolute or contain '..'" % sub)
                src = os.path.join(src, *parts)
                if not os.path.lexists(src):
                    os.makedirs(src)
                    os.chmod(src, 0o777)
                    os.chown(src, self.base, self.base)
                vroot = os.path.realpath(os.path.join(pdir, "volumes", v["name"]))
                if "hostPath" not in v and not os.path.realpath(src).startswith(vroot + "/"):
                    # e.g. a symlink a container left in an emptyDir
                    raise ConfigError("subPath %s escapes its volume" % sub)
            mounts.append({"src": src, "dst": m.get("mountPath", ""), "ro": ro, "file": os.path.isfile(src)})
        return mounts

    # -- process I/O ----------------------------------------------------------------------

    def _read_logs(self, fd, ns, pod, cname):
        with open(fd, "rb") as f:
            for line in f:
                self.sim.logs.append(ns, pod, cname, line)

    @staticmethod
    def _read_control(fd, proc):
        with open(fd, "r", errors="replace") as f:
            for line in f:
                kind, _, rest = line.rstrip("\n").partition(" ")
                if kind == "pid":
                    proc.init_pid = int(rest)
                    proc.have_pid.set()
                elif kind == "error":
                    proc.error = rest
        proc.have_pid.set()


def _object_data(obj):
    """A Secret's or ConfigMap's data as {key: bytes}."""
    out = {}
    if obj.get("kind") == "Secret" or "type" in obj:
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v or "")
        for k, v in (obj.get("stringData") or {}).items():
            out[k] = v.encode()
        return out
    for k, v in (obj.get("data") or {}).items():
        out[k] = (v or "").encode()
    for k, v in (obj.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v or "")
    return out


def _read_db(path):
    try:
        with open(path, errors="replace") as f:
            return [l.rstrip("\n").split(":") for l in f if l.strip() and not l.startswith("#")]
    except OSError:
        return []


def _write(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass


def _skopeo(args, binary=False):
    r = subprocess.run(["skopeo", "--insecure-policy"] + args, capture_output=True, timeout=600)
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace").strip()
        last = err.splitlines()[-1] if err else "skopeo exited with %d" % r.returncode
        if last.startswith("time=") and 'msg="' in last:
            last = last.split('msg="', 1)[1].rstrip('"')
        raise PullError("ErrImagePull", "rpc error: code = Unknown desc = failed to pull and unpack image \"%s\": "
                        "%s" % (args[-1].replace("docker://", ""), last), last)
    return r.stdout if binary else r.stdout.decode()


class _FileLock:
    """flock on a file, so kube-sim processes sharing the image cache do not race."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        import fcntl
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


# -- the helper: runs as a separate process, sets up namespaces and runs the container -----

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID = 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "armv7l": 218, "ppc64le": 203, "s390x": 217, "riscv64": 41}


class _Libc:
    def __init__(self):
        import ctypes
        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)

    def _check(self, rc, what):
        if rc != 0:
            e = self.ctypes.get_errno()
            raise OSError(e, "%s: %s" % (what, os.strerror(e)))

    def unshare(self, flags):
        self._check(self.libc.unshare(flags), "unshare")

    def mount(self, src, dst, fstype, flags, data=None):
        enc = lambda s: s.encode() if isinstance(s, str) else s
        rc = self.libc.mount(enc(src), enc(dst), enc(fstype), self.ctypes.c_ulong(flags), enc(data))
        self._check(rc, "mount %s on %s" % (src or fstype, dst))

    def umount2(self, target, flags):
        self._check(self.libc.umount2(target.encode(), flags), "umount %s" % target)

    def pivot_root(self, new, old):
        import platform
        nr = SYS_PIVOT_ROOT.get(platform.machine())
        if nr is None:
            raise OSError(38, "pivot_root: unknown syscall number")
        self._check(self.libc.syscall(nr, new.encode(), old.encode()), "pivot_root")

    def sethostname(self, name):
        b = name.encode()
        self._check(self.libc.sethostname(b, len(b)), "sethostname")

    def pdeathsig(self, sig):
        self.libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def secure_join(root, path):
    """root + path with symlinks resolved as if root were /, never leaving root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved = []
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == "..":
            if resolved:
                resolved.pop()
            continue
        cand = os.path.join(root, *resolved, p)
        if os.path.islink(cand):
            hops += 1
            if hops > 40:
                raise OSError(40, "too many levels of symbolic links: %s" % path)
            target = os.readlink(cand)
            if target.startswith("/"):
                resolved = []
            parts = [x for x in target.split("/") if x not in ("", ".")] + parts
            continue
        resolved.append(p)
    return os.path.join(root, *resolved)


def _mountpoint(root, path, is_file, owner):
    dst = secure_join(root, path)
    parent = os.path.dirname(dst)
    if not os.path.isdir(parent):
        os.makedirs(parent)
        os.lchown(parent, owner, owner)
    if is_file:
        if not os.path.exists(dst):
            os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))
            os.lchown(dst, owner, owner)
    elif not os.path.isdir(dst):
        os.mkdir(dst)
        os.lchown(dst, owner, owner)
    return dst


def _locked_flags(path):
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def _bind(libc, src, dst, ro):
    libc.mount(src, dst, None, MS_BIND | MS_REC)
    if ro:
        libc.mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(dst))


def _setup_root(libc, spec):
    """As pid 1 of the new pid namespace, still the host's root in a private mount
    namespace: the container's mounts, then pivot_root into its rootfs."""
    root = spec["rootfs"]
    owner = spec["base"]          # mountpoints we create belong to the container's root
    libc.unshare(CLONE_NEWNS)
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    libc.mount(root, root, None, MS_BIND | MS_REC)
    proc = _mountpoint(root, "/proc", False, owner)
    libc.mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    dev = _mountpoint(root, "/dev", False, owner)
    libc.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME,
               "mode=755,size=65536k,uid=%d,gid=%d" % (owner, owner))
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + name):
            _bind(libc, "/dev/" + name, _mountpoint(root, "/dev/" + name, True, owner), False)
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")):
        os.symlink(target, os.path.join(dev, link))
    shm = _mountpoint(root, "/dev/shm", False, owner)
    libc.mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
               "mode=1777,size=65536k,uid=%d,gid=%d" % (owner, owner))
    pts = _mountpoint(root, "/dev/pts", False, owner)
    try:
        libc.mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=0620,gid=%d" % (owner + 5))
        os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    except OSError:
        pass
    tmp = secure_join(root, "/tmp")
    if not os.path.lexists(tmp):
        os.mkdir(tmp)
        os.lchown(tmp, owner, owner)
        os.chmod(tmp, 0o1777)
    for m in sorted(spec["mounts"], key=lambda m: len([p for p in m["dst"].split("/") if p])):
        _bind(libc, m["src"], _mountpoint(root, m["dst"], m.get("file"), owner), m.get("ro"))
    if spec.get("readonly_rootfs"):
        libc.mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(root))
    os.chdir(root)
    libc.pivot_root(".", ".")
    libc.umount2(".", MNT_DETACH)
    os.chdir("/")


def _enter_userns(libc, to_parent, from_parent):
    """unshare a user namespace; the parent, still the host's root outside it, writes the
    ID maps; then become root of the namespace (host uid BASE: no privilege outside)."""
    libc.unshare(CLONE_NEWUSER)
    os.write(to_parent, b"u")
    if os.read(from_parent, 1) != b"1":
        raise OSError(1, "could not write the user namespace's ID maps")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    os.setgroups([])
    libc.pdeathsig(signal.SIGKILL)          # changing credentials cleared it


def _write_maps(pid, base, count, from_child, to_child):
    if os.read(from_child, 1) != b"u":
        return
    ok = b"1"
    try:
        for name in ("uid_map", "gid_map"):
            with open("/proc/%d/%s" % (pid, name), "w") as f:
                f.write("0 %d %d\n" % (base, count))
    except OSError as e:
        os.write(2, ("writing ID maps: %s\n" % e).encode())
        ok = b"0"
    os.write(to_child, ok)


def _container(spec, ctl):
    """The container process: drop to the user, exec the command."""
    try:
        os.setsid()
        os.setgroups(spec["groups"])
        os.setresgid(spec["gid"], spec["gid"], spec["gid"])
        os.setresuid(spec["uid"], spec["uid"], spec["uid"])
        os.umask(0o022)
        env = dict(kv.split("=", 1) for kv in spec["env"])
        if "HOME" not in env:
            env["HOME"] = spec.get("home") or "/"
        try:
            os.chdir(spec["cwd"])
        except OSError as e:
            raise OSError(e.errno, "chdir to cwd (%r) set in config.json failed: %s" % (spec["cwd"], e.strerror))
        os.set_inheritable(ctl, False)
        for s in (signal.SIGPIPE, signal.SIGXFSZ):      # Python ignores these; exec would keep that
            signal.signal(s, signal.SIG_DFL)
        argv = spec["argv"]
        try:
            os.execvpe(argv[0], argv, env)
        except OSError as e:
            if e.errno == 2:
                raise OSError(2, 'exec: "%s": executable file not found in $PATH' % argv[0])
            raise OSError(e.errno, 'exec: "%s": %s' % (argv[0], e.strerror))
    except BaseException as e:
        msg = getattr(e, "strerror", None) or str(e)
        _say(ctl, "error failed to create containerd task: failed to create shim task: OCI runtime create "
                  "failed: unable to start container process: %s: unknown" % msg)
        os._exit(128)


def _say(fd, line):
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode())
    except OSError:
        pass


def _init(libc, spec, ctl, to_parent, from_parent):
    """pid 1 of the container's pid namespace: sets the container up, then stays as its
    init (forwards signals to the container process, reaps orphans, exits with its status)."""
    libc.pdeathsig(signal.SIGKILL)
    try:
        _setup_root(libc, spec)
        _enter_userns(libc, to_parent, from_parent)
        if not os.path.isdir(spec["cwd"]):
            os.makedirs(spec["cwd"], exist_ok=True)
    except BaseException as e:
        _say(ctl, "error failed to create containerd task: failed to create shim task: OCI runtime create failed: "
                  "runc create failed: unable to start container process: error during container init: %s: unknown"
                  % (getattr(e, "strerror", None) or e))
        os._exit(128)
    child = os.fork()
    if child == 0:
        _container(spec, ctl)
    os.close(ctl)

    def forward(sig, frame):
        try:
            os.kill(child, sig)
        except OSError:
            pass
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, forward)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.WEXITSTATUS(status))


def helper_main(spec_path, ctl):
    libc = _Libc()
    libc.pdeathsig(signal.SIGKILL)
    with open(spec_path) as f:
        spec = json.load(f)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # Pid, uts, ipc (and, in the child, mount) namespaces are made by the host's root, so
        # the mounts need no privilege over host paths; the user namespace comes last, in the
        # container's pid 1. This process keeps the host's mounts (and /proc, for the ID maps).
        libc.unshare(CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC)
        libc.sethostname(spec["hostname"])
    except BaseException as e:
        _say(ctl, "error failed to create containerd task: failed to create shim task: OCI runtime create "
                  "failed: %s: unknown" % (getattr(e, "strerror", None) or e))
        os._exit(128)
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(up_r)
        os.close(down_w)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _init(libc, spec, ctl, up_w, down_r)
        os._exit(127)
    os.close(up_w)
    os.close(down_r)
    _say(ctl, "pid %d" % pid)
    os.close(ctl)
    _write_maps(pid, spec["base"], spec["count"], up_r, down_w)
    while True:
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            os._exit(128 + os.WTERMSIG(status))
        if os.WIFEXITED(status):
            os._exit(os.WEXITSTATUS(status))


def probe():
    """Checks that namespaces, /proc mounting and ID maps work here."""
    libc = _Libc()
    libc.unshare(CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC)
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            libc.unshare(CLONE_NEWNS)
            libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
            d = tempfile.mkdtemp(prefix="kube-sim-probe-")
            libc.mount("proc", d, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            ok = os.listdir(d).count("1") == 1 and os.getpid() == 1
            libc.umount2(d, MNT_DETACH)
            os.rmdir(d)
            _enter_userns(libc, up_w, down_r)
            os._exit(0 if ok and os.getuid() == 0 else 3)
        except BaseException as e:
            os.write(2, ("%s\n" % e).encode())
            os._exit(2)
    _write_maps(pid, int(os.environ.get("KUBE_SIM_USERNS_BASE", "100000")), UID_COUNT, up_r, down_w)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--helper":
        helper_main(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 2 and sys.argv[1] == "--probe":
        try:
            good = probe()
        except OSError as e:
            print(e, file=sys.stderr)
            good = False
        print("ok" if good else "failed")
        sys.exit(0 if good else 1)
    else:
        print(__doc__)
        sys.exit(2)
