#!/usr/bin/env bash
# Delay precision and the broker's memory with tasks waiting (issue 16; docs/benchmarks.md,
# "Delayed tasks"): p50/p99 of (actual start - run_at) for 10 000 tasks spread over 10 minutes
# with the real unit (1 s), then 100 000 tasks waiting 1-2 h on the ladder and the broker's
# memory. About 13 minutes. Starts a private RabbitMQ (as Debian starts it), serve and 2 workers
# with a SQLite store, all in a temp dir, and stops them.
#   test/bench/delay_precision.sh [--quick]    --quick: 1000 tasks over 60 s, 10 000 waiting
# Environment:
#   PFO3_BENCH_BIN             the pfo3 binary (default: build/app/pfo3)
#   PFO3_BENCH_RABBITMQ_PORT   port of the private broker (default 5796)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PFO3_BENCH_BIN:-$root/build/app/pfo3}
port=${PFO3_BENCH_RABBITMQ_PORT:-5796}
sizes=()
case "${1:-}" in
--quick) sizes=(--tasks 1000 --window-s 60 --waiting 10000) ;;
"") ;;
*) echo "usage: test/bench/delay_precision.sh [--quick]" >&2; exit 2 ;;
esac
[ -x "$bin" ] || { echo "no pfo3 binary at $bin (set PFO3_BENCH_BIN)" >&2; exit 1; }
state=$(mktemp -d /tmp/pfo3-delay-bench.XXXXXX)
stop_everything() {
    PFO3_RABBITMQ_SCHEDULERS=default "$root/test/services/rabbitmq.sh" stop "$state/rabbitmq" || true
    rm -rf "$state"
}
trap stop_everything EXIT
PFO3_RABBITMQ_SCHEDULERS=default "$root/test/services/rabbitmq.sh" start "$state/rabbitmq" "$port" >&2
mkdir -p "$root/test/bench/results"
python3 "$root/test/bench/delay_precision.py" --bin "$bin" --amqp "amqp://guest:guest@127.0.0.1:$port/%2f" \
    --rabbitmq-dir "$state/rabbitmq" --state "$state" --json "$root/test/bench/results/delay-precision.json" \
    "${sizes[@]}"
