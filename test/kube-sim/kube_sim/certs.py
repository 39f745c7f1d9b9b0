"""Certificates for kube-sim: a CA, a serving certificate (SANs 127.0.0.1,
localhost and the in-cluster service names) and an admin client certificate
(O=system:masters). The Python standard library cannot make X.509, so this
uses the openssl command (Debian's openssl package). Keys are EC P-256:
fast to make and accepted by every client we use."""
import os
import subprocess


def _run(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(path, cwd):
    _run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path], cwd)


def ensure(cert_dir, hosts=("127.0.0.1", "localhost")):
    """Creates the files once; later calls reuse them. Returns a dict of paths."""
    os.makedirs(cert_dir, exist_ok=True)
    paths = {n: os.path.join(cert_dir, n) for n in
             ("ca.crt", "ca.key", "server.crt", "server.key", "admin.crt", "admin.key")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    _key("ca.key", cert_dir)
    _run(["req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=kube-sim-ca",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
         cert_dir)
    sans = []
    for h in list(hosts) + ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                            "kubernetes.default.svc.cluster.local"]:
        sans.append(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h)
    with open(os.path.join(cert_dir, "server.ext"), "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,"
                "keyEncipherment\nbasicConstraints=critical,CA:FALSE\n" % ",".join(sans))
    with open(os.path.join(cert_dir, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "basicConstraints=critical,CA:FALSE\n")
    for name, subj, ext in (("server", "/CN=kube-apiserver", "server.ext"),
                            ("admin", "/O=system:masters/CN=kube-sim-admin", "client.ext")):
        _key(name + ".key", cert_dir)
        _run(["req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", subj], cert_dir)
        _run(["x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
              "-out", name + ".crt", "-days", "3650", "-extfile", ext], cert_dir)
    return paths
