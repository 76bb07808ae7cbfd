#!/usr/bin/env python3
"""The template miner's serving path in PyTorch, for the Go template to match.

Bittensor 2.0.4's template miner answers a forward request with
nucleus.forward(inputs, is_inference=True): the token embedding times
sqrt(network_dim), the positional encoding, the routing encoder and the student
encoder under a causal mask, times sqrt(network_dim). This script builds that
path with torch.nn, at any width, from the original's code, and:

  fixture DIR   writes a small model's weights, a batch of token ids and its
                outputs to DIR/torch.json and DIR/torch.bin, which the Go test
                TestMatchesTorch reads (run from the repository root:
                scripts/template-torch.py fixture miners/template/nucleus/testdata)
  time          times one forward on one thread at the original's width and
                defaults for [1, 1], [10, 10] and [32, 32], printed as Go
                benchmark lines (BenchmarkTorchForward/batch=B/seq=S, with
                ns/op of wall time and cpu-ns/op of the process's CPU time)
  ratios T G    reads the output of `time` (file T) and of the Go
                BenchmarkForward (file G), both from interleaved rounds, and
                prints Go's time over torch's per shape, wall time and CPU
                time: the median and the range of the per-round ratios

Needs Debian's python3-torch (torch 1.13) or any torch with the same
nn.TransformerEncoderLayer.
"""

import json
import math
import os
import re
import statistics
import struct
import sys
import time

VOCAB_SIZE = 50378  # bittensor.__vocab_size__
NETWORK_DIM = 1024  # bittensor.__network_dim__


def torch_modules():
    import torch
    from torch import nn

    class PositionalEncoding(nn.Module):
        """As the original's: sin and cos of position·div_term, then dropout."""

        def __init__(self, d_model, dropout, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(1, max_len, d_model)
            pe[0, :, 0::2] = torch.sin(position * div_term)
            pe[0, :, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[0, : x.size(1)]
            return self.dropout(x)

    class Serving(nn.Module):
        """The original nucleus's modules on its serving path, at width d."""

        def __init__(self, d, nhead, nhid, dropout, student_nhead, student_nhid, student_nlayers, student_dropout):
            super().__init__()
            self.d = d
            self.token_embedding = nn.Embedding(VOCAB_SIZE, d)
            self.routing_encoder_layers = nn.TransformerEncoderLayer(d, nhead, nhid, dropout, batch_first=True)
            self.routing_encoder = nn.TransformerEncoder(self.routing_encoder_layers, 1)
            self.student_layers = nn.TransformerEncoderLayer(
                d, student_nhead, student_nhid, student_dropout, batch_first=True
            )
            self.student = nn.TransformerEncoder(self.student_layers, student_nlayers)
            self.local_pos_encoder = PositionalEncoding(d, dropout)

        def forward(self, inputs):
            # The lines of nucleus.forward that run when is_inference is True.
            embedding = self.token_embedding(inputs) * math.sqrt(self.d)
            src_mask = torch.triu(torch.ones(embedding.size(1), embedding.size(1)) * float("-inf"), diagonal=1)
            pos_embedding = self.local_pos_encoder(embedding)
            routing_context = self.routing_encoder(pos_embedding, mask=src_mask)
            return self.student(routing_context.detach(), mask=src_mask) * math.sqrt(self.d)

    return torch, Serving


def fixture(out_dir):
    torch, Serving = torch_modules()
    torch.manual_seed(2004)
    cfg = dict(
        d=24, nhead=2, nhid=20, dropout=0.2, student_nhead=3, student_nhid=28, student_nlayers=2, student_dropout=0.2
    )
    model = Serving(**cfg).eval()
    # Torch starts with zero attention biases, identity layer norms and equal
    # student layers; draw every parameter so the test covers each of them.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("token_embedding"):
                continue
            if name.endswith("norm1.weight") or name.endswith("norm2.weight"):
                p.uniform_(0.5, 1.5)
            elif name.endswith("bias"):
                p.uniform_(-0.2, 0.2)
            else:
                bound = 1.5 / math.sqrt(p.shape[1])
                p.uniform_(-bound, bound)
    batch, seq = 3, 7
    tokens = torch.randint(0, VOCAB_SIZE, (batch, seq))
    tokens[0, 0], tokens[2, 6] = 0, VOCAB_SIZE - 1
    tokens[1, 3] = tokens[1, 1]  # one token twice in a row of the batch
    with torch.no_grad():
        out = model(tokens)

    ids = sorted(set(tokens.flatten().tolist()))
    tensors = {"embedding": model.token_embedding.weight[ids]}
    for name, p in model.named_parameters():
        if name.startswith(("routing_encoder.layers.", "student.layers.")):
            tensors[name] = p
    tensors["output"] = out

    index, blob = {}, bytearray()
    for name, t in tensors.items():
        values = t.detach().contiguous().flatten().tolist()
        index[name] = {"shape": list(t.shape), "offset": len(blob) // 4}
        blob += struct.pack("<%df" % len(values), *values)
    meta = {
        "torch": torch.__version__,
        "config": cfg,
        "batch": batch,
        "seq": seq,
        "tokens": tokens.flatten().tolist(),
        "embedding_ids": ids,
        "tensors": index,
    }
    with open(os.path.join(out_dir, "torch.bin"), "wb") as f:
        f.write(bytes(blob))
    with open(os.path.join(out_dir, "torch.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def openblas_core():
    """The OpenBLAS kernel torch's BLAS calls run, when it is OpenBLAS."""
    import ctypes

    for lib in ("libopenblas.so.0", "libopenblasp.so.0"):
        try:
            blas = ctypes.CDLL(lib)
        except OSError:
            continue
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return blas.openblas_get_corename().decode()
    return "none"


def timing():
    torch, Serving = torch_modules()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Serving(NETWORK_DIM, 2, 200, 0.2, 2, 200, 2, 0.2).eval()
    print("pkg: torch")
    print("torch: %s" % torch.__version__)
    print("openblas-core: %s" % openblas_core())
    print("torch-threads: %d" % torch.get_num_threads())
    for batch, seq in ((1, 1), (10, 10), (32, 32)):
        tokens = torch.randint(0, VOCAB_SIZE, (batch, seq))
        with torch.inference_mode():
            for _ in range(3):
                model(tokens)
            n, elapsed = 0, 0.0
            start, cpu = time.perf_counter(), time.process_time()
            while elapsed < 1.0 or n < 3:
                model(tokens)
                n += 1
                elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
        print(
            "BenchmarkTorchForward/batch=%d/seq=%d \t%d\t%.0f ns/op\t%.0f cpu-ns/op"
            % (batch, seq, n, elapsed / n * 1e9, cpu / n * 1e9),
            flush=True,
        )


def ratios(torch_file, go_file):
    name = re.compile(r"^Benchmark(?:Torch)?Forward/(batch=\d+/seq=\d+)(?:-\d+)?\s+\d+\s")
    metric = re.compile(r"([\d.]+) (ns/op|cpu-ns/op)")

    def read(path):
        runs = {}
        with open(path) as f:
            for text in f:
                m = name.match(text)
                if m:
                    for value, unit in metric.findall(text):
                        runs.setdefault((m.group(1), unit), []).append(float(value))
        return runs

    torch_runs, go_runs = read(torch_file), read(go_file)
    print("%-16s %-10s %10s %10s %9s  %s" % ("shape", "time", "torch ms", "go ms", "go/torch", "range of the per-round ratios"))
    for (shape, unit), t in torch_runs.items():
        g = go_runs.get((shape, unit), [])
        n = min(len(t), len(g))
        if n == 0:
            continue
        r = [g[i] / t[i] for i in range(n)]
        print(
            "%-16s %-10s %10.2f %10.2f %9.2f  %.2f-%.2f"
            % (
                shape,
                "wall" if unit == "ns/op" else "cpu",
                statistics.median(t) / 1e6,
                statistics.median(g) / 1e6,
                statistics.median(r),
                min(r),
                max(r),
            )
        )


def main(args):
    if args[:1] == ["fixture"] and len(args) == 2:
        fixture(args[1])
    elif args == ["time"]:
        timing()
    elif args[:1] == ["ratios"] and len(args) == 3:
        ratios(args[1], args[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
