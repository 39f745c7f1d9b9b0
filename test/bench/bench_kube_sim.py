"""kube-sim throughput and watch fan-out: how many writes per second it takes,
how fast a list of thousands of objects is served, and how quickly an event
reaches dozens of open watches. Prints numbers; asserts nothing."""
import concurrent.futures
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kube-sim"))
from tests.simutil import Sim  # noqa: E402

N_OBJECTS = int(os.environ.get("BENCH_OBJECTS", "3000"))
N_WATCHES = int(os.environ.get("BENCH_WATCHES", "30"))
CM = "/api/v1/namespaces/default/configmaps"


def create_many(sim, k, stride, payload):
    """One keep-alive connection per client, as real clients (and our operator) use."""
    import http.client
    host, port = sim.url.split("//")[1].split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=sim.ssl)
    hdr = {"Authorization": "Bearer " + sim.token, "Content-Type": "application/json"}
    for i in range(k, N_OBJECTS, stride):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench-%05d" % i},
                           "data": {"payload": payload}})
        conn.request("POST", CM, body, hdr)
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            raise RuntimeError("create failed: %d" % r.status)
    conn.close()


def main():
    sim = Sim("--history", "100000")
    try:
        payload = "x" * 1024
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda k: create_many(sim, k, 8, payload), range(8)))
        create_s = time.time() - t0
        t0 = time.time()
        code, lst, _ = sim.request("GET", CM, timeout=120)
        list_s = time.time() - t0
        ready = threading.Barrier(N_WATCHES + 1)
        got = []
        lock = threading.Lock()

        def watcher():
            import urllib.request
            req = urllib.request.Request(sim.url + CM + "?watch=1&timeoutSeconds=20&fieldSelector=metadata.name%3Dping"
                                         + "&resourceVersion=" + lst["metadata"]["resourceVersion"],
                                         headers={"Authorization": "Bearer " + sim.token})
            with urllib.request.urlopen(req, context=sim.ssl, timeout=30) as r:
                ready.wait()
                for line in r:
                    if line.strip():
                        with lock:
                            got.append(time.time())
                        return
        threads = [threading.Thread(target=watcher) for _ in range(N_WATCHES)]
        for t in threads:
            t.start()
        ready.wait()
        time.sleep(0.2)
        t0 = time.time()
        sim.request("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ping"}})
        for t in threads:
            t.join(30)
        fanout = sorted(x - t0 for x in got)
        print("| kube-sim benchmark | value |")
        print("|---|---|")
        print("| creates/s (8 clients, 1 KiB ConfigMaps, %d objects) | %.0f |" % (N_OBJECTS, N_OBJECTS / create_s))
        print("| list of %d objects | %.0f ms |" % (len(lst["items"]), list_s * 1000))
        if fanout:
            print("| event to %d/%d watches: p50 / max | %.1f ms / %.1f ms |"
                  % (len(fanout), N_WATCHES, fanout[len(fanout) // 2] * 1000, fanout[-1] * 1000))
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
