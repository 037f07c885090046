#!/usr/bin/env python3
"""Turns the JSON reports of test/bench/run.sh into markdown tables (stdout) and the data
files the gnuplot scripts read (in the same directory).

    summarize.py RESULTS_DIR > RESULTS_DIR/tables.md
"""
import json
import sys
from pathlib import Path


def load(results):
    reports = {}
    for path in sorted(results.glob("*.json")):
        try:
            reports[path.stem] = json.loads(path.read_text())
        except ValueError as e:
            print(f"summarize: skipping {path}: {e}", file=sys.stderr)
    return reports


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or not b:
        return None
    return a / b


def mib(report, role):
    peaks = [m["peak_rss_kib"] for m in report.get("memory", []) if m["role"] == role and m["peak_rss_kib"]]
    return max(peaks) / 1024 if peaks else None


def errors_text(report):
    errors = report.get("errors") or {}
    return ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "0"


def store_label(report):
    """The workers' store as the tables name it (reports before the SQLite store have none)."""
    uri = ((report or {}).get("config") or {}).get("store") or ""
    return "SQLite store" if uri.startswith("sqlite://") else "file store"


def main():
    results = Path(sys.argv[1])
    reports = load(results)
    ceiling = (reports.get("broker-ceiling") or {}).get("broker_ceiling")
    pub = ceiling["publish_confirm_per_s"] if ceiling else None
    pipe = ceiling["publish_consume_per_s"] if ceiling else None
    any_report = next(iter(reports.values()), {})
    print(f"Measured {any_report.get('started_at', '?')[:16].replace('T', ' ')} UTC on `{any_report.get('host', '?')}`.\n")
    setup = results / "setup.txt"  # written by test/bench/run.sh: which broker, which store
    if setup.exists():
        print(" ".join(setup.read_text().split("\n")).strip() + "\n")

    if ceiling:
        print("### The broker alone (RabbitMQ, rabbitmq-c, same messages)\n")
        per_message = {p["role"]: p["us_per_message"] for p in ((ceiling.get("cpu") or {}).get("processes") or [])}
        print("| messages | body bytes | window | prefetch | publish with confirms | consume + ack | publish + consume "
              "| RabbitMQ CPU per message |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        print(f"| {ceiling['messages']:,} | {ceiling['body_bytes']} | {ceiling['window']} | {ceiling['prefetch']} "
              f"| {fmt(pub)} msgs/s | {fmt(ceiling['consume_per_s'])} msgs/s | {fmt(pipe)} msgs/s "
              f"| {fmt(per_message.get('rabbitmq'), 1)} µs |\n")
    else:
        print("(no broker ceiling measured: ratios are missing)\n")

    rows = []
    for name, r in reports.items():
        if not name.startswith("throughput-"):
            continue
        c = r["config"]
        rows.append((c["connections"], c["window"], name, r))
    rows.sort()
    if rows:
        print(f"### Throughput (closed loop, 2 workers, {store_label(rows[0][3])})\n")
        print("| connections | window | tasks | accepted/s | × publish ceiling | end to end/s | × publish+consume "
              "ceiling | submit→ok p50 / p99 ms | submit→stored p50 / p99 ms | errors | peak RSS serve / worker MiB |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
        for c, w, name, r in rows:
            e2e = (r.get("end_to_end") or {}).get("tasks_per_s")
            ok = r["latency_ms"]["submit_to_ok"]
            st = r["latency_ms"]["submit_to_stored"] or {}
            print(f"| {c} | {w} | {r['config']['tasks']:,} | {fmt(r['accepted_per_s'])} "
                  f"| {fmt(ratio(r['accepted_per_s'], pub), 2)} | {fmt(e2e)} | {fmt(ratio(e2e, pipe), 2)} "
                  f"| {fmt(ok.get('p50'), 2)} / {fmt(ok.get('p99'), 2)} "
                  f"| {fmt(st.get('p50'), 2)} / {fmt(st.get('p99'), 2)} | {errors_text(r)} "
                  f"| {fmt(mib(r, 'serve'), 1)} / {fmt(mib(r, 'work'), 1)} |")
        print()
        cpu_table(rows)
        # One data file per connection count: window, accepted/s, end-to-end/s.
        for conns in sorted({c for c, _, _, _ in rows}):
            with open(results / f"throughput-c{conns}.dat", "w") as f:
                f.write("# window accepted_per_s end_to_end_per_s\n")
                for c, w, _, r in rows:
                    if c == conns:
                        e2e = (r.get("end_to_end") or {}).get("tasks_per_s") or 0
                        f.write(f"{w} {r['accepted_per_s'] or 0} {e2e}\n")
        with open(results / "ceiling.gp", "w") as f:
            f.write(f"pub = {pub or 0}\npipe = {pipe or 0}\n")

    lat = reports.get("latency-2000")
    if lat:
        print(f"### Latency at a fixed {fmt(lat['config']['rate'])} tasks/s (open loop, "
              f"{lat['config']['tasks']:,} tasks, {lat['config']['connections']} connections)\n")
        print("| figure | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | samples |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        base = ((lat.get("broker_ceiling") or {}).get("latency_ms")) or {}
        for label, key, s in (("pfo3: submit → ok", "submit_to_ok", lat["latency_ms"]["submit_to_ok"]),
                              ("pfo3: submit → stored", "submit_to_stored", lat["latency_ms"]["submit_to_stored"]),
                              ("broker alone: publish → confirm", "publish_to_confirm", base.get("publish_to_confirm")),
                              ("broker alone: publish → delivered", "publish_to_delivered",
                               base.get("publish_to_delivered"))):
            if s:
                print(f"| {label} | {fmt(s['p50'], 2)} | {fmt(s['p90'], 2)} | {fmt(s['p99'], 2)} "
                      f"| {fmt(s['p99_9'], 2)} | {fmt(s['max'], 2)} | {s['count']:,} |")
                with open(results / f"cdf-{key}.dat", "w") as f:
                    f.write("# ms fraction\n")
                    for ms, q in s["cdf"]:
                        f.write(f"{max(ms, 0.001)} {q}\n")
        ratios = lat.get("ratios") or {}
        if ratios.get("p99_submit_to_ok_vs_publish_to_confirm") is not None:
            print(f"\np99 as a multiple of the broker's own at the same rate: submit → ok "
                  f"{fmt(ratios['p99_submit_to_ok_vs_publish_to_confirm'], 2)} × publish → confirm; submit → stored "
                  f"{fmt(ratios.get('p99_submit_to_stored_vs_publish_to_delivered'), 2)} × publish → delivered.")
        floor = results / "fsync-floor.json"  # test/bench/fsync_floor.py: the disk under the store
        if floor.exists():
            d = json.loads(floor.read_text())
            print(f"\nThe disk's floor under submit → stored (a 4 KiB append + fdatasync in the store's directory, "
                  f"{d['samples']:,} samples): p50 {fmt(d['p50'], 2)} ms, p99 {fmt(d['p99'], 2)} ms, "
                  f"max {fmt(d['max'], 2)} ms. A result is stored when its group's WAL append is synced; "
                  f"publish → delivered syncs nothing.")
        print(f"\nAccepted {lat['accepted']:,} at {fmt(lat['accepted_per_s'])} tasks/s; errors: {errors_text(lat)}; "
              f"peak RSS serve {fmt(mib(lat, 'serve'), 1)} MiB, worker {fmt(mib(lat, 'work'), 1)} MiB.\n")

    celery_table(reports, pub, pipe)
    tls_table(reports)
    sight_table(reports)


def cpu_us(report, role):
    """CPU µs per accepted task of every process with this role (summed), or None."""
    procs = [p for p in ((report.get("cpu") or {}).get("processes") or []) if p["role"] == role]
    if not procs or any(p["us_per_task"] is None for p in procs):
        return None
    return sum(p["us_per_task"] for p in procs)


def cpu_table(rows):
    """Where each task's CPU went (bench --serve-pid/--worker-pids/--cpu-pids), per scenario."""
    rows = [row for row in rows if (row[3].get("cpu") or {}).get("processes")]
    if not rows:
        return
    print("#### CPU per task (µs, user + system, from first submit to last result stored)\n")
    print("| connections | window | serve | 2 workers | RabbitMQ | bench client | total | cores busy |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c, w, _, r in rows:
        cpu = r["cpu"]
        print(f"| {c} | {w} | {fmt(cpu_us(r, 'serve'), 1)} | {fmt(cpu_us(r, 'work'), 1)} "
              f"| {fmt(cpu_us(r, 'rabbitmq'), 1)} | {fmt(cpu_us(r, 'bench'), 1)} "
              f"| {fmt(cpu['total_us_per_task'], 1)} | {fmt(cpu['cores_busy'], 2)} |")
    print()


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def alternating_rounds(reports, a, b):
    """The round numbers N of the reports named A-rN and B-rN, and the config of the first."""
    rounds = sorted({int(name.rsplit("-r", 1)[1]) for name in reports
                     if name.startswith((f"{a}-r", f"{b}-r")) and name.rsplit("-r", 1)[1].isdigit()})
    if not rounds:
        return [], None
    return rounds, (reports.get(f"{a}-r{rounds[0]}") or reports.get(f"{b}-r{rounds[0]}"))["config"]


def tls_table(reports):
    """Plaintext and TLS clients of one serve ([serve.tls] mode = "optional"), rounds alternating
    (test/bench/run.sh --tls): accepted/s and serve CPU per task, each round and the medians."""
    rounds, c = alternating_rounds(reports, "tls-plain", "tls-on")
    if not rounds:
        return
    print(f"### TLS beside plaintext (one serve, mode \"optional\"; {c['connections']} connections, window "
          f"{c['window']}, {c['tasks']:,} tasks per round, rounds alternating)\n")
    print("| round | client | accepted/s | serve CPU per task µs | submit→ok p50 / p99 ms | errors |")
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    figures = {"plaintext": ([], []), "TLS": ([], [])}
    for n in rounds:
        for label, name in (("plaintext", f"tls-plain-r{n}"), ("TLS", f"tls-on-r{n}")):
            r = reports.get(name)
            if not r:
                continue
            ok = r["latency_ms"]["submit_to_ok"]
            serve = cpu_us(r, "serve")
            figures[label][0].append(r["accepted_per_s"])
            figures[label][1].append(serve)
            print(f"| {n} | {label} | {fmt(r['accepted_per_s'])} | {fmt(serve, 1)} "
                  f"| {fmt(ok.get('p50'), 2)} / {fmt(ok.get('p99'), 2)} | {errors_text(r)} |")
    print()
    plain, tls = figures["plaintext"], figures["TLS"]
    print(f"Medians: plaintext {fmt(median(plain[0]))} tasks/s at {fmt(median(plain[1]), 1)} µs serve CPU per task; "
          f"TLS {fmt(median(tls[0]))} tasks/s at {fmt(median(tls[1]), 1)} µs "
          f"(× {fmt(ratio(median(tls[1]), median(plain[1])), 2)} the CPU).\n")


def spread_text(values, digits=0):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return f"{fmt(min(values), digits)}..{fmt(max(values), digits)}"


def relative_spread(values):
    """(max - min) / median of the values, or None."""
    values = [v for v in values if v is not None]
    mid = median(values)
    return (max(values) - min(values)) / mid if values and mid else None


def sight_table(reports):
    """The standard set (metrics and heartbeats on) beside a set with [http] metrics = false and
    heartbeat_s = 0, rounds alternating (test/bench/run.sh --sight): end to end and accepted tasks/s
    and serve / worker CPU per task of each round, then the medians, on/off and the spreads."""
    rounds, c = alternating_rounds(reports, "sight-on", "sight-off")
    if not rounds:
        return
    print(f"### Cost of metrics and heartbeats (two sets side by side; {c['connections']} connections, window "
          f"{c['window']}, {c['tasks']:,} tasks per round end to end, rounds alternating)\n")
    print("| round | sight | end to end/s | accepted/s | serve CPU per task µs | 2 workers CPU per task µs "
          "| errors / missing |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | --- |")
    keys = ("e2e", "accepted", "serve", "work")
    figures = {side: {k: [] for k in keys} for side in ("on", "off")}
    for n in rounds:
        for side in ("on", "off"):
            r = reports.get(f"sight-{side}-r{n}")
            if not r:
                continue
            row = {"e2e": (r.get("end_to_end") or {}).get("tasks_per_s"), "accepted": r["accepted_per_s"],
                   "serve": cpu_us(r, "serve"), "work": cpu_us(r, "work")}
            for k in keys:
                figures[side][k].append(row[k])
            print(f"| {n} | {side} | {fmt(row['e2e'])} | {fmt(row['accepted'])} | {fmt(row['serve'], 1)} "
                  f"| {fmt(row['work'], 1)} | {errors_text(r)} / {(r.get('end_to_end') or {}).get('missing', '–')} |")
    print()
    print("| figure | median on | median off | on / off | spread on (min..max) | spread off (min..max) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    labels = {"e2e": ("end to end tasks/s", 0), "accepted": ("accepted tasks/s", 0),
              "serve": ("serve CPU per task µs", 1), "work": ("2 workers CPU per task µs", 1)}
    verdicts = []
    for k in keys:
        label, digits = labels[k]
        on, off = figures["on"][k], figures["off"][k]
        m_on, m_off = median(on), median(off)
        r = ratio(m_on, m_off)
        spreads = [x for x in (relative_spread(on), relative_spread(off)) if x is not None]

        def spread(values):
            rel = relative_spread(values)
            return f"{spread_text(values, digits)} ({fmt(None if rel is None else 100 * rel, 1)} %)"
        print(f"| {label} | {fmt(m_on, digits)} | {fmt(m_off, digits)} | {fmt(r, 3)} | {spread(on)} | {spread(off)} |")
        if r is not None and spreads:
            # The cost: less throughput, or more CPU per task, with sight on (issue 14: within
            # the run's spread, and at most 2 %).
            cost = (1 - r) if k in ("e2e", "accepted") else (r - 1)
            verdicts.append(f"{label} {100 * cost:+.1f} % "
                            f"({'within' if abs(cost) <= max(spreads) else 'beyond'} the larger spread "
                            f"{100 * max(spreads):.1f} %, {'at most' if cost <= 0.02 else 'over'} 2 %)")
    print()
    if verdicts:
        print("Cost of sight on (positive: on is slower or spends more CPU): " + "; ".join(verdicts) + ".\n")


#: The pfo3 rows set beside Celery's: as many connections as Celery has producer processes.
PFO3_COMPARED = ("throughput-c4-w1", "throughput-c4-w64", "throughput-c4-w1024")
CELERY_SCENARIOS = (("celery-no-confirms", "no publisher confirms"), ("celery-confirms", "publisher confirms"))


def celery_table(reports, pub, pipe):
    """pfo3 against Celery (test/bench/celery/bench.py) on the same broker, in the same run."""
    celery = [(name, what, reports[name]) for name, what in CELERY_SCENARIOS if name in reports]
    if not celery:
        return
    print("### Compared with Celery (same broker, same machine, same run)\n")
    print("| system | clients | in flight per client | tasks | accepted/s | × publish ceiling | end to end/s "
          "| × publish+consume ceiling | not accepted / not stored |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def row(system, clients, inflight, tasks, accepted_per_s, e2e, lost):
        print(f"| {system} | {clients} | {inflight} | {tasks:,} | {fmt(accepted_per_s)} "
              f"| {fmt(ratio(accepted_per_s, pub), 2)} | {fmt(e2e)} | {fmt(ratio(e2e, pipe), 2)} | {lost} |")

    for name in PFO3_COMPARED:
        r = reports.get(name)
        if r:
            e2e = r.get("end_to_end") or {}
            row(f"pfo3 (confirms, {store_label(r)})", f"{r['config']['connections']} connections", r["config"]["window"],
                r["config"]["tasks"], r["accepted_per_s"], e2e.get("tasks_per_s"),
                f"{r['rejected'] + sum((r.get('errors') or {}).values())} / {e2e.get('missing', '–')}")
    for name, what, r in celery:
        c = r["config"]
        e2e = r["end_to_end"]
        row(f"Celery, {what}", f"{c['producers']} processes", 1 if c["confirm_publish"] else "unbounded",
            c["tasks"], r["accepted_per_s"], e2e["tasks_per_s"],
            f"{c['tasks'] - r['accepted']} / {e2e['missing']}")
    print()
    r = celery[0][2]
    c, v = r["config"], r["versions"]
    main_kib = [m["peak_rss_kib"] for m in r["memory"] if m["role"] == "celery-main" and m["peak_rss_kib"]]
    child_kib = [m["peak_rss_kib"] for m in r["memory"] if m["role"] == "celery-child" and m["peak_rss_kib"]]
    print(f"Celery {v['celery']}, kombu {v['kombu']}, py-amqp {v['py-amqp']}, billiard {v['billiard']}, "
          f"Python {v['python']}; RabbitMQ {v['rabbitmq']} on {v['erlang']}. "
          f"{c['workers']} workers × {c['pool']} pool of {c['concurrency']}, "
          f"prefetch {c['prefetch_per_worker']} per worker (multiplier {c['prefetch_multiplier']}), "
          f"acks_late {str(c['acks_late']).lower()}, durable queue, delivery_mode {c['delivery_mode']}, "
          f"result backend {c['result_backend']}, {c['serializer']} body of {c['body_bytes']} bytes.")
    loads = [f"{x['label']} {x['loadavg']['start'][0]:.2f} → {x['loadavg']['end'][0]:.2f}" for _, _, x in celery]
    print(f"Load average (1 min) at start → end: {'; '.join(loads)}.")
    if main_kib or child_kib:
        print(f"Peak RSS per Celery worker: main process {fmt(max(main_kib, default=0) / 1024, 1)} MiB "
              f"+ {len(child_kib) // max(len(main_kib), 1)} children of up to {fmt(max(child_kib, default=0) / 1024, 1)} MiB.")


if __name__ == "__main__":
    main()
