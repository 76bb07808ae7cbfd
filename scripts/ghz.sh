#!/usr/bin/env bash
# Usage: scripts/ghz.sh [N]
#
# Runs ghz against BenchmarkOverhead's server (minerbench/internal/rawserver)
# in the benchmark's four cells (shape 1x1 and 10x10, 1 and 16 workers, a
# connection per worker), N calls each (default 5000) after 3 per worker
# left out as warm-up, and prints one result line per cell named as
# BenchmarkOverhead's with path=ghz, so that benchstat can put it beside
# path=floor and path=harness:
#
#   go test -run '^$' -bench Overhead ./minerbench >overhead.txt
#   scripts/ghz.sh >>overhead.txt
#   go tool benchstat -col /path -filter '-/path:floor' overhead.txt
#
# ghz does not sign its calls (the server checks nothing) and sends a
# request buffer of the right size but not a msgpack tensor (the server
# does not read it). The server is pinned to the CPUs this script may not
# use, when there are any (taskset -c 0 scripts/ghz.sh), as the benchmark
# pins it. Needs ghz on PATH (go install github.com/bojand/ghz/cmd/ghz@v0.93.0)
# and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
command -v ghz >/dev/null || {
	echo "ghz.sh: ghz is not on PATH; go install github.com/bojand/ghz/cmd/ghz@v0.93.0" >&2
	exit 2
}

work=$(mktemp -d)
trap 'exec 3>&-; wait; rm -rf "$work"' EXIT
go build -o "$work/rawserver" ./minerbench/internal/rawserver
others=$(python3 -c 'import os; print(",".join(str(c) for c in range(os.cpu_count()) if c not in os.sched_getaffinity(0)))')
mkfifo "$work/stdin"
if [ -n "$others" ] && command -v taskset >/dev/null; then
	taskset -c "$others" "$work/rawserver" <"$work/stdin" >"$work/addr" &
else
	"$work/rawserver" <"$work/stdin" >"$work/addr" &
fi
exec 3>"$work/stdin" # the server stops when its stdin closes
until [ -s "$work/addr" ]; do sleep 0.05; done
addr=$(head -n1 "$work/addr")

# go test ends a benchmark's name with -GOMAXPROCS only when it is not 1.
procs=$(nproc)
if [ "$procs" -eq 1 ]; then procs=""; else procs="-$procs"; fi

for shape in 1x1 10x10; do
	batch=${shape%x*} block=${shape#*x}
	data=$(python3 -c '
import base64, json, sys
b, s = int(sys.argv[1]), int(sys.argv[2])
size = 80 + 8 * b * s  # about the msgpack encoding of a [b, s] int64 tensor
print(json.dumps({"version": 204, "hotkey": "ghz", "requires_grad": True, "tensors": [{
    "version": 204, "buffer": base64.b64encode(bytes(size)).decode(),
    "shape": [b, s], "dtype": "INT64", "modality": "TEXT"}]}))' "$batch" "$block")
	for conc in 1 16; do
		ghz --insecure --proto minerbench/internal/wire/bittensor.proto --call Bittensor.Forward \
			-d "$data" -n $((n + 3 * conc)) --skipFirst $((3 * conc)) -c "$conc" --connections "$conc" \
			-O json "$addr" |
			python3 -c '
import json, sys
r = json.load(sys.stdin)
name, n = sys.argv[1], int(sys.argv[2])
ok = r["statusCodeDistribution"].get("OK", 0)
p = {d["percentage"]: d["latency"] for d in r["latencyDistribution"] or []}
print("%s\t%d\t%.0f ns/op\t%.0f p50-ns\t%.0f p90-ns\t%.0f p99-ns\t%.1f queries/s\t%.1f success-%%" % (
    name, n, 1e9 / r["rps"], p.get(50, 0), p.get(90, 0), p.get(99, 0), r["rps"], 100.0 * ok / max(r["count"], 1)))' \
				"BenchmarkOverhead/shape=$shape/conc=$conc/path=ghz$procs" "$n"
	done
done
