#!/usr/bin/env bash
# Usage: scripts/compare.sh [REF] [go test flags...]
#
# Benchmarks REF (default HEAD) in a temporary git worktree and the working
# tree, interleaved run by run so that machine noise falls on both alike, and
# prints `go tool benchstat old new`. COUNT (default 6) sets how many runs of
# each; BENCH (default .) selects benchmarks. Extra arguments go to go test,
# e.g. scripts/compare.sh main -benchtime 200x -mb.miners noop
#
# GATE (e.g. GATE=5%) then runs `go tool minerbench gate -threshold $GATE`
# and exits with its status: 0 no significant regression beyond GATE, 1 a
# regression, 2 undecidable (too few runs, nothing in common).
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:-HEAD}
shift || true
count=${COUNT:-6}
bench=${BENCH:-.}

git rev-parse --verify --quiet "$ref^{commit}" >/dev/null || {
	echo "compare.sh: $ref is not a commit" >&2
	exit 2
}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach --quiet "$work/old" "$ref"

results=$(mktemp -d)
for i in $(seq "$count"); do
	echo "run $i of $count" >&2
	(cd "$work/old" && go test -run '^$' -bench "$bench" -count 1 -mb.results "$results/old" "$@") >>"$work/old.txt"
	go test -run '^$' -bench "$bench" -count 1 -mb.results "$results/new" "$@" >>"$work/new.txt"
done
rm -rf "$results"
cp "$work/old.txt" old.txt
cp "$work/new.txt" new.txt
go tool benchstat old.txt new.txt
if [ -n "${GATE:-}" ]; then
	echo >&2
	go tool minerbench gate -threshold "$GATE" old.txt new.txt
fi
