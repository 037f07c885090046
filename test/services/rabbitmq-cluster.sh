#!/usr/bin/env bash
# Three private RabbitMQ nodes on 127.0.0.1 joined into one cluster, for the cluster tests
# (test/cluster) and for trying high availability by hand (docs/operations.md). No systemd.
#   rabbitmq-cluster.sh start DIR EPMD_PORT PORT1 PORT2 PORT3   start, join, wait (~30-60 s)
#   rabbitmq-cluster.sh stop DIR                               shut every node down, and epmd
#   rabbitmq-cluster.sh ctl DIR N ARGS...                      rabbitmqctl against node N (1-3)
#   rabbitmq-cluster.sh queues DIR N ARGS...                   rabbitmq-queues against node N
#   rabbitmq-cluster.sh kill DIR N                             kill -9 node N's beam.smp
#   rabbitmq-cluster.sh stop-node DIR N                        graceful shutdown of node N
#   rabbitmq-cluster.sh start-node DIR N                       start node N again; it rejoins
#   rabbitmq-cluster.sh name DIR N                             node N's Erlang name
# Node N listens on PORTn, distribution on PORTn+20000; node 1 also serves the management API
# (plugin rabbitmq_management, for `pfo3 admin queues`; it answers for the whole cluster) on
# 127.0.0.1:PORT1+10000, the others skip the plugin's start-up time. All share one cookie and
# a private epmd on EPMD_PORT. Each node's environment is in DIR/nN/env.
set -euo pipefail

usage() { echo "usage: rabbitmq-cluster.sh start DIR EPMD_PORT P1 P2 P3 | stop DIR | ctl|queues|kill|stop-node|start-node|name DIR N ..." >&2; exit 2; }
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
bin=/usr/lib/rabbitmq/bin
# shellcheck source=rabbitmq-node.sh
source "$(dirname "${BASH_SOURCE[0]}")/rabbitmq-node.sh"

node_env() {  # node_env N: load node N's environment
    # shellcheck disable=SC1090
    source "$dir/n$1/env"
}

# The beam.smp below node N's recorded wrapper PID (kill -9 of the wrapper sh would not kill
# the VM; its SIGTERM is a graceful stop).
beam_pid() {
    local todo=("$(cat "$dir/n$1/pid")") p kids
    while [ ${#todo[@]} -gt 0 ]; do
        p=${todo[0]}; todo=("${todo[@]:1}")
        if [ "$(ps -o comm= -p "$p" 2>/dev/null)" = beam.smp ]; then echo "$p"; return 0; fi
        kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
        for k in $kids; do todo+=("$k"); done
    done
    return 1
}

start_node() {  # start_node N: launch node N in the background
    node_env "$1"
    setsid "$bin/rabbitmq-server" > "$dir/n$1/server.out" 2>&1 < /dev/null &
    echo $! > "$dir/n$1/pid"
}

await_node() {  # await_node N: until the node has booted (bounded)
    node_env "$1"
    for _ in $(seq 1 60); do
        if "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q await_startup --timeout 10 >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$(cat "$dir/n$1/pid")" 2>/dev/null; then
            echo "rabbitmq-cluster: node $1 exited during start-up; see $dir/n$1/server.out" >&2
            tail -n 30 "$dir/n$1/server.out" >&2 || true
            return 1
        fi
    done
    echo "rabbitmq-cluster: node $1 did not start in time" >&2
    return 1
}

case "$cmd" in
start)
    epmd_port=${3:?}; ports=("${4:?}" "${5:?}" "${6:?}")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    node_cookie "$dir/home"  # one cookie for the three nodes
    for n in 1 2 3; do
        port=${ports[$((n - 1))]}
        # Node 1 runs the management API (`pfo3 admin queues` reads it); the others start faster without.
        if [ "$n" = 1 ]; then
            node_files "$dir/n$n" "$dir/home" "$port" "pfo3c$port" "$epmd_port" "+S 1:1" rabbitmq_management \
                "$(printf 'management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = %s' $((port + 10000)))"
        else
            node_files "$dir/n$n" "$dir/home" "$port" "pfo3c$port" "$epmd_port" "+S 1:1" ""
        fi
    done
    # Node 1 first (the others join it), then 2 and 3 together.
    start_node 1
    await_node 1
    start_node 2
    start_node 3
    await_node 2
    await_node 3
    node_env 1
    first=$RABBITMQ_NODENAME
    for n in 2 3; do
        node_env "$n"
        "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q stop_app >/dev/null
        "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q join_cluster "$first" >/dev/null
        "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q start_app >/dev/null
    done
    node_env 1
    "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q await_online_nodes 3 --timeout 120 >/dev/null
    echo "rabbitmq-cluster: 3 nodes on 127.0.0.1:${ports[0]},${ports[1]},${ports[2]} (data in $dir)"
    ;;
stop)
    [ -f "$dir/n1/env" ] || exit 0
    for n in 3 2 1; do
        [ -f "$dir/n$n/pid" ] || continue
        node_env "$n"
        "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q shutdown >/dev/null 2>&1 || {
            pid=$(cat "$dir/n$n/pid" 2>/dev/null || true)
            if [ -n "$pid" ]; then kill -- -"$pid" 2>/dev/null || true; fi
            if b=$(beam_pid "$n"); then kill -9 "$b" 2>/dev/null || true; fi
        }
    done
    epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
    ;;
ctl)
    n=${3:?}; shift 3; node_env "$n"
    exec "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"
    ;;
queues)
    n=${3:?}; shift 3; node_env "$n"
    exec "$bin/rabbitmq-queues" -n "$RABBITMQ_NODENAME" "$@"
    ;;
kill)
    n=${3:?}
    b=$(beam_pid "$n") || { echo "rabbitmq-cluster: node $n has no beam.smp" >&2; exit 1; }
    kill -9 "$b"
    wait_gone=0
    while kill -0 "$b" 2>/dev/null && [ $wait_gone -lt 100 ]; do sleep 0.1; wait_gone=$((wait_gone + 1)); done
    ;;
stop-node)
    n=${3:?}; node_env "$n"
    "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q shutdown >/dev/null
    ;;
start-node)
    n=${3:?}
    start_node "$n"
    await_node "$n"
    ;;
name)
    n=${3:?}; node_env "$n"; echo "$RABBITMQ_NODENAME"
    ;;
*) usage ;;
esac
