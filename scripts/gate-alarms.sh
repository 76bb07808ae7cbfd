#!/usr/bin/env bash
# Usage: scripts/gate-alarms.sh [go test flags...]
#
# Measures how often `go tool minerbench gate` fails when nothing changed,
# and that it still fails on a real regression. It runs scripts/compare.sh
# ROUNDS times (default 20) with HEAD on both sides, the same code (the
# working tree must be clean), and counts the gate's verdicts: every
# failure is a false alarm. Then it runs compare.sh REG_ROUNDS times
# (default 5) with the flaky miner on both sides, the new side answering
# each query DELAY later, and counts the rounds the gate caught. The flaky
# miner with no delay answers as noop does; set DELAY to a tenth of noop's
# p50 on the machine (benchstat's p50-sec of an A/A round) for a 10%
# regression. The default, 120us, is a tenth of noop's 1.1 ms on an idle
# 2-core Xeon; a sleep that short overshoots by tens of microseconds, so
# the regression each round measured is printed beside its verdict.
#
# COUNT (default 6) is the runs of each side per round, BENCH (default
# Standard) the benchmarks, GATE (default 5%) the gate's threshold; the go
# test flags default to -benchtime 200x -mb.miners noop for the A/A rounds.
# OUT (default a new temporary directory) keeps each round's files,
# aa-N/ and reg-N/, with old.txt, new.txt and each side's histories.
#
# The long measurement takes about ROUNDS × COUNT × 2 runs; a short one:
#
#	ROUNDS=4 REG_ROUNDS=2 scripts/gate-alarms.sh -benchtime 200x -mb.miners noop
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-20}
reg_rounds=${REG_ROUNDS:-5}
delay=${DELAY:-120us}
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
	NEW_ARGS="-mb.set flaky:flaky.latency=$delay" round "reg-$i" -benchtime 200x -mb.miners flaky || status=$?
	reg[$status]=$((${reg[$status]:-0} + 1))
done
echo
echo "A/A, the same code on both sides: ${aa[1]} of $rounds rounds failed the gate (false alarms), ${aa[2]} undecided, ${aa[0]} passed"
echo "flaky.latency=$delay on the new side: ${reg[1]} of $reg_rounds rounds failed the gate (caught), ${reg[2]} undecided, ${reg[0]} passed"
echo "each round's files and output: $out"
