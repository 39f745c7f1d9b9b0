"""Paginated LIST: every page of one list is read at the first page's
resourceVersion (writes in between are not seen), pages follow etcd key order
within the namespace asked for, remainingItemCount is given without selectors,
and a continue token older than the history window gets 410 Expired."""
from .simutil import SimTestCase

NSS = ("pg-a", "pg-a-b", "pg-ab")      # namespaces sharing a prefix sort around each other


def cms(ns):
    return "/api/v1/namespaces/%s/configmaps" % ns


def cm(name, labels=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": {"k": "v"}}


class PaginationTest(SimTestCase):
    SIM_ARGS = SimTestCase.SIM_ARGS + ("--history", "40", "--controllers", "crd")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for ns in NSS:
            cls.sim.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": ns}})
            for i in range(12):
                code, body, _ = cls.sim.request("POST", cms(ns), cm("cm-%02d" % i, {"even": str(i % 2 == 0).lower()}))
                assert code == 201, body

    def pages(self, path, limit, query="", between=None):
        out, metas = [], []
        cont = ""
        while True:
            code, body, _ = self.sim.request("GET", path + "?limit=%d%s%s" % (limit, query, "&continue=" + cont
                                                                                  if cont else ""))
            self.assertEqual(code, 200, body)
            out += [(o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["resourceVersion"])
                    for o in body["items"]]
            metas.append(body["metadata"])
            cont = body["metadata"]["continue"]
            if not cont:
                return out, metas
            if between:
                between()
                between = None

    def test_pages_are_one_snapshot_while_writes_go_on(self):
        _, before, _ = self.sim.request("GET", cms("pg-a"))
        want = [(o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["resourceVersion"])
                for o in before["items"]]

        def writes():
            self.sim.request("DELETE", cms("pg-a") + "/cm-11")
            self.sim.request("PATCH", cms("pg-a") + "/cm-09", {"data": {"k": "changed"}},
                             "application/merge-patch+json")
            self.sim.request("POST", cms("pg-a"), cm("cm-10a"))
            self.sim.request("POST", cms("pg-a"), cm("cm-00"))     # 409: exists
        got, metas = self.pages(cms("pg-a"), 5, between=writes)
        self.assertEqual(got, want)
        self.assertEqual(len(got), 12)
        self.assertEqual([m.get("remainingItemCount") for m in metas], [7, 2, None])
        self.assertEqual({m["resourceVersion"] for m in metas}, {before["metadata"]["resourceVersion"]})
        # The writes are there for a new list.
        now, _ = self.pages(cms("pg-a"), 5)
        self.assertEqual([n for _, n, _ in now], ["cm-%02d" % i for i in range(10)] + ["cm-10", "cm-10a"])
        # Restore what the other tests expect.
        self.sim.request("DELETE", cms("pg-a") + "/cm-10a")
        self.sim.request("POST", cms("pg-a"), cm("cm-11", {"even": "false"}))

    def test_pages_of_all_namespaces_and_with_a_selector(self):
        got, metas = self.pages("/api/v1/configmaps", 7, "&labelSelector=even%3Dtrue")
        mine = [(ns, n) for ns, n, _ in got if ns in NSS]
        self.assertEqual(mine, [(ns, "cm-%02d" % i) for ns in sorted(NSS) for i in range(0, 12, 2)])
        self.assertTrue(all("remainingItemCount" not in m for m in metas))
        self.assertTrue(all(len(m["continue"]) > 0 for m in metas[:-1]))
        for ns in NSS:
            got, metas = self.pages(cms(ns), 3, "&labelSelector=even%3Dfalse")
            self.assertEqual([n for _, n, _ in got], ["cm-%02d" % i for i in range(1, 12, 2)])
            # Exactly two full pages: the second has no more matches after it, so it is the last.
            self.assertEqual(len(metas), 2)
            got, metas = self.pages(cms(ns), 12)
            self.assertEqual((len(got), len(metas), metas[0]["continue"]), (12, 1, ""))

    def test_a_continue_token_past_the_history_window_is_410(self):
        code, p1, _ = self.sim.request("GET", cms("pg-ab") + "?limit=4")
        self.assertEqual(code, 200)
        for i in range(45):      # more writes to configmaps than the 40 events kept
            self.sim.request("PATCH", cms("pg-a-b") + "/cm-00", {"data": {"k": str(i)}},
                             "application/merge-patch+json")
        code, body, _ = self.sim.request("GET", cms("pg-ab") + "?limit=4&continue=" + p1["metadata"]["continue"])
        self.assertEqual((code, body["reason"]), (410, "Expired"))
        self.assertIn("continue parameter is too old", body["message"])
        code, body, _ = self.sim.request("GET", cms("pg-ab") + "?limit=4&continue=bm90LWpzb24")
        self.assertEqual((code, body["reason"]), (400, "BadRequest"))
