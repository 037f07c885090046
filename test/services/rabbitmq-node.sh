# Sourced by rabbitmq.sh and rabbitmq-cluster.sh: the files one private RabbitMQ node runs from.

# node_cookie HOME: the Erlang cookie in HOME, made once (the nodes of one HOME share it).
node_cookie() {
    mkdir -p "$1"
    if [ ! -f "$1/.erlang.cookie" ]; then
        head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$1/.erlang.cookie"
        chmod 400 "$1/.erlang.cookie"
    fi
}

# node_files DIR HOME PORT NAME EPMD_PORT ERL_ARGS PLUGINS [EXTRA_CONF]: DIR/{mnesia,log} and
# DIR's rabbitmq.conf (listener and distribution on 127.0.0.1, then EXTRA_CONF), an empty
# rabbitmq-env.conf, enabled_plugins [PLUGINS] and `env` (sourced by every command that talks to
# the node): node NAME@localhost on PORT, distribution on PORT+20000, epmd on EPMD_PORT.
node_files() {
    local d=$1 home=$2 port=$3 name=$4 epmd_port=$5 erl_args=$6 plugins=$7 extra=${8:-}
    mkdir -p "$d"/{mnesia,log}
    cat > "$d/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
distribution.listener.interface = 127.0.0.1
CONF
    [ -z "$extra" ] || printf '%s\n' "$extra" >> "$d/rabbitmq.conf"
    : > "$d/rabbitmq-env.conf"
    echo "[$plugins]." > "$d/enabled_plugins"
    cat > "$d/env" <<ENV
export HOME=$home
export RABBITMQ_NODENAME=$name@localhost
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$((port + 20000))
export RABBITMQ_MNESIA_BASE=$d/mnesia
export RABBITMQ_LOG_BASE=$d/log
export RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf
export RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf
export RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$erl_args"
export ERL_EPMD_PORT=$epmd_port
export ERL_EPMD_ADDRESS=127.0.0.1
ENV
}
