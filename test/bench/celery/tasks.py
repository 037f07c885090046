"""The Celery side of the comparison in docs/benchmarks.md: an app with one trivial task, set up
the way a careful Celery user would run it against RabbitMQ (durable queue, persistent
messages, acks_late, prefork pool), configured from the environment so that the workers
(`celery -A tasks worker`) and the producers of bench.py build the same app.

    CELERY_BENCH_AMQP_URL             the broker (amqp://...; py-amqp transport)
    CELERY_BENCH_QUEUE                the task queue (durable, classic)
    CELERY_BENCH_RESULTS              directory of the file-system result backend
    CELERY_BENCH_PREFETCH_MULTIPLIER  worker_prefetch_multiplier (default 500: see bench.py)
    CELERY_BENCH_CONFIRM              "1": publisher confirms on the producer
"""
import os

from celery import Celery
from kombu import Exchange, Queue


def _env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"{name} is not set (bench.py sets it)")
    return value


queue_name = _env("CELERY_BENCH_QUEUE")
app = Celery("tasks")
app.conf.update(
    broker_url=_env("CELERY_BENCH_AMQP_URL"),
    # py-amqp waits for the broker's basic.ack after every publish when this is set: the
    # only way Celery 5 / kombu offers publisher confirms (one message in flight).
    broker_transport_options={"confirm_publish": _env("CELERY_BENCH_CONFIRM", "0") == "1"},
    # The file-system backend writes celery-task-meta-<id> with open()+write(), no fsync:
    # the result is stored before the ack (acks_late) but not durably (see docs/benchmarks.md).
    result_backend="file://" + _env("CELERY_BENCH_RESULTS"),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_queues=[Queue(queue_name, Exchange(queue_name, type="direct", durable=True),
                       routing_key=queue_name, durable=True)],
    task_default_queue=queue_name,
    task_default_exchange=queue_name,
    task_default_routing_key=queue_name,
    task_default_delivery_mode="persistent",
    task_acks_late=True,
    # A task whose worker dies is redelivered, like pfo3's unacked message.
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=int(_env("CELERY_BENCH_PREFETCH_MULTIPLIER", "500")),
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    task_send_sent_event=False,
)


@app.task(name="tasks.echo")
def echo(payload):
    return payload
