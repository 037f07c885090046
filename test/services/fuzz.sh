#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz with clang (ASan + UBSan) and runs each for a
# bounded time on its seed corpus (test/fuzz/corpus/<target>, never written to: new inputs go
# to a scratch corpus). Exit status 1 if a target crashes, leaks, times out or fails a check;
# the offending input is kept under the work dir's artifacts/. The last line is the count,
# `fuzz: N passed, M failed (...)`, which test/run reads into its summary.
#   test/services/fuzz.sh [TOTAL_SECONDS] [WORK_DIR]
# TOTAL_SECONDS (default 60) is shared equally by the targets; WORK_DIR defaults to
# build-fuzz/ in the repository and keeps the build and scratch corpora between runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
total=${1:-60}
work=${2:-$root/build-fuzz}
# Every test/fuzz/<name>_fuzz.cpp is a target (its CMakeLists builds the same list).
mapfile -t targets < <(cd "$root/test/fuzz" && ls ./*_fuzz.cpp | sed 's|^\./||; s|_fuzz\.cpp$||')

command -v clang++ > /dev/null || { echo "fuzz: clang++ not found (test/services/install-deps.sh)" >&2; exit 1; }
echo "== fuzz: build in $work"
mkdir -p "$work"
cmake -S "$root/test/fuzz" -B "$work" -G Ninja -DCMAKE_CXX_COMPILER=clang++ > "$work/cmake.log" 2>&1 \
    || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work" -j"$(nproc)"

per_target=$(( total / ${#targets[@]} ))
[ "$per_target" -ge 1 ] || per_target=1
passed=0
failed=0
for t in "${targets[@]}"; do
    scratch="$work/corpus/$t"
    artifacts="$work/artifacts"
    mkdir -p "$scratch" "$artifacts"
    log="$work/$t.log"
    echo "== fuzz: $t for ${per_target} s"
    # -timeout catches inputs that take quadratic (or worse) time; -rss_limit_mb unbounded
    # memory; leaks are found by ASan at exit of each run.
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions="$root/test/fuzz/ubsan.supp" \
        "$work/fuzz_$t" -max_total_time="$per_target" -timeout=5 -rss_limit_mb=2048 \
            -max_len=8192 -dict="$root/test/fuzz/json.dict" -print_final_stats=1 \
            -artifact_prefix="$artifacts/$t-" "$scratch" "$root/test/fuzz/corpus/$t" \
            > "$log" 2>&1; then
        # "Done N runs" and the final coverage line are the useful summary.
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' '
        grep -E '#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz: $t FAILED; input kept under $artifacts; log tail:" >&2
        tail -n 60 "$log" >&2
    fi
done
echo "fuzz: $passed passed, $failed failed (targets ${targets[*]}, ${per_target} s each)"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
