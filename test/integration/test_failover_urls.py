"""amqp.urls on one broker (decision 0013): a URL that refuses connections is skipped for the
next, both roles work, the log says which node of the list is in use, and no password of any
URL is logged; /readyz and /metrics name the node in use and why the last connection ended.
The cluster stage (test/cluster) kills real nodes under load."""
import json
import re
import time
import urllib.error
import urllib.request

from helpers.processes import free_port, rabbitmqctl, wait_for_results, wait_until


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:  # /readyz answers 503 while not ready: still a body
        return e.read().decode()


def test_serve_and_work_skip_a_dead_url_and_log_the_node_without_passwords(pfo3, queue, store, raw_client,
                                                                            amqp_url):
    dead = f"amqp://guest:Dead-Node-Secret@127.0.0.1:{free_port()}/%2f"
    env = {"PFO3_AMQP_URLS": f"{dead},{amqp_url}", "PFO3_QUEUE": queue}
    serve = pfo3.serve(amqp=False, env=env)
    pfo3.work(store=store, amqp=False, env=env)
    c = raw_client(serve.port)
    ids = [f"fo-{i}" for i in range(20)]
    for i in ids:
        r = c.request({"id": i, "type": "echo", "payload": i}, timeout=30)
        assert r["ok"] is True, r
    wait_for_results(store, ids)
    assert serve.terminate() == 0
    for role in pfo3.daemons:
        log = role.stderr()
        assert "Dead-Node-Secret" not in log, f"{role.name} logged a password"
        assert "2/2" in log, f"{role.name} does not say which node it is on:\n{log[-2000:]}"


def test_readyz_and_metrics_name_the_node_in_use_and_why_the_last_connection_ended(
        pfo3, queue, amqp_url, rabbitmq_dir):
    dead = f"amqp://guest:Dead-Node-Secret@127.0.0.1:{free_port()}/%2f"
    serve = pfo3.serve(amqp=False, env={"PFO3_AMQP_URLS": f"{dead},{amqp_url}", "PFO3_QUEUE": queue})
    # serve listens before its publisher got past the dead first URL: wait for the connection.
    def connected():
        p = json.loads(http_get(serve.http_port, "/readyz"))["brokers"]["publish"]
        return p if p["connected"] else None

    publish = wait_until(connected, 60, "serve to connect to the second URL", every=0.2)
    assert publish["node"] == "2/2", publish
    assert "***" in publish["url"] and "guest:guest" not in publish["url"] and "last_loss" not in publish, publish
    metrics = http_get(serve.http_port, "/metrics")
    assert re.search(r'^pfo3_broker_node_info\{connection="publish",node="2/2",url="amqp://guest:\*\*\*@[^"]+"\} 1$',
                     metrics, re.M), metrics
    assert "pfo3_broker_last_loss_timestamp_seconds{" not in metrics

    closed_at = time.time()
    rabbitmqctl(rabbitmq_dir, "close_all_connections", "closed by the failover test")

    def lost_and_back():
        p = json.loads(http_get(serve.http_port, "/readyz"))["brokers"]["publish"]
        return p if p["connected"] and "last_loss" in p else None

    publish = wait_until(lost_and_back, 60, "serve to note the loss and connect again", every=0.2)
    loss = publish["last_loss"]
    assert loss["kind"] == "closed_by_broker" and "closed by the failover test" in loss["error"], loss
    assert abs(loss["at"] - closed_at) < 30 and publish["node"] == "2/2", publish
    metrics = http_get(serve.http_port, "/metrics")
    m = re.search(r'^pfo3_broker_last_loss_timestamp_seconds\{connection="publish",kind="closed_by_broker"\} (\S+)$',
                  metrics, re.M)
    assert m and abs(float(m.group(1)) - closed_at) < 30, metrics
    assert "Dead-Node-Secret" not in metrics + json.dumps(publish)
