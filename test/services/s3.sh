#!/usr/bin/env bash
# A private S3-compatible server on 127.0.0.1 (s3rver 4, verifies SigV4), for tests.
#   s3.sh install                          npm ci into test/services/s3/node_modules (once)
#   s3.sh start DIR PORT [BUCKET...]       start it with its data in DIR, wait until it serves
#   s3.sh stop DIR                         stop it
# Credentials: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER, region any.
# With PFO3_S3_TLS_CERT and PFO3_S3_TLS_KEY (PEM files) set, start serves https instead of http.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
app=$here/s3
usage="usage: s3.sh install | start DIR PORT [BUCKET...] | stop DIR"

install() {
    [ -f "$app/node_modules/@20minutes/s3rver/package.json" ] && return 0
    command -v npm >/dev/null || { echo "s3: npm is missing (apt-get install npm)" >&2; exit 1; }
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    [ "$major" -ge 20 ] || { echo "s3: s3rver 4 needs Node.js >= 20, this is $(node --version)" >&2; exit 1; }
    # The registry's chain is only trusted with the system CA bundle added.
    NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt} \
        npm ci --prefix "$app" --no-audit --no-fund --loglevel=error
}

case "${1:-}" in
install)
    install
    ;;
start)
    dir=${2:?$usage}
    port=${3:?$usage}
    shift 3
    install
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd)
    args=(--port "$port" --directory "$dir/data")
    for b in "$@"; do args+=(--bucket "$b"); done
    if [ -n "${PFO3_S3_TLS_CERT:-}" ]; then args+=(--cert "$PFO3_S3_TLS_CERT" --key "${PFO3_S3_TLS_KEY:?PFO3_S3_TLS_CERT needs PFO3_S3_TLS_KEY}"); fi
    setsid node "$app/server.js" "${args[@]}" > "$dir/server.out" 2>&1 < /dev/null &
    echo $! > "$dir/pid"
    for _ in $(seq 1 300); do
        if grep -q "^s3rver listening" "$dir/server.out" 2>/dev/null; then
            echo "s3: listening on 127.0.0.1:$port${PFO3_S3_TLS_CERT:+ (https)} (data in $dir/data)"
            exit 0
        fi
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            echo "s3: the server exited during start-up; see $dir/server.out" >&2
            tail -n 30 "$dir/server.out" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    echo "s3: server did not start within 30 s; see $dir/server.out" >&2
    exit 1
    ;;
stop)
    dir=${2:?$usage}
    pid=$(cat "$dir/pid" 2>/dev/null || true)
    [ -n "$pid" ] || exit 0
    kill -- -"$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 -- -"$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac
