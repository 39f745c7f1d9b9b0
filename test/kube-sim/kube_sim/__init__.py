"""kube-sim: a Kubernetes API server for tests and the local demo.

Python 3 standard library only. It serves the Kubernetes REST API over HTTPS
(or plain HTTP) with etcd-like semantics -- one global resourceVersion, watch
history, optimistic concurrency -- plus the controllers our operator relies on
(garbage collector, namespace lifecycle, Job controller, a kubelet). Where the
real kube-apiserver's behaviour matters it follows the recordings in
shared/conformance; comments say which behaviour was matched.
"""
