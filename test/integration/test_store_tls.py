"""The result stores over TLS (issue 13, docs/security.md): a PostgreSQL store URI hands
`sslmode` and `sslrootcert` to libpq, an S3 store verifies an https endpoint against the system's
CAs or the URI's `ca_file`. Each against a private server of its own with a certificate made
here (helpers/certs.py): a PostgreSQL cluster with ssl = on, and the test S3 server serving
https. A certificate from another CA stops `pfo3 work` at start (exit 2) with a message that
names TLS and never the password.

Needs what test/run provides: $PFO3_TEST_POSTGRES_URL (PostgreSQL 15 installed) for the first
part, $PFO3_TEST_S3_ENDPOINT (the S3 server installed) for the second.
"""
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from helpers.certs import Certificates
from helpers.processes import REPO, free_port, submit_ids, wait_until
from helpers.stores import POSTGRES_SH, psql, wait_final_statuses

S3_SH = REPO / "test" / "services" / "s3.sh"
BUCKET = "pfo3-tls"
PG_PASSWORD = "pfo3-test-secret"  # test/services/postgres.sh's role password


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certificates(tmp_path_factory.mktemp("store-certs"))


def foreign_ca(certs):
    """A CA that did not sign the servers' certificate (Certificates makes it for clients)."""
    return certs.dir / "ForeignCA.pem"


def run_work(pfo3, queue, uri, timeout=90):
    return pfo3.run(["work", "--amqp", pfo3.amqp_url, "--queue", queue, "--store", uri], timeout=timeout)


def assert_refused_naming_tls(r, secret=None):
    assert r.returncode == 2, f"rc={r.returncode}\n{r.stderr[-3000:]}"
    assert "TLS" in r.stderr, r.stderr[-3000:]
    if secret:
        assert secret not in r.stderr + r.stdout, r.stderr[-3000:]


# --- PostgreSQL ------------------------------------------------------------------------------

def postgres_sh(*args, timeout=120):
    r = subprocess.run([str(POSTGRES_SH), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"postgres.sh {args[0]}: {r.stderr}"
    return r.stdout.strip()


@pytest.fixture(scope="module")
def tls_postgres(certs):
    """The URI (without query) of a private cluster with ssl = on and the server certificate for
    localhost/127.0.0.1; plaintext is still accepted, so a test sees which one libpq chose."""
    if not os.environ.get("PFO3_TEST_POSTGRES_URL"):
        pytest.skip("needs PFO3_TEST_POSTGRES_URL (test/run starts a PostgreSQL)")
    # Under /tmp, as postgres.sh needs: the server runs as user postgres and must reach it.
    cluster = Path(tempfile.mkdtemp(prefix="pfo3-itest-pgtls-"))
    try:
        url = postgres_sh("start", cluster, free_port()).splitlines()[-1]
        # The server reads its key only if no one else may (0600, its own user).
        tls = cluster / "tls"
        tls.mkdir()
        shutil.copy(certs.server[0], tls / "server.pem")
        shutil.copy(certs.server[1], tls / "server.key")
        os.chmod(tls / "server.key", 0o600)
        if os.getuid() == 0:
            for p in (tls, tls / "server.pem", tls / "server.key"):
                shutil.chown(p, "postgres", "postgres")
        postgres_sh("psql", cluster, "-d", "postgres",
                    "-c", f"ALTER SYSTEM SET ssl_cert_file = '{tls / 'server.pem'}'",
                    "-c", f"ALTER SYSTEM SET ssl_key_file = '{tls / 'server.key'}'",
                    "-c", "ALTER SYSTEM SET ssl = on",
                    "-c", "SELECT pg_reload_conf()")
        # The reload is a signal: wait until a new connection gets TLS.
        required = url + "?sslmode=require"
        wait_until(lambda: subprocess.run(["psql", "-X", "-tA", required, "-c", "SELECT 1"], capture_output=True,
                                          timeout=30).returncode == 0, 60, "the cluster to offer TLS")
        yield cluster, url
    finally:
        subprocess.run([str(POSTGRES_SH), "stop", str(cluster)], timeout=120)
        shutil.rmtree(cluster, ignore_errors=True)


@pytest.fixture
def tls_database(tls_postgres):
    """(cluster, URI without query) of a database of this test's own."""
    cluster, url = tls_postgres
    name = "t_" + uuid.uuid4().hex[:12]
    psql(url, f"CREATE DATABASE {name}")
    yield cluster, url.rsplit("/", 1)[0] + "/" + name
    psql(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pfo3_connections_by_tls(cluster, database):
    """{True: n, False: m}: pfo3's connections to `database` (libpq application name pfo3), by
    whether they use TLS, as the server sees them."""
    out = postgres_sh("psql", cluster, "-d", "postgres", "-tA", "-c",
                      "SELECT s.ssl, s.version, count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                      f"WHERE a.application_name = 'pfo3' AND a.datname = '{database}' GROUP BY 1, 2")
    seen = {}
    for line in out.splitlines():
        ssl, version, n = line.split("|")
        seen[(ssl == "t", version)] = int(n)
    return seen


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_postgres_store_with_sslmode_verify_full_stores_over_tls(pfo3, queue, tls_database, certs, host):
    cluster, url = tls_database
    uri = (url.replace("@127.0.0.1:", f"@{host}:") +
           f"?sslmode=verify-full&sslrootcert={certs.ca[0]}")
    # At trace level: the logs name the store, never its password.
    serve = pfo3.serve(queue, env={"PFO3_STORE": uri}, extra=["--log-level", "trace"])
    work = pfo3.work(queue, extra=["--store", uri, "--log-level", "trace"])

    ids = submit_ids(pfo3.send(server=serve.address, tasks=["1", "2"]), 2)
    final = wait_final_statuses(pfo3, serve.address, ids)

    assert {a["status"] for a in final.values()} == {"done"}, final
    seen = pfo3_connections_by_tls(cluster, url.rsplit("/", 1)[1])
    assert seen and all(ssl for ssl, _ in seen), f"a pfo3 connection without TLS: {seen}"
    assert all(version in ("TLSv1.2", "TLSv1.3") for _, version in seen), seen
    for d in (serve, work):
        assert PG_PASSWORD not in d.stderr(), f"the password in the log of {d.name}"


def test_postgres_store_with_a_foreign_ca_stops_the_worker_naming_tls(pfo3, queue, tls_database, certs):
    _, url = tls_database
    uri = url + f"?sslmode=verify-full&sslrootcert={foreign_ca(certs)}"

    r = run_work(pfo3, queue, uri)

    assert_refused_naming_tls(r, PG_PASSWORD)
    assert "certificate verify failed" in r.stderr, r.stderr[-3000:]
    assert "sslrootcert" in r.stderr and "pfo3:***@" in r.stderr, r.stderr[-3000:]


def test_postgres_store_on_a_name_the_certificate_does_not_hold_is_refused(pfo3, queue, tls_database, certs):
    _, url = tls_database
    # 127.0.0.2 reaches the same loopback server, but the certificate names only localhost and
    # 127.0.0.1. hostaddr makes libpq connect to the server's address while checking the name.
    uri = url.replace("@127.0.0.1:", "@other.example:") + \
        f"?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={certs.ca[0]}"

    r = run_work(pfo3, queue, uri)

    assert_refused_naming_tls(r, PG_PASSWORD)
    assert 'does not match host name "other.example"' in r.stderr, r.stderr[-3000:]


def test_postgres_sslmode_require_against_a_server_without_tls_is_refused(pfo3, queue):
    # The suite's shared cluster runs without ssl.
    admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("needs PFO3_TEST_POSTGRES_URL")

    r = run_work(pfo3, queue, admin + "?sslmode=require")

    assert_refused_naming_tls(r, PG_PASSWORD)
    assert "server does not support SSL" in r.stderr, r.stderr[-3000:]


# --- S3 over https ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def https_s3(certs):
    """The https endpoint of a private S3 server (test/services/s3.sh) with the server
    certificate for localhost/127.0.0.1 and the bucket BUCKET."""
    if not os.environ.get("PFO3_TEST_S3_ENDPOINT"):
        pytest.skip("needs PFO3_TEST_S3_ENDPOINT (test/run starts the S3 server, so it is installed)")
    data = Path(tempfile.mkdtemp(prefix="pfo3-itest-s3tls-"))
    port = free_port()
    env = dict(os.environ, PFO3_S3_TLS_CERT=str(certs.server[0]), PFO3_S3_TLS_KEY=str(certs.server[1]))
    try:
        subprocess.run([str(S3_SH), "start", str(data), str(port), BUCKET], check=True, env=env,
                       capture_output=True, timeout=120)
        yield f"https://127.0.0.1:{port}"
    finally:
        subprocess.run([str(S3_SH), "stop", str(data)], timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def s3_uri(endpoint, ca_file=None):
    uri = f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}?endpoint={endpoint}&region=us-east-1"
    return uri + (f"&ca_file={ca_file}" if ca_file else "")


def test_s3_store_over_https_verifies_against_ca_file(pfo3, queue, https_s3, certs):
    uri = s3_uri(https_s3, certs.ca[0])
    serve = pfo3.serve(queue, env={"PFO3_STORE": uri})
    pfo3.work(queue, extra=["--store", uri])

    ids = submit_ids(pfo3.send(server=serve.address, tasks=["3"]), 1)

    assert wait_final_statuses(pfo3, serve.address, ids)[ids[0]]["status"] == "done"


@pytest.mark.parametrize("which", ["system CAs", "foreign ca_file"])
def test_s3_store_over_https_with_an_untrusted_certificate_stops_the_worker_naming_tls(pfo3, queue, https_s3,
                                                                                      certs, which):
    uri = s3_uri(https_s3, foreign_ca(certs) if which == "foreign ca_file" else None)

    r = run_work(pfo3, queue, uri)

    assert_refused_naming_tls(r, os.environ.get("AWS_SECRET_ACCESS_KEY"))
    assert "curl error 60" in r.stderr and "ca_file" in r.stderr, r.stderr[-3000:]


def test_s3_store_with_an_unreadable_ca_file_names_it(pfo3, queue, https_s3, tmp_path):
    missing = tmp_path / "no-such-ca.pem"

    r = run_work(pfo3, queue, s3_uri(https_s3, missing))

    assert_refused_naming_tls(r)
    assert str(missing) in r.stderr, r.stderr[-3000:]
