#!/usr/bin/env python3
"""The rvf Python package against faiss and usearch, all called from Python, on MiniLM.

Run through bench/run_python_bench.sh (it builds the venv, the wheel and the Rust
timing example). Workloads, on ../shared/data/minilm-a (50,000 x 384, inner product;
the vectors are L2-normalised) with k=10, every search exact:

  single    1,000 queries, one call each, 1 thread    (rvf Store.search, faiss
            IndexFlatIP.search, usearch.index.search(..., exact=True))
  batch     the 1,000 queries in one call, one thread per core (rvf's batch search
            uses every core; faiss and usearch are given the same count)
  overhead  Store.search on a 100-vector store from Python, against RvfStore::query on
            the same file from Rust (examples/query_overhead.rs), in blocks of 1,000
            calls: the difference is what the binding adds per call

The systems take turns inside each round, the first one alternating between rounds;
the report gives the median over rounds of each figure and the ratios of those medians.
It prints a Markdown report on stdout (progress on stderr).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import faiss
import numpy as np
import threadpoolctl
import usearch
from usearch.index import MetricKind
from usearch.index import search as usearch_search

import rvf

K = 10


def log(msg):
    print(f"[python-bench] {msg}", file=sys.stderr, flush=True)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def recall(found, gt):
    hits = sum(len(set(f.tolist()) & set(g.tolist())) for f, g in zip(found, gt))
    return hits / gt.size


class Rvf:
    name = "rvf"

    def __init__(self, vectors, path):
        self.store = rvf.Store.create(path, vectors.shape[1], "ip", durability="on_close")
        self.store.add(vectors)  # ids 0..n-1 = row numbers, as in the ground truth

    def single(self, q):
        # exact=True: the peers scan too (the ANN index is measured by rvf-bench ann).
        return self.store.search(q, k=K, exact=True)[0]

    def batch(self, qs, threads):
        # Store.search runs a batch on one thread per core (`threads` of the peers).
        return self.store.search(qs, k=K, exact=True)[0]


class Faiss:
    name = "faiss"

    def __init__(self, vectors):
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def single(self, q):
        return self.index.search(q[None, :], K)[1][0]

    def batch(self, qs, threads):
        return self.index.search(qs, K)[1]


class Usearch:
    name = "usearch"

    def __init__(self, vectors):
        self.vectors = vectors

    def single(self, q):
        return usearch_search(self.vectors, q, K, MetricKind.IP, exact=True, threads=1).keys

    def batch(self, qs, threads):
        return usearch_search(self.vectors, qs, K, MetricKind.IP, exact=True, threads=threads).keys


def with_threads(n, fn):
    faiss.omp_set_num_threads(n)
    with threadpoolctl.threadpool_limits(n):
        return fn()


def time_single(system, queries):
    def run():
        out = []
        t = time.perf_counter()
        for q in queries:
            out.append(system.single(q))
        return time.perf_counter() - t, out

    return with_threads(1, run)


def time_batch(system, queries, threads):
    def run():
        t = time.perf_counter()
        out = system.batch(queries, threads)
        return time.perf_counter() - t, out

    return with_threads(threads, run)


def python_overhead_blocks(store, queries, calls, block=1000):
    """Mean µs per Store.search call of each block of 1,000 calls (after a warm-up)."""
    out = []
    for b in range(calls // block + 1):
        t = time.perf_counter()
        for i in range(block):
            store.search(queries[(b * block + i) % len(queries)], k=K)
        if b > 0:
            out.append((time.perf_counter() - t) * 1e6 / block)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "minilm-a"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--overhead-calls", type=int, default=20000)
    ap.add_argument("--overhead-bin", required=True, help="the release query_overhead example")
    args = ap.parse_args()
    args.threads = len(os.sched_getaffinity(0))  # what rvf's batch search uses

    vectors = np.ascontiguousarray(np.load(os.path.join(args.data, "minilm-a.npy")), dtype=np.float32)
    queries = np.ascontiguousarray(np.load(os.path.join(args.data, "minilm-a-queries.npy")), dtype=np.float32)
    gt = np.load(os.path.join(args.data, "minilm-a-gt.npy"))[:, :K]
    log(f"{vectors.shape[0]} x {vectors.shape[1]} vectors, {len(queries)} queries, {args.rounds} rounds")

    with tempfile.TemporaryDirectory() as tmp:
        systems = [Rvf(vectors, os.path.join(tmp, "minilm.rvf")), Faiss(vectors), Usearch(vectors)]
        times = {(s.name, w): [] for s in systems for w in ("single", "batch")}
        recalls = {}
        for r in range(args.rounds):
            order = systems if r % 2 == 0 else systems[1:] + systems[:1]
            for s in order:
                secs, found = time_single(s, queries)
                times[(s.name, "single")].append(secs)
                recalls[(s.name, "single")] = recall(found, gt)
                secs, found = time_batch(s, queries, args.threads)
                times[(s.name, "batch")].append(secs)
                recalls[(s.name, "batch")] = recall(found, gt)
            log(f"round {r + 1}: " + ", ".join(f"{n}/{w} {min(v):.3f}s" for (n, w), v in times.items()))

        # Binding overhead: a 100-vector store, so the scan itself is small.
        tiny_path = os.path.join(tmp, "tiny.rvf")
        with rvf.Store.create(tiny_path, vectors.shape[1], "ip") as tiny:
            tiny.add(vectors[:100])
        tiny = rvf.Store.open(tiny_path, read_only=True)
        tiny_queries = [tiny.get(int(i))[0] for i in tiny.ids()]
        py_blocks, rust_blocks = [], []
        for r in range(args.rounds):
            steps = ["py", "rust"] if r % 2 == 0 else ["rust", "py"]
            for step in steps:
                if step == "py":
                    py_blocks.append(statistics.median(python_overhead_blocks(tiny, tiny_queries, args.overhead_calls)))
                else:
                    out = subprocess.run(
                        [args.overhead_bin, tiny_path, str(args.overhead_calls)],
                        check=True, capture_output=True, text=True,
                    ).stdout
                    rust_blocks.append(statistics.median(json.loads(out)["block_us_per_call"]))
            log(f"overhead round {r + 1}: python {py_blocks[-1]:.2f} µs, rust {rust_blocks[-1]:.2f} µs")
        tiny.close()

    med = {key: statistics.median(v) for key, v in times.items()}
    py_us, rust_us = statistics.median(py_blocks), statistics.median(rust_blocks)
    # Overhead per round (same round's Python and Rust figures), then the median.
    per_round = [p - q for p, q in zip(py_blocks, rust_blocks)]

    n = len(queries)
    print(f"machine: {cpu_model()}, nproc {os.cpu_count()}; Python {platform.python_version()}, "
          f"numpy {np.__version__}, rvf {rvf.__version__}, faiss {faiss.__version__}, usearch {usearch.__version__}")
    print(f"data: minilm-a {vectors.shape[0]} x {vectors.shape[1]}, {n} queries, k={K}, inner product, "
          f"exact; {args.rounds} rounds, medians; batch threads {args.threads}")
    print()
    print("| workload | rvf | faiss IndexFlatIP | usearch exact | rvf / faiss | rvf / usearch |")
    print("|---|---|---|---|---|---|")
    for w, label in (("single", f"{n} single queries, 1 thread (µs/query)"),
                     ("batch", f"one batch of {n}, {args.threads} threads (ms)")):
        scale = 1e6 / n if w == "single" else 1e3
        cells = [f"{med[(s, w)] * scale:.0f}" if w == "single" else f"{med[(s, w)] * scale:.1f}"
                 for s in ("rvf", "faiss", "usearch")]
        ratios = [f"{med[('rvf', w)] / med[(p, w)]:.2f}×" for p in ("faiss", "usearch")]
        print(f"| {label} | " + " | ".join(cells + ratios) + " |")
    print()
    print("recall@10 against the ground truth (exactness check): " + ", ".join(
        f"{s}/{w} {recalls[(s, w)]:.4f}" for s in ("rvf", "faiss", "usearch") for w in ("single", "batch")))
    print()
    print(f"binding overhead, k={K} on a 100 x {vectors.shape[1]} store ({args.overhead_calls} calls per round):"
          f" Store.search from Python {py_us:.2f} µs/call, RvfStore::query from Rust {rust_us:.2f} µs/call;"
          f" difference per round: median {statistics.median(per_round):.2f} µs"
          f" (range {min(per_round):.2f}–{max(per_round):.2f})")
    print()
    print("raw seconds per round: " + json.dumps({f"{n_}/{w}": [round(x, 4) for x in v] for (n_, w), v in times.items()}))
    print("overhead µs/call per round: " + json.dumps({"python": [round(x, 3) for x in py_blocks],
                                                      "rust": [round(x, 3) for x in rust_blocks]}))


if __name__ == "__main__":
    main()
