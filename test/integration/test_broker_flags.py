"""`--amqp` on serve and work names the broker instead of the configured list (amqp.urls and
PFO3_AMQP_URLS), not in front of it: app/common.cpp apply_broker_flags."""
from helpers.processes import free_port, wait_for_results


def test_the_amqp_flag_replaces_the_configured_broker_list(pfo3, queue, store, raw_client, amqp_url):
    # A list of dead nodes only: a role that kept it would never connect.
    dead = [f"amqp://guest:guest@127.0.0.1:{free_port()}/%2f" for _ in range(2)]
    env = {"PFO3_AMQP_URLS": ",".join(dead)}
    serve = pfo3.serve(queue, env=env)  # --amqp amqp_url
    pfo3.work(queue, store, env=env)
    c = raw_client(serve.port)
    ids = [f"flag-{i}" for i in range(5)]
    for i in ids:
        r = c.request({"id": i, "type": "echo", "payload": i}, timeout=30)
        assert r["ok"] is True, r
    wait_for_results(store, ids)
