#!/bin/sh
# Benchmarks reading every goroutine's stack of a hung process: the fast
# reader (inspect/internal/target/unwind.go) against Delve's plain path
# (GoroutinesInfo + GoroutineStacktrace per goroutine), attached once to the
# fixture's "many" scenario. Needs root (ptrace).
#
#   bench/stacks.sh                 # 10,000 goroutines, fast and Delve
#   N=100000 SKIP_DELVE=1 bench/stacks.sh   # 100,000, fast path only
#   COUNT=5 bench/stacks.sh         # more samples (e.g. for benchstat)
#
# Columns: ns/op and B/op, allocs/op for one Goroutines() call; MB-live is
# the heap still in use with its result held.
set -eu
cd "$(dirname "$0")/.."
N=${N:-10000}
COUNT=${COUNT:-1}
BENCHTIME=${BENCHTIME:-3x}
export HANGTUI_BENCH_N="$N"
if [ -n "${SKIP_DELVE:-}" ]; then
	export HANGTUI_BENCH_SKIP_DELVE=1
fi
exec go test ./inspect/internal/target/ -run '^$' -bench '^BenchmarkGoroutines$' \
	-benchtime "$BENCHTIME" -count "$COUNT" -timeout 60m
