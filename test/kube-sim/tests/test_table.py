"""Tests for kube_sim.table: server-side printing (meta.k8s.io/v1 Table) and the JSONPath subset."""
import copy
import json
import os
import unittest

from kube_sim import table
from kube_sim.resources import Registry, ResourceType

CONFORMANCE = os.environ.get("KUBE_SIM_CONFORMANCE", "/work/shared/conformance")
NOW = 1767225600.0          # 2026-01-01T00:00:00Z
T0 = "2026-01-01T00:00:00Z"


def ts(seconds_before):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_before))


def widget_type(columns=None):
    return ResourceType("demo.example.com", "v1", "Widget", "widgets", crd_name="widgets.demo.example.com",
                        schema={"type": "object"}, printer_columns=columns if columns is not None else [
                            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}])


def builtin(group, kind):
    for t in Registry().all():
        if t.group == group and t.kind == kind:
            return t
    raise KeyError(kind)


def obj(name, age=60, **rest):
    o = {"metadata": {"name": name, "namespace": "default", "creationTimestamp": ts(age), "resourceVersion": "7"}}
    o.update(rest)
    return o


class RecordedSample(unittest.TestCase):
    def test_sample_table_is_reproduced_byte_for_byte(self):
        path = os.path.join(CONFORMANCE, "samples", "table-response.json")
        if not os.path.exists(path):
            self.skipTest("no conformance samples")
        with open(path) as f:
            sample = json.load(f)
        md = sample["rows"][0]["object"]["metadata"]
        # the stored object has its metadata in any order; the Table must put it in Go's order
        widget = {"apiVersion": "demo.example.com/v1", "kind": "Widget",
                  "metadata": dict(reversed(list(md.items()))), "spec": {"size": 4}}
        got = table.to_table([widget], widget_type(), "Metadata", {"resourceVersion": "<rv>"})
        self.assertEqual(json.dumps(got), json.dumps(sample))
        self.assertEqual(table.to_table(widget, widget_type(), list_meta={"resourceVersion": "<rv>"}), sample)


class CustomResourceTables(unittest.TestCase):
    def test_include_object(self):
        w = obj("w1", spec={"size": 1}, apiVersion="demo.example.com/v1", kind="Widget")
        full = table.to_table([w], widget_type(), "Object", now=NOW)
        self.assertEqual(full["rows"][0]["object"], w)
        none = table.to_table([w], widget_type(), "None", now=NOW)
        self.assertIsNone(none["rows"][0]["object"])
        with self.assertRaises(ValueError):
            table.to_table([w], widget_type(), "Bogus")

    def test_default_age_column(self):
        t = table.to_table([obj("a", age=300)], widget_type([]), now=NOW)
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Age"])
        self.assertEqual(t["columnDefinitions"][1]["type"], "date")
        self.assertTrue(t["columnDefinitions"][1]["description"].startswith("CreationTimestamp is a timestamp"))
        self.assertEqual(t["rows"][0]["cells"], ["a", "5m"])

    def test_cell_types(self):
        cols = [{"name": "I", "type": "integer", "jsonPath": ".spec.f"},
                {"name": "N", "type": "number", "jsonPath": ".spec.i"},
                {"name": "B", "type": "boolean", "jsonPath": ".spec.b"},
                {"name": "BadB", "type": "boolean", "jsonPath": ".spec.i"},
                {"name": "S", "type": "string", "jsonPath": ".spec.m"},
                {"name": "SI", "type": "string", "jsonPath": ".spec.i"},
                {"name": "D", "type": "date", "jsonPath": ".status.t"},
                {"name": "Bad", "type": "date", "jsonPath": ".status.bad"},
                {"name": "Missing", "type": "string", "jsonPath": ".status.nope"},
                {"name": "Desc", "type": "string", "jsonPath": ".spec.l[*].n", "description": "given",
                 "priority": 1}]
        o = obj("x", spec={"f": 2.9, "i": 3, "b": True, "m": {"b": 1.0, "a": "<"}, "l": [{"n": "first"}, {"n": "2"}]},
                status={"t": ts(3 * 86400 + 4 * 3600), "bad": "yesterday"})
        t = table.to_table([o], widget_type(cols), now=NOW)
        self.assertEqual(t["rows"][0]["cells"], ["x", 2, 3.0, True, None, '{"a":"\\u003c","b":1}', "3", "3d4h",
                                                 "<invalid>", None, "first"])
        self.assertEqual(t["columnDefinitions"][-1], {"name": "Desc", "type": "string", "format": "",
                                                      "description": "given", "priority": 1})
        self.assertEqual(t["columnDefinitions"][1]["description"],
                         "Custom resource definition column (in JSONPath format): .spec.f")

    def test_list_metadata(self):
        t = table.to_table([], widget_type(), list_meta={"resourceVersion": "9", "continue": "abc",
                                                         "remainingItemCount": 3})
        self.assertEqual(t["metadata"], {"resourceVersion": "9", "continue": "abc", "remainingItemCount": 3})
        self.assertEqual(t["rows"], [])

    def test_watch_events(self):
        w = obj("w", spec={"size": 2})
        first = table.to_table_event(w, widget_type(), True, now=NOW)
        later = table.to_table_event(w, widget_type(), False, now=NOW)
        self.assertEqual(len(first["columnDefinitions"]), 3)
        self.assertIsNone(later["columnDefinitions"])
        self.assertEqual(later["rows"][0]["cells"], ["w", 2, None])
        self.assertEqual(later["metadata"], {"resourceVersion": "7"})
        status = {"kind": "Status", "apiVersion": "v1", "code": 410}
        self.assertIs(table.to_table_event(status, widget_type(), False), status)


class JSONPath(unittest.TestCase):
    DOC = {"metadata": {"labels": {"app.kubernetes.io/name": "x"}},
           "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True", "n": 2}],
                      "list": [1, 2, 3]}}

    def test_paths(self):
        j = table.jsonpath
        self.assertEqual(j(self.DOC, ".status.conditions[1].type"), "Ready")
        self.assertEqual(j(self.DOC, ".status.conditions[-1].status"), "True")
        self.assertEqual(j(self.DOC, ".status.conditions[*].type"), "A")
        self.assertEqual(table.jsonpath_all(self.DOC, ".status.conditions[*].type"), ["A", "Ready"])
        self.assertEqual(j(self.DOC, '.status.conditions[?(@.type=="Ready")].status'), "True")
        self.assertEqual(j(self.DOC, ".status.conditions[?(@.type=='A')].status"), "False")
        self.assertEqual(j(self.DOC, ".status.conditions[?(@.n > 1)].type"), "Ready")
        self.assertEqual(j(self.DOC, ".status.conditions[?(@.n)].type"), "Ready")
        self.assertEqual(j(self.DOC, ".metadata.labels.app\\.kubernetes\\.io/name"), "x")
        self.assertEqual(j(self.DOC, ".metadata.labels['app.kubernetes.io/name']"), "x")
        self.assertEqual(table.jsonpath_all(self.DOC, ".status.list[0:2]"), [1, 2])
        self.assertEqual(j(self.DOC, "{.status.list[2]}"), 3)
        self.assertIsNone(j(self.DOC, ".status.nope.deeper"))
        self.assertIsNone(j(self.DOC, ".status.list[7]"))

    def test_human_duration(self):
        for secs, want in ((-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (125, "2m5s"),
                           (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"),
                           (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"),
                           (8 * 86400, "8d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y")):
            self.assertEqual(table.human_duration(secs), want, secs)


class BuiltinTables(unittest.TestCase):
    def cells(self, group, kind, o):
        t = table.to_table([o], builtin(group, kind), now=NOW)
        return t["rows"][0]["cells"], t

    def test_pod(self):
        running = obj("p", age=120, spec={"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
                      status={"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                          {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
                           "lastState": {"terminated": {"finishedAt": ts(30)}}},
                          {"name": "b", "ready": False, "restartCount": 0,
                           "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
        cells, t = self.cells("", "Pod", running)
        self.assertEqual([c["name"] for c in t["columnDefinitions"]],
                         ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
                          "Readiness Gates"])
        self.assertEqual([c["priority"] for c in t["columnDefinitions"]], [0, 0, 0, 0, 0, 1, 1, 1, 1])
        self.assertEqual(cells, ["p", "1/2", "CrashLoopBackOff", "2 (30s ago)", "2m", "10.0.0.5", "n1", "<none>",
                                 "<none>"])
        done = obj("d", spec={"containers": [{"name": "a"}]}, status={"phase": "Succeeded", "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})
        cells, t = self.cells("", "Pod", done)
        self.assertEqual(cells[1:4], ["0/1", "Completed", "0"])
        self.assertEqual(t["rows"][0]["conditions"], [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                                       "message": "The pod has completed successfully."}])
        init = obj("i", spec={"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
                   status={"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]})
        self.assertEqual(self.cells("", "Pod", init)[0][2], "Init:0/1")
        failed_init = obj("f", spec={"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
                          status={"phase": "Failed", "initContainerStatuses": [
                              {"name": "i", "state": {"terminated": {"exitCode": 3}}}]})
        self.assertEqual(self.cells("", "Pod", failed_init)[0][2], "Init:ExitCode:3")
        deleting = copy.deepcopy(running)
        deleting["metadata"]["deletionTimestamp"] = T0
        self.assertEqual(self.cells("", "Pod", deleting)[0][2], "Terminating")
        pending = obj("q", spec={"containers": [{"name": "a"}]}, status={"phase": "Pending"})
        self.assertEqual(self.cells("", "Pod", pending)[0][1:5], ["0/1", "Pending", "0", "60s"])

    def test_job(self):
        j = obj("j", age=600, spec={"completions": 1, "parallelism": 1, "selector": {"matchLabels": {
            "controller-uid": "u"}}, "template": {"spec": {"containers": [{"name": "build", "image": "img:1"}]}}},
            status={"succeeded": 1, "startTime": ts(500), "completionTime": ts(380)})
        cells, t = self.cells("batch", "Job", j)
        self.assertEqual(cells, ["j", "1/1", "2m", "10m", "build", "img:1", "controller-uid=u"])
        running = obj("r", spec={"template": {"spec": {"containers": []}}}, status={"startTime": ts(65)})
        self.assertEqual(self.cells("batch", "Job", running)[0][1:3], ["0/1", "65s"])

    def test_simple_kinds(self):
        self.assertEqual(self.cells("", "Namespace", obj("ns", status={"phase": "Active"}))[0], ["ns", "Active", "60s"])
        self.assertEqual(self.cells("", "ConfigMap", obj("cm", data={"a": "1", "b": "2"}))[0], ["cm", 2, "60s"])
        self.assertEqual(self.cells("", "Secret", obj("s", type="kubernetes.io/dockerconfigjson",
                                                      data={"x": "eA=="}))[0],
                         ["s", "kubernetes.io/dockerconfigjson", 1, "60s"])
        cells, t = self.cells("rbac.authorization.k8s.io", "Role", obj("r"))
        self.assertEqual(cells, ["r", ts(60)])
        self.assertEqual(t["columnDefinitions"][1]["name"], "Created At")
        cells, t = self.cells("apiextensions.k8s.io", "CustomResourceDefinition", obj("c"))
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Created At"])

    def test_event(self):
        ev = obj("e.1", involvedObject={"kind": "Pod", "name": "p"}, reason="Pulled", type="Normal",
                 message=" done \n", firstTimestamp=ts(120), lastTimestamp=ts(10), count=3,
                 source={"component": "kubelet", "host": "n1"})
        cells, t = self.cells("", "Event", ev)
        self.assertEqual([c["name"] for c in t["columnDefinitions"]][:4], ["Last Seen", "Type", "Reason", "Object"])
        self.assertEqual(cells, ["10s", "Normal", "Pulled", "pod/p", "", "kubelet, n1", "done", "2m", 3, "e.1"])
        ev2 = obj("e.2", regarding={"kind": "Job", "name": "j"}, note="x", reason="R", type="Warning",
                  eventTime="2025-12-31T23:59:00.000000Z", reportingController="job-controller")
        self.assertEqual(table.to_table([ev2], builtin("events.k8s.io", "Event"), now=NOW)["rows"][0]["cells"],
                         ["60s", "Warning", "R", "job/j", "", "job-controller", "x", "60s", 1, "e.2"])


if __name__ == "__main__":
    unittest.main()
