"""deploy/argocd/health.lua, run as Argo CD runs it (a global `obj`, base and table
libraries only, a table returned) on Debian's lua5.4, against recorded S2iRun and
S2iBuilder objects of every state (fixtures/); and the argocd-cm snippet made from it."""
import copy
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from . import gitops
from .gitops import EXPECTED, HEALTH_LUA, ROOT, argocd_health, argocd_health_many, load_fixture

ARGO_TO_KSTATUS = {"Healthy": "Current", "Progressing": "InProgress", "Degraded": "Failed"}


def lua_code(src):
    """The script without comments and with every string literal replaced by "", for
    checks on the code itself."""
    out, i = [], 0
    while i < len(src):
        long_open = re.match(r"\[(=*)\[", src[i:]) if src[i] == "[" else None
        if src.startswith("--", i):
            m = re.match(r"--\[(=*)\[", src[i:])
            if m:
                i = src.index("]" + m.group(1) + "]", i) + len(m.group(1)) + 2
            else:
                j = src.find("\n", i)
                i = len(src) if j < 0 else j
        elif long_open:
            i = src.index("]" + long_open.group(1) + "]", i) + len(long_open.group(1)) + 2
            out.append('""')
        elif src[i] in "\"'":
            q, j = src[i], i + 1
            while src[j] != q:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            out.append('""')
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


@unittest.skipUnless(shutil.which(gitops.LUA), "%s is not installed (hack/deps.sh installs it)" % gitops.LUA)
class ArgoCDHealthTest(unittest.TestCase):
    def test_every_fixture_has_an_expectation(self):
        self.assertEqual(sorted(gitops.fixture_names()), sorted(EXPECTED))

    def test_recorded_states(self):
        names = sorted(EXPECTED)
        got = argocd_health_many([load_fixture(n) for n in names])
        for name, result in zip(names, got):
            with self.subTest(name):
                self.assertEqual(result, EXPECTED[name][:2])

    def test_progressing_while_pending_or_running_healthy_when_successful_degraded_when_failed(self):
        """The issue's rule, on runState and the Succeeded condition, for every recorded run
        with a status: the message of a failed run starts with its reason."""
        for name in sorted(EXPECTED):
            obj = load_fixture(name)
            st = obj.get("status") or {}
            if obj["kind"] != "S2iRun" or st.get("observedGeneration", 0) != obj["metadata"]["generation"]:
                continue
            status, message = EXPECTED[name][:2]
            with self.subTest(name):
                state = st.get("runState")
                want = {"Successful": "Healthy", "Failed": "Degraded"}.get(state, "Progressing")
                self.assertEqual(status, want)
                reason = gitops.condition_shape(obj).get("Succeeded", (None, None))[1]
                if state == "Failed" and reason:
                    self.assertTrue(message.startswith(reason + ": "), message)

    def test_agrees_with_kstatus_on_what_the_operator_writes(self):
        names = gitops.OPERATOR_KSTATUS
        got = argocd_health_many([load_fixture(n) for n in names])
        for name, (status, _) in zip(names, got):
            with self.subTest(name):
                self.assertEqual(ARGO_TO_KSTATUS[status], gitops.kstatus_compute(load_fixture(name))[0])

    def test_odd_objects_never_break_the_script(self):
        """Argo CD shows a script error instead of a health: whatever a field holds (a user's
        hand-written status, a future field type), the script answers."""
        odd = [None, "x", "", 7, 2.5, True, [], {}, ["x"], [{}], {"type": "Stalled"}]
        objects = []

        def mutate(root, node, path):
            if isinstance(node, dict):
                items = list(node.items())
            elif isinstance(node, list):
                items = list(enumerate(node))
            else:
                return
            for key, child in items:
                for value in odd:
                    o = copy.deepcopy(root)
                    target = o
                    for p in path:
                        target = target[p]
                    target[key] = value
                    objects.append(o)
                mutate(root, child, path + [key])

        for name in ("run-running", "run-failed-assemble", "run-succeeded", "run-upstream-failed",
                     "builder-ready", "builder-invalid-config", "builder-upstream"):
            obj = load_fixture(name)
            for key in ("status", "kind", "metadata"):
                for value in odd:
                    o = copy.deepcopy(obj)
                    o[key] = value
                    objects.append(o)
            mutate(obj, obj["status"], ["status"])
            mutate(obj, obj["metadata"], ["metadata"])
        objects += [{}, {"kind": "S2iRun"}, {"kind": "S2iBuilder"}, {"kind": "Deployment"}]
        results = argocd_health_many(objects)  # raises on any script error
        self.assertGreater(len(results), 1000)
        for status, _ in results:
            self.assertIn(status, ("Healthy", "Progressing", "Degraded", "Unknown"))
        self.assertEqual(argocd_health({"kind": "Deployment"})[0], "Unknown")

    def test_floats_as_argo_cd_passes_numbers(self):
        """Argo CD hands every JSON number to Lua as a float64."""
        obj = load_fixture("builder-spec-not-yet-observed")
        obj["metadata"]["generation"] = 3.0
        obj["status"]["observedGeneration"] = 2.0
        self.assertEqual(argocd_health(obj)[0], "Progressing")
        obj["status"]["observedGeneration"] = 3.0
        self.assertEqual(argocd_health(obj)[0], "Healthy")

    def test_every_line_runs_on_some_recorded_state(self):
        """Argo CD runs the script in gopher-lua without the string library; lua5.4 only
        proves a line works there if the line runs."""
        with tempfile.TemporaryDirectory() as tmp:
            cov = os.path.join(tmp, "lines")
            objs = [load_fixture(n) for n in sorted(EXPECTED)]
            objs += ["not an object", {"kind": "Deployment"},
                     {"kind": "S2iRun", "status": {"runState": "Unknown"}},
                     {"kind": "S2iRun", "status": {"startTime": "2026-03-02T10:00:01Z"}},
                     {"kind": "S2iRun", "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                     {"kind": "S2iRun", "status": {"conditions": [{"type": "Succeeded", "status": "True"}]}},
                     {"kind": "S2iBuilder", "status": {"conditions": [
                         {"type": "Reconciling", "status": "True", "reason": "Checking"}]}},
                     {"kind": "S2iBuilder", "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}},
                     {"kind": "S2iRun", "status": {"conditions": [
                         {"type": "Succeeded", "status": "Unknown", "message": "only a message"}]}}]
            argocd_health_many(objs, coverage=cov)
            with open(cov) as f:
                hit = {int(x) for x in f.read().split()}
            out = subprocess.run(["luac5.4" if gitops.LUA == "lua5.4" else "luac", "-l", "-l", "-p", HEALTH_LUA],
                                 capture_output=True, text=True, check=True).stdout
        with open(HEALTH_LUA) as f:
            lines = f.read().split("\n")
        code = {int(m.group(1)) for m in re.finditer(r"^\s*\d+\s+\[(\d+)\]", out, re.M)}
        missed = sorted(n for n in code - hit if lines[n - 1].strip() not in ("end", "else")
                        and not lines[n - 1].startswith("--"))
        self.assertEqual([(n, lines[n - 1].strip()) for n in missed], [])

    def test_lua_5_1_and_base_library_only(self):
        """gopher-lua speaks Lua 5.1 (no goto, integer division, bitwise operators) and a
        custom health check gets base and table only: no string/math/os/io, no methods."""
        with open(HEALTH_LUA) as f:
            code = lua_code(f.read())
        for pattern, what in [(r"\bgoto\b|::", "goto"), (r"//", "integer division"),
                              (r"[&|]|~(?!=)|<<|>>", "bitwise operators"),
                              (r"\b(string|math|os|io|utf8|debug|coroutine|package|require)\b", "a library"),
                              (r"[\w\)\]\"]\s*:\s*[A-Za-z_]\w*\s*[\(\"{]", "a method call")]:
            with self.subTest(what):
                self.assertIsNone(re.search(pattern, code), what)

    def test_harness_denies_what_argo_cd_denies(self):
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write('return {status = ("x"):upper()}\n')
        try:
            with self.assertRaisesRegex(RuntimeError, "health script error"):
                argocd_health({"kind": "S2iRun"}, script=f.name)
            with open(f.name, "w") as g:
                g.write('return {status = string.upper("x")}\n')
            with self.assertRaisesRegex(RuntimeError, "health script error"):
                argocd_health({"kind": "S2iRun"}, script=f.name)
            with open(f.name, "w") as g:
                g.write('return {status = "Fine"}\n')
            self.assertEqual(argocd_health({}, script=f.name), ("Unknown", "Lua returned an invalid health status"))
        finally:
            os.unlink(f.name)


class ArgoCDConfigMapTest(unittest.TestCase):
    CM = os.path.join(ROOT, "deploy", "argocd", "argocd-cm.yaml")

    def test_snippet_is_generated_from_health_lua(self):
        r = subprocess.run([os.path.join(ROOT, "hack", "argocd-cm.sh"), "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_snippet_carries_the_script_for_both_kinds(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML is not installed")
        with open(self.CM) as f:
            cm = yaml.safe_load(f)
        with open(HEALTH_LUA) as f:
            script = f.read()
        self.assertEqual((cm["apiVersion"], cm["kind"], cm["metadata"]["name"]), ("v1", "ConfigMap", "argocd-cm"))
        # Argo CD only reads ConfigMaps with this label.
        self.assertEqual(cm["metadata"]["labels"]["app.kubernetes.io/part-of"], "argocd")
        self.assertEqual(cm["data"], {
            "resource.customizations.health.devops.kubesphere.io_S2iRun": script,
            "resource.customizations.health.devops.kubesphere.io_S2iBuilder": script,
        })


if __name__ == "__main__":
    unittest.main()
