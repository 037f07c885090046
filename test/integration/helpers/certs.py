"""Certificates for the TLS tests, made with the openssl command (SERVICES.md recipe): a CA, a
server certificate for localhost and 127.0.0.1, a client certificate from that CA and one from a
foreign CA. Each `make_*` returns file paths; nothing is fetched or cached outside `directory`."""
import subprocess
from pathlib import Path


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory, name="TestCA"):
    d = Path(directory).resolve()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def make_cert(directory, ca, name, cn, usage, san=None):
    """A certificate `name`.pem/.key signed by `ca` (pem, key) with CN `cn`."""
    d = Path(directory).resolve()
    ext = d / f"{name}.ext"
    ext.write_text((f"subjectAltName={san}\n" if san else "") + f"extendedKeyUsage={usage}\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]),
             "-CAcreateserial", "-days", "30", "-extfile", str(ext), "-out", f"{name}.pem", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


class Certificates:
    """CA, server (localhost, 127.0.0.1), client (CN=svc-client), foreign client (CN=svc-client
    from another CA)."""

    def __init__(self, directory):
        d = Path(directory).resolve()
        d.mkdir(parents=True, exist_ok=True)
        self.dir = d
        self.ca = make_ca(d, "TestCA")
        self.server = make_cert(d, self.ca, "server", "localhost", "serverAuth",
                                "DNS:localhost,IP:127.0.0.1")
        self.client = make_cert(d, self.ca, "client", "svc-client", "clientAuth")
        foreign_ca = make_ca(d, "ForeignCA")
        self.foreign_client = make_cert(d, foreign_ca, "foreign", "svc-client", "clientAuth")

    def new_server(self, name):
        """Another server certificate from the same CA (for rotation)."""
        return make_cert(self.dir, self.ca, name, "localhost", "serverAuth", "DNS:localhost,IP:127.0.0.1")
