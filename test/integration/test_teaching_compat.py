"""The teaching system's programs (reproduced in teaching/) work with pfo3 unchanged (SPEC 4.4)."""
import json
import subprocess
import sys
from pathlib import Path

from helpers.processes import submit_ids, wait_for_results

TEACHING = Path(__file__).resolve().parent / "teaching"
# Debian's interpreter: it has pika (the pyenv python3 on PATH does not).
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def run_teaching(program, *args, timeout=60):
    r = subprocess.run([PYTHON, str(TEACHING / program), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{program} failed rc={r.returncode}: {r.stderr[-3000:]}"
    return r.stdout.splitlines()


def test_teaching_client_sends_several_tasks_on_one_connection(pfo3, queue, store):
    serve = pfo3.serve(queue)
    pfo3.work(queue, store)

    lines = run_teaching("cliente_tareas.py", "127.0.0.1", serve.port,
                         "c-1:sumar:[1,2,3]", "c-2:multiplicar:[2,5]", 'c-3:echo:"hola"')

    replies = [json.loads(line) for line in lines]
    assert replies == [{"ok": True, "id": f"c-{n}", "status": "queued"} for n in (1, 2, 3)]
    records = wait_for_results(store, ["c-1", "c-2", "c-3"])
    assert [records[f"c-{n}"]["result"] for n in (1, 2, 3)] == [6, 10, "hola"]


def test_pfo3_work_runs_what_the_teaching_distributor_publishes(pfo3, queue, store, amqp_url):
    # The distributor declares the queue first; pfo3's own declaration must then match it.
    run_teaching("servidor_distribuidor.py", amqp_url, queue,
                 "d-1:sumar:[4,5]", 'd-2:echo:{"k":"v"}', "d-3:multiplicar:[3,3]")
    pfo3.work(queue, store)

    records = wait_for_results(store, ["d-1", "d-2", "d-3"])

    assert records["d-1"]["type"] == "sumar" and records["d-1"]["result"] == 9
    assert records["d-2"]["result"] == {"k": "v"}
    assert records["d-3"]["result"] == 9
    assert all(r["status"] == "done" for r in records.values())


def test_teaching_worker_consumes_what_pfo3_serve_publishes(pfo3, queue, broker):
    # serve declares the queue; the teaching worker's queue_declare(durable=True) with no
    # arguments succeeds only if pfo3 declared it with none either.
    serve = pfo3.serve(queue)
    ids = submit_ids(pfo3.send(serve.address, ["uno", "dos", "tres"], type_="sumar"), 3)

    lines = run_teaching("servidor_worker.py", pfo3.amqp_url, queue, 3)

    assert [line.split() for line in lines] == [[i, "sumar"] for i in ids]
    assert broker.message_count(queue) == 0
