"""amqp.urls on one broker (decision 0013): a URL that refuses connections is skipped for the
next, both roles work, the log says which node of the list is in use, and no password of any
URL is logged. The cluster stage (test/cluster) kills real nodes under load."""
from helpers.processes import free_port, wait_for_results


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
