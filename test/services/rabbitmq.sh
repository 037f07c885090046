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
    mkdir -p "$dir"/{mnesia,log,home}
    dir=$(cd "$dir" && pwd)
    if [ ! -f "$dir/home/.erlang.cookie" ]; then
        head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$dir/home/.erlang.cookie"
        chmod 400 "$dir/home/.erlang.cookie"
    fi
    cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
distribution.listener.interface = 127.0.0.1
CONF
    # A test may add lines (a TLS listener) and plugins (rabbitmq_auth_mechanism_ssl).
    [ -z "${PFO3_RABBITMQ_EXTRA_CONF:-}" ] || printf '%s\n' "$PFO3_RABBITMQ_EXTRA_CONF" >> "$dir/rabbitmq.conf"
    : > "$dir/rabbitmq-env.conf"
    echo "[${PFO3_RABBITMQ_PLUGINS:-}]." > "$dir/enabled_plugins"
    cat > "$dir/env" <<ENV
export HOME=$dir/home
export RABBITMQ_NODENAME=pfo3test$port@localhost
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$((port + 20000))
export RABBITMQ_MNESIA_BASE=$dir/mnesia
export RABBITMQ_LOG_BASE=$dir/log
export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
export RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$erl_args"
export ERL_EPMD_PORT=$((port - 1000))
export ERL_EPMD_ADDRESS=127.0.0.1
ENV
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
