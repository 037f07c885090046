"""amqps:// to the broker (issue 13, docs/security.md): a private RabbitMQ node with a TLS
listener that demands a client certificate; pfo3 serve and work log in with SASL EXTERNAL
(the certificate's CN is the user), and a run at --log-level trace holds no secret.
The node's ports: $PFO3_TEST_AMQPS_PORTS ("PLAIN,TLS"), default 5795,5796."""
import os
import shutil
import subprocess
import tempfile

import pytest

from helpers.certs import Certificates
from helpers.processes import RABBITMQ_SH, rabbitmqctl, submit_ids, wait_for_results, write_file

PLAIN_PORT, TLS_PORT = (int(p) for p in os.environ.get("PFO3_TEST_AMQPS_PORTS", "5795,5796").split(","))


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    """(certs, data_dir): a node whose TLS listener requires a client certificate."""
    certs = Certificates(tmp_path_factory.mktemp("amqps-certs"))
    data_dir = tempfile.mkdtemp(prefix="pfo3-itest-amqps-")
    conf = "\n".join([
        f"listeners.ssl.default = 127.0.0.1:{TLS_PORT}",
        f"ssl_options.cacertfile = {certs.ca[0]}",
        f"ssl_options.certfile = {certs.server[0]}",
        f"ssl_options.keyfile = {certs.server[1]}",
        "ssl_options.verify = verify_peer",
        "ssl_options.fail_if_no_peer_cert = true",
        "ssl_options.versions.1 = tlsv1.3",
        "ssl_options.versions.2 = tlsv1.2",
        "auth_mechanisms.1 = EXTERNAL",
        "auth_mechanisms.2 = PLAIN",
        "auth_mechanisms.3 = AMQPLAIN",
        "ssl_cert_login_from = common_name",
    ])
    env = dict(os.environ, PFO3_RABBITMQ_EXTRA_CONF=conf, PFO3_RABBITMQ_PLUGINS="rabbitmq_auth_mechanism_ssl")
    subprocess.run([str(RABBITMQ_SH), "start", data_dir, str(PLAIN_PORT)], check=True, timeout=600, env=env)
    try:
        rabbitmqctl(data_dir, "add_user", "svc-client", "unused-password-never-sent")
        rabbitmqctl(data_dir, "set_permissions", "-p", "/", "svc-client", ".*", ".*", ".*")
        yield certs, data_dir
    finally:
        subprocess.run([str(RABBITMQ_SH), "stop", data_dir], timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)


def amqps_config(tmp_path, certs, extra=""):
    return write_file(tmp_path / "amqps.toml", f"""
[amqp]
url = "amqps://localhost:{TLS_PORT}/%2f"
[amqp.tls]
ca_file = "{certs.ca[0]}"
cert_file = "{certs.client[0]}"
key_file = "{certs.client[1]}"
sasl = "external"
{extra}
""")


def test_serve_and_work_over_amqps_log_in_with_the_certificate(pfo3, tmp_path, store, tls_broker):
    certs, data_dir = tls_broker
    cfg = amqps_config(tmp_path, certs)
    queue = "t_amqps_" + os.urandom(4).hex()
    url = f"amqps://localhost:{TLS_PORT}/%2f"
    serve = pfo3.serve(queue, config=cfg, amqp=url, env={"PFO3_STORE": f"file://{store}"},
                       extra=["--log-level", "trace"])
    work = pfo3.work(queue, store, config=cfg, amqp=url, extra=["--log-level", "trace"])
    ids = submit_ids(pfo3.send(serve.address, ["over", "tls"]), 2)
    records = wait_for_results(store, ids)
    assert [records[i]["result"] for i in ids] == ["over", "tls"]
    conns = rabbitmqctl(data_dir, "-q", "list_connections", "--no-table-headers", "user", "auth_mechanism",
                        "ssl", "peer_cert_subject")
    lines = [line.split("\t") for line in conns.strip().splitlines()]
    assert len(lines) >= 2 and all(l[:3] == ["svc-client", "EXTERNAL", "true"] for l in lines), conns
    for d in (serve, work):
        log = d.stderr()
        assert "unused-password-never-sent" not in log
        assert "PRIVATE KEY" not in log and certs.client[1].read_text()[40:80] not in log


def test_a_broker_certificate_from_another_ca_is_refused_and_never_plaintext(pfo3, tmp_path, tls_broker):
    certs, _ = tls_broker
    other = Certificates(tmp_path / "other")
    cfg = amqps_config(tmp_path, certs).read_text().replace(str(certs.ca[0]), str(other.ca[0]))
    cfg = write_file(tmp_path / "other.toml", cfg)
    work = pfo3.work("t_amqps_never", tmp_path, config=cfg, amqp=f"amqps://localhost:{TLS_PORT}/%2f", ready=False)
    from helpers.processes import wait_until
    wait_until(lambda: "verif" in work.stderr().lower(), 60, "a verification failure in the log")
    assert "READY=1" not in work.stderr()


def test_verification_off_must_be_written_and_warns_at_every_connect(pfo3, tmp_path, store, tls_broker):
    certs, _ = tls_broker
    cfg = amqps_config(tmp_path, certs, "verify_hostname = false")
    queue = "t_amqps_nv_" + os.urandom(4).hex()
    work = pfo3.work(queue, store, config=cfg, amqp=f"amqps://127.0.0.1:{TLS_PORT}/%2f")
    assert "without full verification" in work.stderr()
