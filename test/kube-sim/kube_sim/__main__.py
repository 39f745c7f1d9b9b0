"""python3 -m kube_sim: start kube-sim and write a kubeconfig for it.

  python3 -m kube_sim --port 0 --kubeconfig-out /tmp/ks.kubeconfig

Prints one line `kube-sim listening on <url>` when ready, then serves until
SIGTERM/SIGINT (with --state-file the state is saved then, and loaded at start).
"""
import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="kube_sim", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--kubeconfig-out", help="write a kubeconfig (token auth) here")
    ap.add_argument("--client-cert-kubeconfig-out", help="write a kubeconfig using the admin client certificate")
    ap.add_argument("--cert-dir", help="CA and serving certificates (made if missing; default: a temp dir)")
    ap.add_argument("--plain-http", action="store_true", help="serve HTTP instead of HTTPS")
    ap.add_argument("--token", help="the admin bearer token (default: random)")
    ap.add_argument("--history", type=int, default=1000,
                    help="events kept per resource for watch resumption (older resourceVersions get 410)")
    ap.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch BOOKMARKs")
    ap.add_argument("--min-request-timeout", type=float, default=1800.0,
                    help="watches without timeoutSeconds end after a random time in [this, 2x)")
    ap.add_argument("--gc-discovery-delay", type=float, default=30.0,
                    help="seconds before the garbage collector knows a new CRD's kind (real: 30)")
    ap.add_argument("--job-backoff", type=float, default=10.0, help="Job pod failure back-off base (real: 10)")
    ap.add_argument("--controllers", default="all", help="comma list of crd,namespace,gc,job,kubelet or 'all'")
    ap.add_argument("--state-file", help="load state from here at start, save it here on exit")
    ap.add_argument("--fault", action="append", default=[], help="a fault rule as JSON (see faults.py)")
    ap.add_argument("--max-object-bytes", type=int, default=3 * 1024 * 1024)
    ap.add_argument("--node-name", default="kube-sim-node")
    ap.add_argument("--runtime", choices=["scripted", "exec"], default="scripted",
                    help="scripted: containers follow kube-sim/script; exec: run images for real")
    ap.add_argument("--verbose", action="store_true")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    from .server import KubeSim, write_kubeconfig
    cert_dir = args.cert_dir or tempfile.mkdtemp(prefix="kube-sim-certs-")
    opts = {"port": args.port, "host": args.host, "cert_dir": cert_dir, "plain_http": args.plain_http,
            "token": args.token, "history": args.history, "bookmark_interval": args.bookmark_interval,
            "min_request_timeout": args.min_request_timeout, "gc_discovery_delay": args.gc_discovery_delay,
            "job_backoff": args.job_backoff, "max_object_bytes": args.max_object_bytes,
            "controllers": None if args.controllers == "all" else args.controllers.split(","),
            "node_name": args.node_name, "runtime": args.runtime, "verbose": args.verbose}
    sim = KubeSim(opts)
    if args.state_file and os.path.exists(args.state_file):
        sim.load_state(args.state_file)
    for f in args.fault:
        sim.faults.add(json.loads(f))
    if args.runtime == "exec":
        from . import runtime_exec
        sim.controllers["kubelet"].runtime = runtime_exec.Runtime(sim)
    sim.start()
    if args.kubeconfig_out:
        write_kubeconfig(sim, args.kubeconfig_out)
    if args.client_cert_kubeconfig_out:
        write_kubeconfig(sim, args.client_cert_kubeconfig_out, use_client_cert=True)
    print("kube-sim listening on %s" % sim.url, flush=True)

    done = threading.Event()

    def stop(signum, frame):
        done.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(1.0):
        pass
    if args.state_file:
        sim.save_state(args.state_file)
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
