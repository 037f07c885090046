#!/usr/bin/env bash
# The four result stores measured in one run (docs/benchmarks.md, "Result stores"):
#   test/bench/stores.sh [TASKS]        default 20000 echo tasks per store
# For each store (SQLite, file, PostgreSQL, S3): a fresh queue, `pfo3 serve`, 2 workers
# (--prefetch 256 --concurrency 2), then `pfo3 bench` with 4 connections x window 256.
# end to end: the SQLite store is polled by the bench every 2 ms (a read-only connection), the
# file store is watched with inotify, PostgreSQL is counted in its table every
# 50 ms, S3 is polled through serve's `status` (every 20 ms, window 256; an upper bound).
# It starts a private RabbitMQ, PostgreSQL and S3 server (test/services/*.sh) on ports it picks
# from the environment (defaults below), and stops them at the end.
#   PFO3_BENCH_BIN   a pfo3 binary (default: build it in build-bench-release)
#   PFO3_BENCH_RABBITMQ_PORT / PFO3_BENCH_POSTGRES_PORT / PFO3_BENCH_S3_PORT (5797 / 5437 / 9107)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tasks=${1:-20000}
state=$(mktemp -d /tmp/pfo3-stores.XXXXXX)
chmod 755 "$state"  # postgres (not root) must reach its directory below
pids=()
stop_everything() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$root/test/services/rabbitmq.sh" stop "$state/rabbitmq" > /dev/null 2>&1 || true
    "$root/test/services/postgres.sh" stop "$state/pg" > /dev/null 2>&1 || true
    "$root/test/services/s3.sh" stop "$state/s3" > /dev/null 2>&1 || true
    rm -rf "$state"
}
trap stop_everything EXIT
log() { echo "== $*" >&2; }

if [ -n "${PFO3_BENCH_BIN:-}" ]; then
    bin=$PFO3_BENCH_BIN
else
    build=$root/build-bench-release
    log "build (Release) in $build"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPFO3_TESTS=OFF > /dev/null
    cmake --build "$build" --target pfo3 > /dev/null
    bin=$build/app/pfo3
fi

rabbit_port=${PFO3_BENCH_RABBITMQ_PORT:-5797}
pg_port=${PFO3_BENCH_POSTGRES_PORT:-5437}
s3_port=${PFO3_BENCH_S3_PORT:-9107}
log "start RabbitMQ :$rabbit_port, PostgreSQL :$pg_port, S3 :$s3_port"
# The broker as Debian runs it (one Erlang scheduler per core), as test/bench/run.sh does.
PFO3_RABBITMQ_SCHEDULERS=default "$root/test/services/rabbitmq.sh" start "$state/rabbitmq" "$rabbit_port" >&2
mkdir -p "$state/pg" && chmod 777 "$state/pg"
# Durable like a production server (postgres.sh defaults to fsync=off for tests): the
# comparison with the file store, which fsyncs every group, is only fair this way.
pg_url=$(PFO3_PG_DURABLE=1 "$root/test/services/postgres.sh" start "$state/pg" "$pg_port")
pg_durability=$("$root/test/services/postgres.sh" psql "$state/pg" -d pfo3 -Atc \
    "SELECT 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')")
"$root/test/services/s3.sh" start "$state/s3" "$s3_port" pfo3-bench >&2
pg_pid=$(head -n 1 "$state/pg/data/postmaster.pid")
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
amqp="amqp://guest:guest@127.0.0.1:$rabbit_port/%2f"
unset PFO3_CONFIG PFO3_AMQP_URL PFO3_STORE PFO3_SERVER
cd "$state"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The broker alone on the same broker first: each store's end to end is also a ratio of it.
log "broker alone: $tasks messages, window 1024, prefetch 256"
"$bin" --log-level warn bench --broker-only --amqp "$amqp" --broker-messages "$tasks" --broker-window 1024 \
    --broker-prefetch 256 --label broker-ceiling --json "$state/ceiling.json" >&2
ceiling=$(python3 -c "import json; print(json.load(open('$state/ceiling.json'))['broker_ceiling']['publish_consume_per_s'])")

rows=()
cpu_rows=()
measure() {  # measure NAME STORE_URI [bench args...]
    local name=$1 uri=$2; shift 2
    local queue="pfo3_stores_${name}_$$" port; port=$(free_port)
    PFO3_STORE="$uri" "$bin" serve --listen "127.0.0.1:$port" --amqp "$amqp" --queue "$queue" \
        --http-listen 127.0.0.1:0 > "$state/serve-$name.log" 2>&1 &
    local serve_pid=$!; pids+=("$serve_pid")
    local workers=()
    for i in 1 2; do
        "$bin" work --amqp "$amqp" --queue "$queue" --store "$uri" --prefetch 256 --concurrency 2 \
            > "$state/work-$name-$i.log" 2>&1 &
        workers+=("$!"); pids+=("$!")
    done
    local deadline=$((SECONDS + 60))
    until echo '{"op":"ping"}' | timeout 2 nc -q 1 127.0.0.1 "$port" 2>/dev/null | grep -q pong; do
        [ $SECONDS -lt $deadline ] || { log "serve did not start"; cat "$state/serve-$name.log" >&2; exit 1; }
        sleep 0.2
    done
    for i in 1 2; do
        until grep -q "connected to the broker" "$state/work-$name-$i.log"; do
            [ $SECONDS -lt $deadline ] || { log "worker did not start"; cat "$state/work-$name-$i.log" >&2; exit 1; }
            sleep 0.2
        done
    done
    log "store $name: $tasks tasks (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    local t0; t0=$(date +%s.%N)
    "$bin" --log-level warn bench --server "127.0.0.1:$port" --tasks "$tasks" --connections 4 --window 256 \
        --serve-pid "$serve_pid" --worker-pids "${workers[0]},${workers[1]}" --results-timeout 300 \
        --cpu-pids "rabbitmq=$(cat "$state/rabbitmq/pid"),postgres=$pg_pid,s3rver=$(cat "$state/s3/pid")" \
        --label "store-$name" --json "$state/$name.json" "$@" >&2
    # PostgreSQL: counted in the table itself (every 50 ms), from just before the bench started.
    local counted=""
    if [ "$name" = postgresql ]; then
        local n=0
        until [ "$n" -ge "$tasks" ]; do
            n=$("$root/test/services/postgres.sh" psql "$state/pg" -d pfo3 -Atc "SELECT count(*) FROM pfo3_tasks")
            [ "$n" -ge "$tasks" ] || sleep 0.05
        done
        counted=$(python3 -c "import sys; print(f'{$n} {$n / ($(date +%s.%N) - $t0):.0f}')")
    fi
    rows+=("$(python3 - "$state/$name.json" "$name" "$counted" "$ceiling" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ceiling = float(sys.argv[4])
e = r.get("end_to_end") or {}
stored, per_s, seen = e.get("stored", 0), e.get("tasks_per_s", 0), r["config"]["results_source"]
if sys.argv[3]:
    stored, per_s = (int(x) if i == 0 else float(x) for i, x in enumerate(sys.argv[3].split()))
    seen = "SELECT count(*) every 50 ms"
print(f"| {sys.argv[2]} | {r['accepted']:,} | {r['accepted_per_s']:,.0f} | {stored:,} | {per_s:,.0f} "
      f"| {per_s / ceiling:.2f} | {seen} |")
PY
)")
    cpu_rows+=("$(python3 - "$state/$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cpu = r["cpu"]
def us(role):
    v = [p["us_per_task"] for p in cpu["processes"] if p["role"] == role]
    return "–" if not v or None in v else f"{sum(v):.1f}"
print(f"| {sys.argv[2]} | {cpu['wall_seconds']:.2f} | {us('serve')} | {us('work')} | {us('rabbitmq')} "
      f"| {us('postgres')} | {us('s3rver')} | {us('bench')} | {cpu['total_us_per_task']:.1f} | {cpu['cores_busy']:.2f} |")
PY
)")
    kill -TERM "$serve_pid" "${workers[@]}"; wait "$serve_pid" "${workers[@]}" 2>/dev/null || true
}

measure sqlite "sqlite://$state/results.db" --store "sqlite://$state/results.db"
mkdir -p "$state/files"
measure file "file://$state/files" --store "file://$state/files"
measure postgresql "$pg_url" --no-results
measure s3 "s3://pfo3-bench/run?endpoint=http://127.0.0.1:$s3_port&region=us-east-1"

echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on \`$(hostname)\`, $tasks echo tasks per store, 2 workers (prefetch 256, 2 handler threads), 4 connections x window 256; SQLite WAL, synchronous=FULL; PostgreSQL $pg_durability."
echo
echo "The broker alone (publish + consume at once, window 1024, prefetch 256; RabbitMQ with one scheduler per core): $(printf '%.0f' "$ceiling") msgs/s."
echo
echo "| store | accepted | accepted/s | stored | end to end tasks/s | × publish+consume ceiling | results seen by |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "CPU per task (µs, user + system, each server with the processes it forked; from the first submit to the last result seen — for PostgreSQL to the last answer):"
echo
echo "| store | seconds | serve | 2 workers | RabbitMQ | PostgreSQL | s3rver | bench client | total | cores busy |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${cpu_rows[@]}"
