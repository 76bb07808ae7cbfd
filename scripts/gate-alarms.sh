#!/usr/bin/env bash
# Usage: scripts/gate-alarms.sh [go test flags...]
#
# Measures how often `go tool minerbench gate` fails when nothing changed,
# and that it still fails on a real regression. It runs scripts/compare.sh
# ROUNDS times (default 20) with HEAD on both sides, the same code (the
# working tree must be clean), and counts the gate's verdicts: every
# failure is a false alarm. Then it runs compare.sh REG_ROUNDS times
# (default 5) with the flaky miner on both sides, the old side answering
# each query after BASE (flaky.latency, default 9ms), the new side after
# SLOW (default 10ms): about 10% more on the p50, and counts the rounds the
# gate caught. Whole milliseconds, because short sleeps are not what they
# ask on a busy machine: there, 120us added about 1 ms to noop's 0.42 ms,
# and 2.2ms took about 1 ms longer than 2ms. The p50 change each round
# measured is printed beside its verdict.
#
# COUNT (default 6) is the runs of each side per round, BENCH (default
# Standard) the benchmarks, GATE (default 5%) the gate's threshold; the go
# test flags default to -benchtime 200x -mb.miners noop for the A/A rounds.
# OUT (default a new temporary directory) keeps each round's files,
# aa-N/ and reg-N/, with old.txt, new.txt and each side's histories.
#
# The long measurement takes about ROUNDS × COUNT × 2 runs; a short one:
#
#	ROUNDS=4 REG_ROUNDS=3 scripts/gate-alarms.sh -benchtime 200x -mb.miners noop
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-20}
reg_rounds=${REG_ROUNDS:-5}
base=${BASE:-9ms}
slow=${SLOW:-10ms}
export COUNT=${COUNT:-6} BENCH=${BENCH:-Standard} GATE=${GATE:-5%}
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
	args=(-benchtime 200x -mb.miners noop)
fi
if ! git diff --quiet HEAD --; then
	echo "gate-alarms.sh: the working tree differs from HEAD: commit or stash first, so that both sides run the same code" >&2
	exit 2
fi
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"

# round NAME [go test flags...] runs compare.sh into $out/NAME and prints
# benchstat's p50 change and the gate's status and verdict line.
round() {
	local name=$1 status=0
	shift
	OUT="$out/$name" scripts/compare.sh HEAD "$@" >"$out/$name.log" 2>&1 || status=$?
	echo "$name: p50: $(awk '/p50-sec/ { table = 1; next } table && /^Standard/ { print $(NF-2), $(NF-1), $NF; exit }' "$out/$name.log")"
	echo "$name: gate exit $status: $(grep '^gate: ' "$out/$name.log" | tail -1)"
	return "$status"
}

declare -A aa=([0]=0 [1]=0 [2]=0)
for i in $(seq "$rounds"); do
	status=0
	round "aa-$i" "${args[@]}" || status=$?
	aa[$status]=$((${aa[$status]:-0} + 1))
done
declare -A reg=([0]=0 [1]=0 [2]=0)
for i in $(seq "$reg_rounds"); do
	status=0
	NEW_ARGS="-mb.set flaky:flaky.latency=$slow" round "reg-$i" -benchtime 200x -mb.miners flaky -mb.set "flaky:flaky.latency=$base" || status=$?
	reg[$status]=$((${reg[$status]:-0} + 1))
done
echo
echo "A/A, the same code on both sides: ${aa[1]} of $rounds rounds failed the gate (false alarms), ${aa[2]} undecided, ${aa[0]} passed"
echo "flaky.latency=$base on the old side, $slow on the new: ${reg[1]} of $reg_rounds rounds failed the gate (caught), ${reg[2]} undecided, ${reg[0]} passed"
echo "each round's files and output: $out"
