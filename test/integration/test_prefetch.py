"""The worker holds at most `prefetch` unacked deliveries and runs `concurrency` handlers at once.

Unacked deliveries are measured from outside, without rabbitmqctl: a result is stored before its
ack, so at any moment  unacked >= total - ready - stored  (ready from a passive declare, stored
counted after it). A worker that ignored its prefetch would take every task at once and push
that lower bound up to the whole backlog.
"""
from datetime import datetime
import time

import pytest

from helpers.processes import read_records, submit_ids, wait_for_results

TASKS = 8
SLEEP_MS = 250


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def overlapping_pairs(records):
    spans = sorted((parse_time(r["started_at"]), parse_time(r["finished_at"]))
                   for r in records.values())
    return sum(1 for (s1, f1), (s2, _) in zip(spans, spans[1:]) if s2 < f1 - 0.01)


def run_backlog(pfo3, queue, store, broker, prefetch, concurrency):
    """Queues the sleep tasks first, then starts one worker and samples the unacked lower bound
    until every result is stored. Returns (records, max lower bound seen, samples)."""
    serve = pfo3.serve(queue)
    ids = submit_ids(pfo3.send(serve.address, [{"type": "sleep", "payload": SLEEP_MS}] * TASKS,
                               json_mode=True), TASKS)
    assert broker.message_count(queue) == TASKS
    pfo3.work(queue, store, prefetch=prefetch, concurrency=concurrency)

    highest, samples = 0, 0
    deadline = time.monotonic() + 60
    while True:
        ready = broker.message_count(queue)
        stored = len(read_records(store))
        if stored == TASKS:
            break
        highest = max(highest, TASKS - ready - stored)
        samples += 1
        assert time.monotonic() < deadline, f"only {stored} of {TASKS} results after 60 s"
    return wait_for_results(store, ids), highest, samples


@pytest.mark.parametrize("prefetch", [1, 3])
def test_worker_never_holds_more_than_prefetch(pfo3, queue, store, broker, prefetch):
    records, highest, samples = run_backlog(pfo3, queue, store, broker, prefetch, 1)

    assert samples >= 3, "the backlog was sampled while being worked"
    assert highest <= prefetch, f"at least {highest} unacked with prefetch {prefetch}"
    if prefetch > 1:
        # The prefetch is really used: the worker held more than one task at some point.
        assert highest >= 2, f"never more than {highest} unacked with prefetch {prefetch}"
    assert all(r["status"] == "done" for r in records.values()), list(records.values())[0]
    assert overlapping_pairs(records) == 0, "concurrency 1 runs one handler at a time"


def test_concurrency_runs_handlers_in_parallel(pfo3, queue, store, broker):
    records, highest, _ = run_backlog(pfo3, queue, store, broker, prefetch=2, concurrency=2)

    assert highest <= 2
    assert overlapping_pairs(records) >= TASKS // 2 - 1, "two sleeps run side by side"
