#!/bin/sh
# Reads a large goroutine dump with hangtui (text and JSON reports) and with
# panicparse (pp), on the same file, and prints wall time and peak RSS of
# each (/usr/bin/time -v). The dump comes from the fixture's "many" scenario
# (every goroutine at a varied stack depth, blocked in 6 different ways):
#
#   FORMAT=sigquit (default): SIGQUIT with GOTRACEBACK=all, which prints
#     fp=/sp=/pc= words on every frame;
#   FORMAT=pprof: the text /debug/pprof/goroutine?debug=2 serves (the
#     fixture's -pprof FILE writes runtime.Stack of every goroutine, the
#     same text, without the runtime's 64 MB cap on debug=2).
#
#   bench/dump.sh                   # 100,000 goroutines, SIGQUIT
#   FORMAT=pprof DEPTH=1 bench/dump.sh     # 100,000 goroutines, debug=2, ~110 MB
#   N=10000 bench/dump.sh           # smaller
#   DEPTH=D                         # goroutines park 3..3+D-1 calls deep (default 31)
#   DUMP=/path/to/dump.txt bench/dump.sh   # an existing dump
#   SKIP_PP=1 bench/dump.sh         # hangtui only
#   PP_TIMEOUT=300 bench/dump.sh    # give up on panicparse after 300 s (default)
#
# panicparse is installed from the Go module proxy (v2.5.0) into $WORK
# unless `pp` is already on PATH. The in-process benchmark is
# `go test ./inspect -run '^$' -bench BenchmarkReadDump` (HANGTUI_BENCH_DUMP=file).
set -eu
cd "$(dirname "$0")/.."
N=${N:-100000}
DEPTH=${DEPTH:-31}
FORMAT=${FORMAT:-sigquit}
PP_TIMEOUT=${PP_TIMEOUT:-300}
WORK=${WORK:-$(mktemp -d)}
DUMP=${DUMP:-}

go build -o "$WORK/hangtui" ./cmd/hangtui
if [ -z "$DUMP" ] && [ "$FORMAT" = pprof ]; then
	(cd testdata/fixture && go build -o "$WORK/fx" .)
	DUMP="$WORK/pprof-$N.txt"
	"$WORK/fx" many -n "$N" -depth "$DEPTH" -timeout 10m -pprof "$DUMP" >"$WORK/manifest.json" &
	pid=$!
	while [ ! -s "$DUMP" ]; do # renamed into place once complete
		kill -0 "$pid" 2>/dev/null || { echo "fixture died" >&2; exit 1; }
		sleep 1
	done
	kill "$pid"
	{ wait "$pid" || true; } 2>/dev/null
elif [ -z "$DUMP" ]; then
	(cd testdata/fixture && go build -o "$WORK/fx" .)
	DUMP="$WORK/dump-$N.txt"
	GOTRACEBACK=all "$WORK/fx" many -n "$N" -depth "$DEPTH" -timeout 10m >"$WORK/manifest.json" 2>"$DUMP" &
	pid=$!
	while [ ! -s "$WORK/manifest.json" ]; do
		kill -0 "$pid" 2>/dev/null || { echo "fixture died" >&2; exit 1; }
		sleep 1
	done
	kill -QUIT "$pid"
	wait "$pid" || true # exits with status 2 once the dump is written
fi
echo "dump: $DUMP ($(du -m "$DUMP" | cut -f1) MB, $(grep -c '^goroutine ' "$DUMP") goroutines)"

# measure NAME COMMAND...: wall time and peak RSS of COMMAND, killed after
# $LIMIT seconds when LIMIT is set.
measure() {
	name=$1
	shift
	/usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.time" &
	tpid=$!
	wpid=
	if [ -n "${LIMIT:-}" ]; then
		# The command is time's only child.
		(sleep "$LIMIT" && pkill -KILL -P "$tpid") &
		wpid=$!
	fi
	wait "$tpid" || true
	if [ -n "$wpid" ]; then
		kill "$wpid" 2>/dev/null || true
	fi
	wall=$(grep 'Elapsed (wall clock)' "$WORK/$name.time" | awk '{print $NF}')
	rss=$(grep 'Maximum resident set size' "$WORK/$name.time" | awk '{print $NF}')
	note=""
	if grep -q 'Command terminated by signal 9' "$WORK/$name.time"; then
		note="   (did not finish: killed after ${LIMIT}s)"
	fi
	printf '%-13s wall %8s   peak RSS %6d MB   output %s bytes%s\n' "$name" "$wall" $((rss / 1024)) "$(wc -c <"$WORK/$name.out")" "$note"
}

if ! [ -x /usr/bin/time ]; then
	echo "needs /usr/bin/time (apt-get install time)" >&2
	exit 1
fi
measure hangtui-text "$WORK/hangtui" report --dump "$DUMP"
measure hangtui-json "$WORK/hangtui" report --format json --dump "$DUMP"
if [ -z "${SKIP_PP:-}" ]; then
	PP=$(command -v pp || true)
	if [ -z "$PP" ]; then
		GOBIN="$WORK" go install github.com/maruel/panicparse/v2/cmd/pp@v2.5.0
		PP="$WORK/pp"
	fi
	# pp reads the dump from stdin and writes its deduplicated report.
	LIMIT=$PP_TIMEOUT measure panicparse "$PP" -no-color "$DUMP"
fi
echo "outputs and timings in $WORK"
