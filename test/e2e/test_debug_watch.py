"""`s2i-operator debug watch` prints informer events: the manual check of the
client, reflector and decoder against any cluster."""
import os
import subprocess
import time

from .e2eutil import BUILD, E2ETestCase, wait_for


class DebugWatchTest(E2ETestCase):
    def test_prints_adds_updates_and_deletes(self):
        out = os.path.join(self.workdir, "watch.out")
        with open(out, "w") as f:
            p = subprocess.Popen([os.path.join(BUILD, "bin", "s2i-operator"), "debug", "watch", "--kubeconfig",
                                  self.sim.kubeconfig, "--resource", "configmaps.v1", "-n", self.NAMESPACE],
                                 stdout=f, stderr=subprocess.STDOUT)
        try:
            self.kubectl("create", "configmap", "watched", "-n", self.NAMESPACE, "--from-literal=a=1")
            self.kubectl("label", "configmap", "watched", "-n", self.NAMESPACE, "x=y")
            self.kubectl("delete", "configmap", "watched", "-n", self.NAMESPACE)

            def seen():
                with open(out) as f:
                    lines = [l.split()[:2] for l in f if l.startswith(("ADDED", "MODIFIED", "DELETED"))]
                return lines if ["DELETED", self.NAMESPACE + "/watched"] in lines else None
            lines = wait_for(seen, timeout=20, what="events printed")
            mine = [l[0] for l in lines if l[1] == self.NAMESPACE + "/watched"]
            self.assertEqual(mine, ["ADDED", "MODIFIED", "DELETED"])
        finally:
            p.terminate()
            self.assertEqual(p.wait(10), 0)
