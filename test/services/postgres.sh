#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on 127.0.0.1, for tests and benchmarks (no systemd needed).
#   postgres.sh start DIR PORT   initdb (once), start, create role pfo3 and database pfo3;
#                                prints the connection URI (also kept in DIR/url)
#   postgres.sh stop DIR         fast shutdown (the data stays; start again with `start`)
#   postgres.sh url DIR          the connection URI of the cluster in DIR
#   postgres.sh psql DIR ARGS... psql as the superuser over the cluster's Unix socket
# The server runs without fsync unless PFO3_PG_DURABLE=1 (set it for benchmarks that claim
# durability). Role pfo3 may create databases, so a test can make one database per test.
set -euo pipefail

cmd=${1:?usage: postgres.sh start|stop|url|psql DIR [PORT]}
dir=${2:?usage: postgres.sh start|stop|url|psql DIR [PORT]}
bin=/usr/lib/postgresql/15/bin
role=pfo3
password=pfo3-test-secret

# postgres refuses to run as root, so every server-side command runs as user postgres.
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

superuser_psql() {
    # shellcheck disable=SC1091
    source "$dir/env"
    as_postgres "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$PG_PORT" -U postgres "$@"
}

case "$cmd" in
start)
    port=${3:-}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -z "$port" ]; then
        # shellcheck disable=SC1091
        source "$dir/env"
        port=$PG_PORT
    fi
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        as_postgres test -w "$dir" ||
            { echo "postgres.sh: user postgres cannot reach $dir (a parent directory is private)" >&2; exit 1; }
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_postgres "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 > "$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    opts="-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200"
    [ "${PFO3_PG_DURABLE:-0}" = 1 ] || opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    echo "PG_PORT=$port" > "$dir/env"
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -o "$opts" -w -t 60 start > /dev/null ||
        { tail -n 30 "$dir/log" >&2; exit 1; }
    superuser_psql -d postgres <<SQL
SELECT 'CREATE ROLE $role LOGIN CREATEDB PASSWORD ''$password'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') \gexec
SELECT 'CREATE DATABASE $role OWNER $role'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$role') \gexec
SQL
    echo "postgresql://$role:$password@127.0.0.1:$port/$role" | tee "$dir/url"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop > /dev/null
    fi
    ;;
url)
    cat "$dir/url"
    ;;
psql)
    shift 2
    superuser_psql "$@"
    ;;
*)
    echo "postgres.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
