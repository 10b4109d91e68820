#!/bin/sh
# Reads a large goroutine dump with hangtui and with panicparse (pp), on the
# same file, and prints wall time and peak RSS of each (/usr/bin/time -v).
# The dump is made by SIGQUIT-ing the fixture's "many" scenario with
# GOTRACEBACK=all (every goroutine at a varied stack depth, blocked in 6
# different ways).
#
#   bench/dump.sh                   # 100,000 goroutines
#   N=10000 bench/dump.sh           # smaller
#   DUMP=/path/to/dump.txt bench/dump.sh   # an existing dump
#   SKIP_PP=1 bench/dump.sh         # hangtui only
#
# panicparse is installed from the Go module proxy (v2.5.0) into $GOBIN
# unless `pp` is already on PATH. The in-process benchmark is
# `go test ./inspect -run '^$' -bench BenchmarkReadDump` (HANGTUI_BENCH_DUMP=file).
set -eu
cd "$(dirname "$0")/.."
N=${N:-100000}
WORK=${WORK:-$(mktemp -d)}
DUMP=${DUMP:-}

go build -o "$WORK/hangtui" ./cmd/hangtui
if [ -z "$DUMP" ]; then
	(cd testdata/fixture && go build -o "$WORK/fx" .)
	DUMP="$WORK/dump-$N.txt"
	GOTRACEBACK=all "$WORK/fx" many -n "$N" -timeout 10m >"$WORK/manifest.json" 2>"$DUMP" &
	pid=$!
	while [ ! -s "$WORK/manifest.json" ]; do
		kill -0 "$pid" 2>/dev/null || { echo "fixture died" >&2; exit 1; }
		sleep 1
	done
	kill -QUIT "$pid"
	wait "$pid" || true # exits with status 2 once the dump is written
fi
echo "dump: $DUMP ($(du -m "$DUMP" | cut -f1) MB, $(grep -c '^goroutine ' "$DUMP") goroutines)"

measure() { # name, command...
	name=$1
	shift
	/usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.time" || true
	wall=$(grep 'Elapsed (wall clock)' "$WORK/$name.time" | awk '{print $NF}')
	rss=$(grep 'Maximum resident set size' "$WORK/$name.time" | awk '{print $NF}')
	printf '%-10s wall %8s   peak RSS %6d MB\n' "$name" "$wall" $((rss / 1024))
}

if ! [ -x /usr/bin/time ]; then
	echo "needs /usr/bin/time (apt-get install time)" >&2
	exit 1
fi
measure hangtui "$WORK/hangtui" report --json --dump "$DUMP"
measure hangtui-text "$WORK/hangtui" report --dump "$DUMP"
if [ -z "${SKIP_PP:-}" ]; then
	PP=$(command -v pp || true)
	if [ -z "$PP" ]; then
		GOBIN="$WORK" go install github.com/maruel/panicparse/v2/cmd/pp@v2.5.0
		PP="$WORK/pp"
	fi
	# pp reads the dump from stdin and writes its deduplicated report.
	measure panicparse "$PP" -no-color "$DUMP"
fi
echo "outputs and timings in $WORK"
