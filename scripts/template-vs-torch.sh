#!/usr/bin/env bash
# Usage: scripts/template-vs-torch.sh [ROUNDS]
#
# Times one forward of the template's model in Go (BenchmarkForward of
# miners/template/nucleus, one core) and in PyTorch (scripts/template-torch.py
# time, one thread) at the original's width and defaults, for [1, 1], [10, 10]
# and [32, 32], in ROUNDS (default 5) interleaved rounds so that machine noise
# falls on both alike, and prints Go's time over torch's: the median of the
# per-round ratios and their range. The raw results stay in torch.txt and
# go.txt.
#
# Needs a python3 with torch (Debian's python3-torch); PYTHON names another.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for torch's runs, so that
# OpenBLAS picks its kernel for this processor; torch.txt names the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}

python=${PYTHON:-}
if [ -z "$python" ]; then
	for p in python3 /usr/bin/python3; do
		if "$p" -c 'import torch' 2>/dev/null; then
			python=$p
			break
		fi
	done
fi
if [ -z "$python" ]; then
	echo "template-vs-torch.sh: no python3 with torch found; install python3-torch or set PYTHON" >&2
	exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/nucleus.test" ./miners/template/nucleus
: >torch.txt
: >go.txt
for i in $(seq "$rounds"); do
	echo "round $i of $rounds" >&2
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
		"$python" scripts/template-torch.py time >>torch.txt
	GOMAXPROCS=1 "$work/nucleus.test" -test.run '^$' -test.bench '^BenchmarkForward$' \
		-test.benchmem -test.cpu 1 -test.benchtime 1s >>go.txt
done
grep -m1 '^openblas-core:' torch.txt || true
"$python" scripts/template-torch.py ratios torch.txt go.txt
