#!/bin/sh
# Benchmarks a full hangtui snapshot against Delve's plain path (list the
# goroutines, unwind each stack with GoroutineStacktrace) on the same hung
# process in the same run: the fixture's "many" scenario, N goroutines at
# stack depths 3..33 blocked on mutexes, channels, selects, WaitGroups,
# Conds and sleeps. Needs root (ptrace). Prints times, pause, peak memory
# and the ratio; every number is also in $OUT/*.json.
#
#   bench/snapshot.sh                  # 10,000 and 100,000 goroutines
#   N="10000" bench/snapshot.sh        # one size
#   SKIP_DELVE=1 bench/snapshot.sh     # hangtui only (Delve takes ~20 s and 2 GB at 100k)
#
# "read ms" excludes attaching (Delve loads the binary's debug info either
# way: "attach ms"). The first hangtui snapshot is cold; "warm" is the best
# refresh after letting the target run (what the live view does). "pause"
# is how long the target was stopped: for Delve, attach to detach. "cpu"
# is CPU time (all threads): on a busy machine wall time also counts waiting
# for a core. At 10,000 goroutines the target is also refreshed every second
# for 10 s and the share of time it was paused is printed.
set -eu
cd "$(dirname "$0")/.."
SIZES=${N:-"10000 100000"}
OUT=${OUT:-$(mktemp -d /tmp/hangtui-bench.XXXXXX)}
go build -o "$OUT/snapbench" ./inspect/internal/snapbench
(cd testdata/fixture && go build -o "$OUT/fx" .)
for n in $SIZES; do
	"$OUT/fx" many -n "$n" -timeout 10m >"$OUT/fx-$n.manifest" 2>"$OUT/fx-$n.err" &
	fx=$!
	trap 'kill $fx 2>/dev/null || true' EXIT INT TERM
	# The manifest is printed once every goroutine is parked.
	while [ ! -s "$OUT/fx-$n.manifest" ]; do
		if ! kill -0 "$fx" 2>/dev/null; then
			cat "$OUT/fx-$n.err" >&2
			exit 1
		fi
		sleep 0.5
	done
	echo "== many -n $n (pid $fx)"
	live=""
	if [ "$n" -le 10000 ]; then
		live="-live ${LIVE:-10s}" # refresh every second, as the live view does
	fi
	# shellcheck disable=SC2086
	"$OUT/snapbench" -mode hangtui -pid "$fx" $live >"$OUT/hangtui-$n.json"
	if [ -z "${SKIP_DELVE:-}" ]; then
		"$OUT/snapbench" -mode delve -pid "$fx" >"$OUT/delve-$n.json"
		"$OUT/snapbench" -table "$OUT/hangtui-$n.json" "$OUT/delve-$n.json"
	else
		cat "$OUT/hangtui-$n.json"
	fi
	kill "$fx"
	wait "$fx" 2>/dev/null || true
	trap - EXIT INT TERM
done
echo "results in $OUT"
