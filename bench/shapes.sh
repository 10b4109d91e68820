#!/bin/sh
# Benchmarks hangtui on processes shaped like real hung servers
# (testdata/benchgen: deep recursion, varied stacks, locks held deep in
# stacks, many resources, labels, finalizer queues, big heaps) against
# Delve's plain path on the same process in the same run. Needs root
# (ptrace). One line per shape and size:
#
#   report s   `hangtui report --no-code --json PID` end to end (attach,
#              snapshot, JSON written to a file); CODE=1: with the source
#              analysis, as a user runs it by default
#   pause ms   how long that report kept the target stopped (its pause_ms)
#   RSS MB     hangtui's peak resident memory for that report
#   snap ms    snapbench: the first snapshot (cold) and the best refresh
#   live %     share of time the target is paused in the live view (a
#              refresh every second, or 10 times the last pause if longer, more
#              to pay back a pause longer than the one before: internal/duty),
#              at 100,000 goroutines or fewer
#   delve s    Delve's plain path (GoroutinesInfo + a stack per goroutine):
#              wall, pause and peak RSS; skipped with SKIP_DELVE=1 and
#              above DELVE_MAX goroutines (default 100000: at 100,000 it
#              takes about a minute and 9 GB)
#
#   bench/shapes.sh                           # every shape at 10,000 and 100,000
#   SHAPES="shards varied" N="10000" bench/shapes.sh
#   N=1000000 SHAPES=shards SKIP_DELVE=1 bench/shapes.sh
#   HEAP=2048 SHAPES=heap bench/shapes.sh     # the heap shape's live MB
#
# Raw results (JSON reports, timings, snapbench lines) are kept in $OUT.
set -eu
cd "$(dirname "$0")/.."
SIZES=${N:-"10000 100000"}
SHAPES=${SHAPES:-"shards varied deep holders chans labels finq heap heapok mixed"}
DELVE_MAX=${DELVE_MAX:-100000}
# The source analysis (#15) loads and analyses the program's packages once
# per session, off the pause; its cost depends on the program, not on the
# goroutines. By default the report runs with --no-code; CODE=1 includes
# the analysis in "report s" and "RSS MB" (its phases are in the timings).
CODEFLAG=--no-code
[ "${CODE:-0}" = 1 ] && CODEFLAG=
OUT=${OUT:-$(mktemp -d /tmp/hangtui-shapes.XXXXXX)}
go build -o "$OUT/hangtui" ./cmd/hangtui
go build -o "$OUT/snapbench" ./inspect/internal/snapbench
(cd testdata/benchgen && go build -o "$OUT/benchgen" .)
fx=
cleanup() { [ -n "$fx" ] && kill "$fx" 2>/dev/null; true; }
trap cleanup EXIT INT TERM
# jsonfield FILE KEY: a number from a one-line JSON object (its head: a
# report of 100,000 goroutines is one line of hundreds of MB).
jsonfield() { head -c 65536 "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" | head -1; }
printf '%-8s %9s %8s %8s %7s %8s %8s %6s %9s %9s %8s\n' shape goroutines "report s" "pause ms" "RSS MB" "snap ms" "warm ms" "live %" "delve s" "d.pause" "d.RSS"
for n in $SIZES; do
	for shape in $SHAPES; do
		base="$OUT/$shape-$n"
		rm -f "$base.gen" # a stale one would end the wait below at once
		"$OUT/benchgen" -n "$n" -shape "$shape" -heap "${HEAP:-1024}" >"$base.gen" 2>"$base.gen.err" &
		fx=$!
		while [ ! -s "$base.gen" ]; do
			if ! kill -0 "$fx" 2>/dev/null; then
				cat "$base.gen.err" >&2
				exit 1
			fi
			sleep 0.5
		done
		sleep 1
		/usr/bin/time -f '%e %M' -o "$base.time" env HANGTUI_TIMINGS=1 "$OUT/hangtui" report $CODEFLAG --json "$fx" >"$base.json" 2>"$base.timings" || true
		wall=$(cut -d' ' -f1 "$base.time" | tail -1)
		rss=$(($(cut -d' ' -f2 "$base.time" | tail -1) / 1024))
		pause=$(jsonfield "$base.json" pause_ms)
		live=""
		if [ "$n" -le 100000 ]; then
			live="-live ${LIVE:-10s}"
		fi
		# shellcheck disable=SC2086
		"$OUT/snapbench" -mode hangtui -pid "$fx" $live >"$base.snap" 2>&1 || true
		snap=$(jsonfield "$base.snap" snapshot_ms)
		warm=$(jsonfield "$base.snap" warm_ms)
		livepct=$(jsonfield "$base.snap" live_paused_pct)
		[ -n "$livepct" ] && livepct=$(printf '%.1f' "$livepct")
		dw=- dp=- dr=-
		if [ -z "${SKIP_DELVE:-}" ] && [ "$n" -le "$DELVE_MAX" ]; then
			/usr/bin/time -f '%e %M' -o "$base.dtime" "$OUT/snapbench" -mode delve -pid "$fx" >"$base.delve" 2>&1 || true
			dw=$(cut -d' ' -f1 "$base.dtime" | tail -1)
			dr=$(($(cut -d' ' -f2 "$base.dtime" | tail -1) / 1024))
			dp=$(jsonfield "$base.delve" pause_ms)
		fi
		printf '%-8s %9s %8s %8.0f %7s %8.0f %8.0f %6s %9s %9s %8s\n' "$shape" "$n" "$wall" "${pause:-0}" "$rss" "${snap:-0}" "${warm:-0}" "${livepct:--}" "$dw" "$dp" "$dr"
		kill "$fx"
		wait "$fx" 2>/dev/null || true
		fx=
	done
done
echo "results in $OUT"
