#!/usr/bin/env bash
# Builds every miner under miners/ into bin/ (ignored by git), for running a
# miner by hand (bin/template -port 8091) or pointing a bench file at a
# prebuilt binary. The benchmarks do not need it: they build what they launch.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
for dir in miners/*/; do
	name=$(basename "$dir")
	[ -f "$dir/main.go" ] || continue
	go build -o "bin/$name" "./$dir"
	echo "bin/$name"
done
