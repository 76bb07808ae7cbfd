#!/usr/bin/env bash
# Usage: scripts/compare.sh [REF] [go test flags...]
#
# Benchmarks REF (default HEAD) in a temporary git worktree and the working
# tree, interleaved run by run, each side first in turn, so that machine
# noise falls on both alike, and
# prints `go tool benchstat old.txt new.txt`. COUNT (default 8) sets how many
# runs of each; BENCH (default .) selects benchmarks. Extra arguments go to go
# test, e.g. scripts/compare.sh main -benchtime 200x -mb.miners noop
#
# OUT (default the repository's root) is the directory of the output:
# old.txt and new.txt, and each side's query histories, old-results/ and
# new-results/ (its -mb.results), kept apart so that
#
#	go tool minerbench report old=OUT/old.txt new=OUT/new.txt old=OUT/old-results new=OUT/new-results
#
# shows each side's runs as its own; the script prints that command. Those
# four of an earlier comparison are removed first; the new ones are written
# only when every run succeeded. A run that fails (a refused flag, a failed
# benchmark) or prints no result stops the script: its output is shown and
# the script exits with its status (1 for no result).
#
# NEW_ARGS (e.g. NEW_ARGS='-mb.set flaky:flaky.latency=120us') are more go
# test flags for the working tree's runs only: a known change, to check
# that a gate finds it.
#
# GATE (e.g. GATE=5%) then runs `go tool minerbench gate -threshold $GATE`
# and exits with its status: 0 no significant regression beyond GATE, 1 a
# regression, 2 undecidable (too few runs, nothing in common). GATE_ARGS
# are more flags for it (e.g. GATE_ARGS='-metrics all').
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."
ref=${1:-HEAD}
shift || true
args=("$@")
read -r -a new_args <<<"${NEW_ARGS:-}"
read -r -a gate_args <<<"${GATE_ARGS:-}"
count=${COUNT:-8}
bench=${BENCH:-.}
out=$PWD
if [ -n "${OUT:-}" ]; then
	out=$(cd "$here" && mkdir -p -- "$OUT" && cd -- "$OUT" && pwd)
fi

rm -rf "$out/old.txt" "$out/new.txt" "$out/old-results" "$out/new-results"
git rev-parse --verify --quiet "$ref^{commit}" >/dev/null || {
	echo "compare.sh: $ref is not a commit" >&2
	exit 2
}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach --quiet "$work/old" "$ref"

# run SIDE DIR [FLAGS...] benchmarks the tree in DIR once with FLAGS and
# appends its output to $work/SIDE.txt, its histories to
# $work/results/SIDE; on failure it shows the output and exits.
run() {
	local side=$1 dir=$2 status=0
	shift 2
	(cd "$dir" && go test -run '^$' -bench "$bench" -count 1 -mb.results "$work/results/$side" "${args[@]}" "$@") >"$work/run.txt" || status=$?
	if [ "$status" -eq 0 ] && ! grep -q '^Benchmark' "$work/run.txt"; then
		status=1
		echo "compare.sh: the $side run printed no benchmark result" >&2
	fi
	if [ "$status" -ne 0 ]; then
		echo "compare.sh: the $side run ($dir) failed with exit status $status; its output:" >&2
		cat "$work/run.txt" >&2
		exit "$status"
	fi
	cat "$work/run.txt" >>"$work/$side.txt"
}

# Each pair of runs alternates which side goes first (old new, new old,
# ...), so that what changes with a run's place in its pair (the caches
# the other run left, a periodic load) falls on both sides alike.
for i in $(seq "$count"); do
	echo "run $i of $count" >&2
	if [ $((i % 2)) -eq 1 ]; then
		run old "$work/old"
		run new "$PWD" "${new_args[@]}"
	else
		run new "$PWD" "${new_args[@]}"
		run old "$work/old"
	fi
done
mkdir -p "$work/results/old" "$work/results/new"
mv "$work/results/old" "$out/old-results"
mv "$work/results/new" "$out/new-results"
mv "$work/old.txt" "$out/old.txt"
mv "$work/new.txt" "$out/new.txt"
go tool benchstat "old.txt=$out/old.txt" "new.txt=$out/new.txt"
echo >&2
echo "compare.sh: the report of both sides, each side's runs apart:" >&2
echo "  go tool minerbench report -o $out/report.html old=$out/old.txt new=$out/new.txt old=$out/old-results new=$out/new-results" >&2
if [ -n "${GATE:-}" ]; then
	echo >&2
	go tool minerbench gate -threshold "$GATE" "${gate_args[@]}" "old.txt=$out/old.txt" "new.txt=$out/new.txt"
fi
