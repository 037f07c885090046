#!/usr/bin/env bash
# The standard benchmark of pfo3 on this machine, in one command (docs/benchmarks.md):
#   test/bench/run.sh            ~5 minutes of measuring (plus the build)
#   test/bench/run.sh --quick    about a minute, smaller loads (for trying the script)
#   test/bench/run.sh --celery   also Celery 5 on the same broker, after pfo3 (about 1-2 minutes
#                                more; test/bench/celery/bench.py, needs python3-celery)
#   test/bench/run.sh --pinned-broker   the private RabbitMQ on one Erlang scheduler (+S 1:1), as
#                                the reports before issue 17 measured; by default it runs as
#                                Debian starts it, one scheduler per core. The report says which.
#   test/bench/run.sh --store file      the workers store into a file store instead of SQLite
#   test/bench/run.sh --tls     also TLS beside plaintext (issue 13): serve with [serve.tls] mode =
#                                "optional" (a certificate made here with openssl), then rounds of
#                                plaintext and TLS 1.3 clients alternating, same load: accepted
#                                tasks/s and serve CPU per task of each (docs/security.md)
#   test/bench/run.sh --tls-only        only those rounds (after the broker ceiling and warm-up)
#   test/bench/run.sh --profile also `perf record` of serve, a worker and the broker through a
#                                steady load (c1 w1024, 100 000 tasks); top symbols in
#                                test/bench/results/profile-*.txt (needs perf: linux-perf)
#   test/bench/run.sh --sight   also the cost of metrics and heartbeats (issue 14): a second serve
#                                and 2 workers with [http] metrics = false and heartbeat_s = 0, on a
#                                queue and store of their own, beside the standard set (sight on);
#                                then 4 rounds against each set, alternating (on, off, off, on, ...),
#                                same load (20 000 tasks, 4 connections x window 64, end to end):
#                                tasks/s and serve / worker CPU per task of each, medians, ratio, spread
#   test/bench/run.sh --sight-only      only those rounds (after the broker ceiling and warm-up)
# It builds pfo3 (Release), starts a private RabbitMQ (or uses $PFO3_BENCH_AMQP_URL), starts
# `pfo3 serve` and 2 workers with a SQLite store in a temp dir, runs the scenarios with
# `pfo3 bench`, writes JSON to test/bench/results/, renders docs/bench/*.png with gnuplot and
# prints the markdown tables for docs/benchmarks.md (also in test/bench/results/tables.md).
# Environment:
#   PFO3_BENCH_AMQP_URL        use this broker instead of starting one (it is not stopped)
#   PFO3_BENCH_RABBITMQ_PORT   port of the private broker (default 5796)
#   PFO3_BENCH_BUILD_DIR       build directory (default build-bench-release)
#   PFO3_BENCH_BIN             use this pfo3 binary, do not build
#   PFO3_BENCH_PREFETCH / PFO3_BENCH_CONCURRENCY   worker settings (default 1000 / 2)
#   PFO3_BENCH_SIGHT_TASKS     tasks per --sight round (default 20000; /5 with --quick). CPU
#                              times come from /proc in 10 ms ticks: 0.5 us per task at 20 000
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
quick=0
celery=0
pinned=0
store_kind=sqlite
want_store=0
tls=0
sight=0
others=1
profile=0
usage="usage: test/bench/run.sh [--quick] [--celery] [--pinned-broker] [--store sqlite|file] [--tls|--tls-only] [--sight|--sight-only] [--profile]"
for arg in "$@"; do
    case "$arg" in
    --quick) quick=1 ;;
    --celery) celery=1 ;;
    --pinned-broker) pinned=1 ;;
    --store) want_store=1 ;;
    --tls) tls=1 ;;
    --tls-only) tls=1; others=0 ;;
    --profile) profile=1 ;;
    --sight) sight=1 ;;
    --sight-only) sight=1; others=0 ;;
    file|sqlite) [ $want_store -eq 1 ] || { echo "$usage" >&2; exit 2; }
                 store_kind=$arg; want_store=0 ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done

results="$root/test/bench/results"
plots="$root/docs/bench"
mkdir -p "$results" "$plots"
state=$(mktemp -d /tmp/pfo3-bench.XXXXXX)
pids=()
own_broker=0

stop_everything() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ $own_broker -eq 1 ] && "$root/test/services/rabbitmq.sh" stop "$state/rabbitmq" || true
    rm -rf "$state"
}
trap stop_everything EXIT

log() { echo "== $*" >&2; }

# await_ready PORT LOG WHAT [WORKER_LOG...]: waits (60 s at most) until the serve on PORT answers
# a ping and each worker log says it connected; else prints the log that failed and exits 1.
await_ready() {
    local port=$1 serve_log=$2 what=$3; shift 3
    local deadline=$((SECONDS + 60)) w
    until echo '{"op":"ping"}' | timeout 2 nc -q 1 127.0.0.1 "$port" 2>/dev/null | grep -q pong; do
        [ $SECONDS -lt $deadline ] || { log "serve ($what) did not start"; cat "$serve_log" >&2; exit 1; }
        sleep 0.2
    done
    for w in "$@"; do
        until grep -q "connected to the broker" "$w"; do
            [ $SECONDS -lt $deadline ] || { log "a worker ($what) did not start"; cat "$w" >&2; exit 1; }
            sleep 0.2
        done
    done
}

# Celery runs with Debian's python3 and python3-celery (not a virtualenv's python3).
if [ $celery -eq 1 ] && ! /usr/bin/python3 -c 'import celery' 2> /dev/null; then
    log "--celery needs Debian's python3-celery (test/services/install-deps.sh installs it)"
    exit 1
fi

# --- build -----------------------------------------------------------------------------------
if [ -n "${PFO3_BENCH_BIN:-}" ]; then
    bin=$PFO3_BENCH_BIN
else
    build=${PFO3_BENCH_BUILD_DIR:-$root/build-bench-release}
    log "build (Release) in $build"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPFO3_TESTS=OFF > "$state/cmake.log" \
        || { cat "$state/cmake.log"; exit 1; }
    cmake --build "$build" --target pfo3 > "$state/build.log" || { tail -n 50 "$state/build.log"; exit 1; }
    bin=$build/app/pfo3
fi
have_gnuplot=1
command -v gnuplot > /dev/null || { have_gnuplot=0; log "gnuplot not found: no plots (test/services/install-deps.sh installs it)"; }

# --- services --------------------------------------------------------------------------------
if [ -n "${PFO3_BENCH_AMQP_URL:-}" ]; then
    amqp=$PFO3_BENCH_AMQP_URL
else
    port=${PFO3_BENCH_RABBITMQ_PORT:-5796}
    own_broker=1
    if [ $pinned -eq 1 ]; then schedulers=1:1; else schedulers=default; fi
    log "start RabbitMQ on 127.0.0.1:$port (schedulers: $schedulers)"
    PFO3_RABBITMQ_SCHEDULERS=$schedulers "$root/test/services/rabbitmq.sh" start "$state/rabbitmq" "$port" >&2
    amqp="amqp://guest:guest@127.0.0.1:$port/%2f"
    # What the node really runs with, for the report (not what was asked for).
    online=$("$root/test/services/rabbitmq.sh" ctl "$state/rabbitmq" eval 'erlang:system_info(schedulers_online).' 2>/dev/null || echo "?")
fi
queue="pfo3_bench_$$"
if [ "$store_kind" = sqlite ]; then
    store_uri="sqlite://$state/results.db"
else
    mkdir -p "$state/results"
    store_uri="file://$state/results"
fi
serve_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server="127.0.0.1:$serve_port"
prefetch=${PFO3_BENCH_PREFETCH:-1000}
concurrency=${PFO3_BENCH_CONCURRENCY:-2}
# Everything the roles need is on the command line; the environment must not override it,
# and the roles run in the temp dir so no ./pfo3.toml is picked up.
unset PFO3_CONFIG PFO3_AMQP_URL PFO3_STORE PFO3_SERVER
cd "$state"

log "start pfo3 serve on $server and 2 workers (prefetch $prefetch, concurrency $concurrency), store $store_uri"
# The hold-1000-connections scenario opens every connection from 127.0.0.1: lift the
# per-address cap (256 by default) above it; 16 connections x window 1024 keep 16384 submits
# in flight: lift max_unconfirmed (10000 by default, beyond it `overloaded`) above that. Nothing else. --http-listen on any free port:
# metrics stay on as deployed, and runs side by side never fight over the default 127.0.0.1:5080.
printf '[serve]\nmax_connections_per_address = 2000\nmax_unconfirmed = 20000\n' > "$state/serve.toml"
tls_client=()
if [ $tls -eq 1 ]; then
    # A CA and a server certificate for 127.0.0.1 (the name the bench connects with), as
    # docs/security.md makes them. "optional": the plaintext rounds use the same serve.
    mkdir -p "$state/tls"
    (
        cd "$state/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pfo3-bench-CA -keyout ca.key -out ca.pem
        openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext \
            -out server.pem
    ) > "$state/tls/openssl.log" 2>&1 || { cat "$state/tls/openssl.log" >&2; exit 1; }
    printf '[serve.tls]\nmode = "optional"\ncert_file = "%s"\nkey_file = "%s"\n' \
        "$state/tls/server.pem" "$state/tls/server.key" >> "$state/serve.toml"
    tls_client=(--ca-file "$state/tls/ca.pem")
fi
PFO3_CONFIG="$state/serve.toml" PFO3_STORE="$store_uri" "$bin" serve --listen "$server" --amqp "$amqp" \
    --queue "$queue" --http-listen 127.0.0.1:0 > "$state/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
worker_pids=()
for i in 1 2; do
    "$bin" work --amqp "$amqp" --queue "$queue" --store "$store_uri" --prefetch "$prefetch" \
        --concurrency "$concurrency" > "$state/work$i.log" 2>&1 &
    worker_pids+=("$!")
    pids+=("$!")
done

await_ready "$serve_port" "$state/serve.log" "sight on" "$state/work1.log" "$state/work2.log"

common=(--server "$server" --store "$store_uri" --serve-pid "$serve_pid"
        --worker-pids "$(IFS=,; echo "${worker_pids[*]}")" --results-timeout 120)

# --sight: the same roles with sight off ([http] metrics = false, heartbeat_s = 0) on a queue and
# store of their own, so rounds can alternate between the two sets. serve's HTTP listener stays
# (on any free port, as above) and so does its heartbeat listener: it hears the standard
# workers' beats on the shared pfo3.events exchange, a few small messages every 5 s.
if [ $sight -eq 1 ]; then
    if [ "$store_kind" = sqlite ]; then
        off_store_uri="sqlite://$state/results-sight-off.db"
    else
        mkdir -p "$state/results-sight-off"
        off_store_uri="file://$state/results-sight-off"
    fi
    off_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    off_server="127.0.0.1:$off_port"
    printf '[http]\nmetrics = false\nheartbeat_s = 0\n' > "$state/sight-off.toml"
    cat "$state/serve.toml" "$state/sight-off.toml" > "$state/serve-sight-off.toml"
    log "start pfo3 serve on $off_server and 2 workers with metrics and heartbeats off, store $off_store_uri"
    PFO3_CONFIG="$state/serve-sight-off.toml" PFO3_STORE="$off_store_uri" "$bin" serve --listen "$off_server" \
        --amqp "$amqp" --queue "${queue}_sight_off" --http-listen 127.0.0.1:0 > "$state/serve-sight-off.log" 2>&1 &
    off_serve_pid=$!
    pids+=("$off_serve_pid")
    off_worker_pids=()
    for i in 1 2; do
        PFO3_CONFIG="$state/sight-off.toml" "$bin" work --amqp "$amqp" --queue "${queue}_sight_off" \
            --store "$off_store_uri" --prefetch "$prefetch" --concurrency "$concurrency" \
            > "$state/work-sight-off$i.log" 2>&1 &
        off_worker_pids+=("$!")
        pids+=("$!")
    done
    await_ready "$off_port" "$state/serve-sight-off.log" "sight off" "$state/work-sight-off1.log" \
        "$state/work-sight-off2.log"
    # The switch must have taken: an "on" round against a set that is off measures nothing.
    grep -q "metrics are off" "$state/work-sight-off1.log" || { log "sight-off worker has metrics on"; exit 1; }
    off_common=(--server "$off_server" --store "$off_store_uri" --serve-pid "$off_serve_pid"
                --worker-pids "$(IFS=,; echo "${off_worker_pids[*]}")" --results-timeout 120)
fi
# A broker this script started is on this machine: its CPU per task (and per message when it
# runs alone) goes in the reports too.
broker_cpu=()
[ $own_broker -eq 1 ] && broker_cpu=(--cpu-pids "rabbitmq=$(cat "$state/rabbitmq/pid")")
common+=("${broker_cpu[@]}")
failed=0
bench() {  # bench NAME ARGS...: one scenario; a failed scenario is reported, the rest still run
    local name=$1; shift
    log "scenario $name"
    echo "$name: $(uptime)" >> "$results/load.txt"
    if ! "$bin" --log-level warn bench --label "$name" --json "$results/$name.json" "$@"; then
        log "scenario $name reported errors (see above)"
        failed=1
    fi
}

if [ $quick -eq 1 ]; then scale=5; latency_s=5; else scale=1; latency_s=30; fi
rm -f "$results"/*.json "$results/load.txt" "$results/setup.txt"

# How this run was set up, for the report's first lines (summarize.py prints them).
{
    if [ $own_broker -eq 0 ]; then
        echo "Broker: $PFO3_BENCH_AMQP_URL (not started by this script; its schedulers unknown)."
    elif [ $pinned -eq 1 ]; then
        echo "Broker: private RabbitMQ pinned to one Erlang scheduler (--pinned-broker, +S 1:1; schedulers online: $online)."
    else
        echo "Broker: private RabbitMQ as Debian starts it, one Erlang scheduler per core (schedulers online: $online of $(nproc) cores)."
    fi
    echo "Store: $store_kind ($store_uri); 2 workers, prefetch $prefetch, concurrency $concurrency."
    [ $tls -eq 0 ] || echo "Serve with [serve.tls] mode = \"optional\" (RSA 2048 certificate): plaintext clients are told apart by their first byte."
    [ $sight -eq 0 ] || echo "Sight: a second serve and 2 workers with [http] metrics = false and heartbeat_s = 0 beside the standard set (metrics on, heartbeats every 5 s), each on its own queue and store."
} > "$results/setup.txt"

# The broker alone, at its best window: the ceiling every pfo3 figure is compared with.
bench broker-ceiling --broker-only --amqp "$amqp" --type echo --broker-messages $((50000 / scale)) \
    --broker-window 1024 --broker-prefetch 1000 "${broker_cpu[@]}"

# A warm-up the results ignore: first connections, page cache, queue creation.
bench warmup "${common[@]}" --tasks $((5000 / scale)) --connections 4 --window 64

if [ $others -eq 1 ]; then
# Throughput against connections and window (closed loop).
for c in 1 4 16; do
    for w in 1 64 1024; do
        if [ "$w" -eq 1 ]; then n=$((1000 * c / scale)); else n=$((40000 / scale)); fi
        bench "throughput-c$c-w$w" "${common[@]}" --tasks "$n" --connections "$c" --window "$w"
    done
done

# The disk's floor under submit -> stored (a synced append in the store's directory).
python3 "$root/test/bench/fsync_floor.py" "$state" "$results/fsync-floor.json" >&2 || failed=1

# Latency at a fixed 2000 tasks/s (open loop; a window large enough never to hold a send back),
# then the broker alone at the same rate with the same prefetch as the workers: the baseline.
bench latency-2000 "${common[@]}" --rate 2000 --tasks $((2000 * latency_s)) --connections 4 --window 1024 \
    --broker-ceiling --amqp "$amqp" --broker-window 1024 --broker-prefetch "$prefetch"

# Serve's memory holding 1000 connections (issue 5: <= 30 MiB), on a serve of its own: the
# serve above keeps the memory of 16 x 1024 submits in flight (c16-w1024), which is not what
# a serve holding 1000 quiet connections needs.
log "scenario hold-1000-connections"
hold_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PFO3_CONFIG="$state/serve.toml" PFO3_STORE="$store_uri" "$bin" serve --listen "127.0.0.1:$hold_port" \
    --amqp "$amqp" --queue "$queue" --http-listen 127.0.0.1:0 > "$state/serve-hold.log" 2>&1 &
hold_pid=$!
pids+=("$hold_pid")
await_ready "$hold_port" "$state/serve-hold.log" "hold-1000"
python3 "$root/test/bench/hold_connections.py" --server "127.0.0.1:$hold_port" --serve-pid "$hold_pid" \
    --connections 1000 | tee "$results/hold-1000-connections.txt" || failed=1
kill -TERM "$hold_pid"; wait "$hold_pid" || true
fi

# Where the CPU of a task goes (--profile): perf samples serve, one worker and the broker
# through one steady closed-loop load; the top symbols of each go to results/profile-*.txt.
if [ $profile -eq 1 ]; then
    if ! command -v perf > /dev/null; then
        log "--profile needs perf (Debian linux-perf)"; failed=1
    else
        log "scenario profile (perf record of serve, worker 1 and the broker)"
        perf_pids=("serve=$serve_pid" "worker=${worker_pids[0]}")
        # The pid file holds the rabbitmq-server script, which leads its own session (setsid):
        # the Erlang VM is the beam.smp in that session.
        if [ $own_broker -eq 1 ]; then
            beam=$(pgrep -s "$(cat "$state/rabbitmq/pid")" -x beam.smp | head -1 || true)
            [ -n "$beam" ] && perf_pids+=("rabbitmq=$beam")
        fi
        perf_jobs=()
        for entry in "${perf_pids[@]}"; do
            name=${entry%%=*}; pid=${entry#*=}
            perf record -q -F 1999 -p "$pid" -o "$state/perf-$name.data" > "$state/perf-$name.log" 2>&1 &
            perf_jobs+=("$!")
        done
        sleep 1  # perf attaches asynchronously; the samples of its first second would be lost
        bench profile "${common[@]}" --tasks $((100000 / scale)) --connections 1 --window 1024
        for job in "${perf_jobs[@]}"; do kill -INT "$job"; done
        for job in "${perf_jobs[@]}"; do wait "$job" || true; done
        for entry in "${perf_pids[@]}"; do
            name=${entry%%=*}
            { echo "# perf of $name during the profile scenario (self time, top 40 symbols; then by library)"
              perf report -i "$state/perf-$name.data" --stdio --no-children --sort dso,sym 2>/dev/null \
                  | grep -E '^ +[0-9]' | head -40 || true
              echo "# by library"
              perf report -i "$state/perf-$name.data" --stdio --no-children --sort dso 2>/dev/null \
                  | grep -E '^ +[0-9]' | head -15 || true
            } > "$results/profile-$name.txt"
        done
        log "profiles in $results/profile-*.txt"
    fi
fi

# TLS beside plaintext: the same closed-loop load, rounds alternating so that a change of the
# machine's load hits both alike; summarize.py sets them side by side (accepted/s, serve CPU).
if [ $tls -eq 1 ]; then
    for round in 1 2 3; do
        bench "tls-plain-r$round" "${common[@]}" --tasks $((20000 / scale)) --connections 4 --window 64
        bench "tls-on-r$round" "${common[@]}" "${tls_client[@]}" --tasks $((20000 / scale)) --connections 4 --window 64
    done
fi

# Sight on and off (issue 14): the same closed-loop load end to end against the standard set and
# the set without metrics and heartbeats, in rounds ordered on/off, off/on, ... so that a drift of
# the machine's load hits both sides alike; summarize.py sets them side by side.
if [ $sight -eq 1 ]; then
    sight_tasks=${PFO3_BENCH_SIGHT_TASKS:-20000}
    bench sight-warmup-off "${off_common[@]}" "${broker_cpu[@]}" --tasks $((5000 / scale)) --connections 4 --window 64
    for round in 1 2 3 4; do
        if [ $((round % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
        for side in $order; do
            if [ "$side" = on ]; then set_args=("${common[@]}"); else set_args=("${off_common[@]}" "${broker_cpu[@]}"); fi
            bench "sight-$side-r$round" "${set_args[@]}" --tasks $((sight_tasks / scale)) --connections 4 --window 64
        done
    done
fi

# Celery 5 on the same broker (its own queue, 2 prefork workers of 2), after pfo3 so that the
# comparison table's figures all come from this run (pfo3's serve and workers stay idle).
if [ $celery -eq 1 ]; then
    log "scenarios celery-no-confirms, celery-confirms"
    echo "celery: $(uptime)" >> "$results/load.txt"
    if ! /usr/bin/python3 "$root/test/bench/celery/bench.py" --amqp "$amqp" --results "$results" \
            --tasks $((20000 / scale)) --producers 4; then
        log "the Celery scenarios reported errors (see above)"
        failed=1
    fi
fi
echo "end: $(uptime)" >> "$results/load.txt"

# --- tables and plots ------------------------------------------------------------------------
python3 "$root/test/bench/summarize.py" "$results" > "$results/tables.md"
if [ $have_gnuplot -eq 1 ] && [ $others -eq 1 ]; then
    gnuplot -e "results='$results'; out='$plots/throughput.png'" "$root/test/bench/throughput.gp"
    gnuplot -e "results='$results'; out='$plots/latency-cdf.png'" "$root/test/bench/latency.gp"
    log "plots in $plots"
fi
cat "$results/tables.md"
log "JSON in $results; tables in $results/tables.md"
exit $failed
