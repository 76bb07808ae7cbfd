#!/usr/bin/env bash
# Usage: scripts/compare.sh [REF] [go test flags...]
#
# Benchmarks REF (default HEAD) in a temporary git worktree and the working
# tree, interleaved run by run so that machine noise falls on both alike, and
# prints `go tool benchstat old.txt new.txt`. COUNT (default 6) sets how many
# runs of each; BENCH (default .) selects benchmarks. Extra arguments go to go
# test, e.g. scripts/compare.sh main -benchtime 200x -mb.miners noop
#
# old.txt and new.txt of an earlier comparison are removed first; the new ones
# are written only when every run succeeded. A run that fails (a refused flag,
# a failed benchmark) or prints no result stops the script: its output is
# shown and the script exits with its status (1 for no result).
#
# GATE (e.g. GATE=5%) then runs `go tool minerbench gate -threshold $GATE`
# and exits with its status: 0 no significant regression beyond GATE, 1 a
# regression, 2 undecidable (too few runs, nothing in common).
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:-HEAD}
shift || true
args=("$@")
count=${COUNT:-6}
bench=${BENCH:-.}

rm -f old.txt new.txt
git rev-parse --verify --quiet "$ref^{commit}" >/dev/null || {
	echo "compare.sh: $ref is not a commit" >&2
	exit 2
}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach --quiet "$work/old" "$ref"

# run SIDE DIR benchmarks the tree in DIR once and appends its output to
# $work/SIDE.txt; on failure it shows the output and exits.
run() {
	local side=$1 dir=$2 status=0
	(cd "$dir" && go test -run '^$' -bench "$bench" -count 1 -mb.results "$work/results/$side" "${args[@]}") >"$work/run.txt" || status=$?
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

for i in $(seq "$count"); do
	echo "run $i of $count" >&2
	run old "$work/old"
	run new "$PWD"
done
mv "$work/old.txt" old.txt
mv "$work/new.txt" new.txt
go tool benchstat old.txt new.txt
if [ -n "${GATE:-}" ]; then
	echo >&2
	go tool minerbench gate -threshold "$GATE" old.txt new.txt
fi
