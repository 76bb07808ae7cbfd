#!/usr/bin/env bash
# Usage: scripts/instructions.sh PACKAGE BENCH [test binary flags...]
#
# Prints the instructions each benchmark of PACKAGE matching BENCH executes
# per op in the test process, as benchmark lines (unit instructions/op,
# better=lower) for `go tool benchstat` and `go tool minerbench gate`. Wall
# and CPU time on a shared or virtual machine move by several percent from
# run to run whatever runs; an instruction count does not, so two versions,
# or two paths of one benchmark, can be told apart by a percent or two.
# Valgrind's cachegrind counts the instructions; a benchmark runs under it
# N1 and N2 times (-test.benchtime N1x, then N2x) and the difference,
# divided by N2 − N1, is what one op costs, start-up and warm-up cancelling
# out. Child processes (the miners, a benchmark's server) are not counted,
# nor is the kernel's work in system calls: for a client benchmark, the
# figure is the client's own user-space work.
#
# N1 and N2 (default 200 and 2200) set the two run lengths, COUNT (default 1)
# how many times each benchmark is measured. Extra arguments go to the test
# binary with their test. prefix, e.g.
#
#   scripts/instructions.sh ./minerbench Overhead
#   COUNT=3 scripts/instructions.sh ./minerbench/internal/axon Server
#   scripts/instructions.sh . Standard -mb.miners=noop
#
# Needs valgrind (Debian: apt-get install valgrind). Everything runs with
# GOMAXPROCS=1: with more, Go's idle threads spin looking for work for as
# long as the others take, and the count then varies by tens of percent from
# run to run; with one, by under 1 %. Go's asynchronous
# preemption is turned off (GODEBUG=asyncpreemptoff=1): valgrind handles its
# signals slowly, and they are not the benchmark's work.
set -euo pipefail
if [ $# -lt 2 ]; then
	sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
fi
pkg=$1 bench=$2
shift 2
n1=${N1:-200} n2=${N2:-2200} count=${COUNT:-1}
command -v valgrind >/dev/null || {
	echo "instructions.sh: valgrind not found; install it (Debian: apt-get install valgrind)" >&2
	exit 2
}
[ "$n2" -gt "$n1" ] || {
	echo "instructions.sh: N2 ($n2) must exceed N1 ($n1)" >&2
	exit 2
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/bench.test" "$pkg"
dir=$(go list -f '{{.Dir}}' "$pkg")
cd "$dir" # where go test would run the binary

export GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1

# The benchmarks' full names, from one short run.
"$work/bench.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1x "$@" >"$work/list.txt" 2>&1 || {
	cat "$work/list.txt" >&2
	exit 1
}
mapfile -t names < <(awk '/^Benchmark/ && !seen[$1]++ {print $1}' "$work/list.txt")
[ "${#names[@]}" -gt 0 ] || {
	echo "instructions.sh: no benchmark of $pkg matches $bench" >&2
	exit 1
}

# irefs NAME N prints the instructions a run of NAME with -test.benchtime Nx
# executes in the test process.
irefs() {
	local pattern="" level
	IFS=/ read -ra levels <<<"$1"
	for level in "${levels[@]}"; do # anchor each level of the name
		pattern+="${pattern:+/}^$(printf '%s' "$level" | sed 's/[][\.*^$+?(){}|]/\\&/g')\$"
	done
	valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
		"$work/bench.test" -test.run '^$' -test.bench "$pattern" -test.benchtime "${2}x" "${@:3}" >"$work/run.txt" 2>&1 || {
		cat "$work/run.txt" >&2
		exit 1
	}
	local count
	count=$(awk '/I *refs:/ {gsub(",", "", $NF); print $NF}' "$work/run.txt")
	[ -n "$count" ] || {
		cat "$work/run.txt" >&2
		echo "instructions.sh: valgrind printed no instruction count for $1" >&2
		exit 1
	}
	echo "$count"
}

grep -E '^(goos|goarch|pkg|cpu):' "$work/list.txt" || true
echo "Unit instructions/op better=lower" # for go tool minerbench gate
for _ in $(seq "$count"); do
	for name in "${names[@]}"; do
		a=$(irefs "$name" "$n1" "$@")
		b=$(irefs "$name" "$n2" "$@")
		echo "$name $((n2 - n1)) $(((b - a) / (n2 - n1))) instructions/op"
	done
done
