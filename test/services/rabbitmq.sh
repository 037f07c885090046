#!/usr/bin/env bash
# A private RabbitMQ node on 127.0.0.1, for tests and the quick start (no systemd needed).
#   rabbitmq.sh start DIR PORT   start a node with its data in DIR, wait until it serves
#   rabbitmq.sh stop DIR         shut it down (and its private epmd)
#   rabbitmq.sh ctl DIR ARGS...  rabbitmqctl against it (stop_app, start_app, list_queues ...)
# The node's name, ports and epmd port are derived from PORT and written to DIR/env.
# PFO3_RABBITMQ_SCHEDULERS: the Erlang schedulers of the node. Default "1:1" (one, so that tests
# on a busy machine leave the cores to pfo3); "default" starts it as Debian's service does, with
# one scheduler per core (test/bench/run.sh measures against that).
# Optional: PFO3_RABBITMQ_EXTRA_CONF (lines appended to rabbitmq.conf, e.g. a TLS listener) and
# PFO3_RABBITMQ_PLUGINS (the enabled_plugins list, e.g. rabbitmq_auth_mechanism_ssl).
set -euo pipefail

cmd=${1:?usage: rabbitmq.sh start|stop|ctl DIR [PORT]}
dir=${2:?usage: rabbitmq.sh start|stop|ctl DIR [PORT]}
bin=/usr/lib/rabbitmq/bin
# shellcheck source=rabbitmq-node.sh
source "$(dirname "${BASH_SOURCE[0]}")/rabbitmq-node.sh"

load_env() {
    # shellcheck disable=SC1091
    source "$dir/env"
}

case "$cmd" in
start)
    port=${3:?usage: rabbitmq.sh start DIR PORT}
    schedulers=${PFO3_RABBITMQ_SCHEDULERS:-1:1}
    erl_args=""
    [ "$schedulers" = default ] || erl_args="+S $schedulers"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    node_cookie "$dir/home"
    # A test may add lines (a TLS listener) and plugins (rabbitmq_auth_mechanism_ssl).
    node_files "$dir" "$dir/home" "$port" "pfo3test$port" $((port - 1000)) "$erl_args" \
               "${PFO3_RABBITMQ_PLUGINS:-}" "${PFO3_RABBITMQ_EXTRA_CONF:-}"
    load_env
    setsid "$bin/rabbitmq-server" > "$dir/server.out" 2>&1 < /dev/null &
    echo $! > "$dir/pid"
    # Wait for the node to finish booting (await_startup blocks until then, bounded here).
    for _ in $(seq 1 120); do
        if "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q await_startup --timeout 5 >/dev/null 2>&1; then
            echo "rabbitmq: node $RABBITMQ_NODENAME listening on 127.0.0.1:$port (data in $dir)"
            exit 0
        fi
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            echo "rabbitmq: the node exited during start-up; see $dir/server.out and $dir/log" >&2
            tail -n 30 "$dir/server.out" >&2 || true
            exit 1
        fi
    done
    echo "rabbitmq: node did not start within 10 minutes; see $dir/log" >&2
    exit 1
    ;;
stop)
    [ -f "$dir/env" ] || exit 0
    load_env
    "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q shutdown >/dev/null 2>&1 || {
        pid=$(cat "$dir/pid" 2>/dev/null || true)
        [ -n "$pid" ] && kill -- -"$pid" 2>/dev/null || true
    }
    epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
    ;;
ctl)
    load_env
    shift 2
    exec "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"
    ;;
*)
    echo "usage: rabbitmq.sh start|stop|ctl DIR [PORT]" >&2
    exit 2
    ;;
esac
