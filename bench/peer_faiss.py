#!/usr/bin/env python3
"""faiss peer of the RVF benchmarks (run through bench/run_peer.sh).

Runs the same workloads as `cargo run --release -p rvf-bench` on the same files and prints
one JSON object per line on stdout; progress goes to stderr. Subcommands:

  info                      versions, faiss build options, BLAS/OpenMP libraries in use
  search  --name ...        single-query latency (1 thread) and one 2-thread batch search
  ingest  --base ...        IndexFlatL2.add throughput
  hnsw    --base ...        hnswlib (the ANN peer): build time and bytes, then recall@10
                            and queries/s of single queries on 1 thread over a list of ef

Dataset files are either .npy (numpy.load) or raw little-endian float32 rows (.f32).
"""

import argparse
import json
import os
import statistics
import sys
import time

import faiss
import numpy as np
import threadpoolctl


def log(msg):
    print(f"[peer] {msg}", file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


def load(path, dim):
    if path.endswith(".npy"):
        data = np.load(path)
    else:
        data = np.fromfile(path, dtype="<f4").reshape(-1, dim)
    return np.ascontiguousarray(data, dtype=np.float32)


def cmd_info(_args):
    blas = [
        {k: lib.get(k) for k in ("internal_api", "prefix", "version", "threading_layer", "architecture", "num_threads")}
        for lib in threadpoolctl.threadpool_info()
    ]
    emit(
        {
            "kind": "info",
            "faiss": faiss.__version__,
            "faiss_build": faiss.get_compile_options().strip(),
            "numpy": np.__version__,
            "threadpoolctl": threadpoolctl.__version__,
            "libraries": blas,
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        }
    )


def make_index(metric, dim):
    if metric == "ip":
        return faiss.IndexFlatIP(dim)
    if metric == "l2":
        return faiss.IndexFlatL2(dim)
    raise SystemExit(f"unknown metric {metric}")


def cmd_search(args):
    base = load(args.base, args.dim)
    queries = load(args.queries, args.dim)
    log(f"{args.name}: {base.shape[0]}x{args.dim} base, {queries.shape[0]} queries, {args.metric}")
    index = make_index(args.metric, args.dim)
    index.add(base)
    del base

    # Single queries, one OpenMP thread and one BLAS thread, one search call per query.
    faiss.omp_set_num_threads(1)
    single = queries[: args.single]
    ids = np.zeros((single.shape[0], args.k), dtype=np.int64)
    with threadpoolctl.threadpool_limits(limits=1):
        for i in range(min(args.warmup, single.shape[0])):
            index.search(single[i : i + 1], args.k)
        times = []
        for i in range(single.shape[0]):
            q = single[i : i + 1]
            t0 = time.perf_counter()
            _, found = index.search(q, args.k)
            times.append(time.perf_counter() - t0)
            ids[i] = found[0]
    ids.tofile(args.ids_out)
    emit(
        {
            "kind": "search_single",
            "name": args.name,
            "queries": len(times),
            "mean_s": statistics.fmean(times),
            "median_s": statistics.median(times),
        }
    )

    # One search call holding the whole batch, `--threads` OpenMP and BLAS threads.
    batch = queries[: args.batch]
    faiss.omp_set_num_threads(args.threads)
    totals = []
    with threadpoolctl.threadpool_limits(limits=args.threads):
        for _ in range(args.batch_reps):
            t0 = time.perf_counter()
            index.search(batch, args.k)
            totals.append(time.perf_counter() - t0)
    seconds = statistics.median(totals)
    emit(
        {
            "kind": "search_batch",
            "name": args.name,
            "queries": batch.shape[0],
            "threads": args.threads,
            "reps": len(totals),
            "seconds": seconds,
            "qps": batch.shape[0] / seconds,
        }
    )


def cmd_ingest(args):
    base = load(args.base, args.dim)
    n = base.shape[0]
    totals = []
    for rep in range(args.reps):
        index = faiss.IndexFlatL2(args.dim)
        t0 = time.perf_counter()
        for start in range(0, n, args.batch):
            index.add(base[start : start + args.batch])
        totals.append(time.perf_counter() - t0)
        assert index.ntotal == n
        del index
        log(f"ingest rep {rep + 1}/{args.reps}: {totals[-1]:.3f} s")
    seconds = statistics.median(totals)
    emit({"kind": "ingest", "vectors": n, "reps": len(totals), "seconds": seconds, "vps": n / seconds})


def cmd_hnsw(args):
    import tempfile

    import hnswlib

    base = load(args.base, args.dim)
    queries = load(args.queries, args.dim)[: args.nq]
    truth = np.fromfile(args.truth, dtype="<u8").reshape(-1, args.k)[: len(queries)]
    n = base.shape[0]
    index = hnswlib.Index(space=args.metric, dim=args.dim)
    index.init_index(max_elements=n, ef_construction=args.efc, M=args.m)
    index.set_num_threads(args.threads)
    t0 = time.perf_counter()
    index.add_items(base, np.arange(n))
    build = time.perf_counter() - t0
    log(f"hnswlib built {n} in {build:.1f} s")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "index.bin")
        index.save_index(path)
        size = os.path.getsize(path)
    emit({"kind": "hnsw_build", "seconds": build, "bytes": size, "vectors": n, "hnswlib": hnswlib.__version__ if hasattr(hnswlib, "__version__") else "0.8.0"})
    index.set_num_threads(1)
    for ef in args.efs:
        index.set_ef(max(ef, args.k))
        for q in queries[: args.warmup]:
            index.knn_query(q.reshape(1, -1), k=args.k)
        hits = 0
        t0 = time.perf_counter()
        found = []
        for q in queries:
            labels, _ = index.knn_query(q.reshape(1, -1), k=args.k)
            found.append(labels[0])
        secs = time.perf_counter() - t0
        for row, want in zip(found, truth):
            hits += len(set(int(x) for x in row) & set(int(x) for x in want))
        recall = hits / (args.k * len(queries))
        emit({"kind": "hnsw_point", "ef": ef, "recall": recall, "qps": len(queries) / secs})
        log(f"hnswlib ef {ef}: recall {recall:.4f}, {len(queries) / secs:.0f} q/s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info")

    s = sub.add_parser("search")
    s.add_argument("--name", required=True)
    s.add_argument("--base", required=True)
    s.add_argument("--queries", required=True)
    s.add_argument("--dim", type=int, required=True)
    s.add_argument("--metric", choices=["l2", "ip"], required=True)
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--single", type=int, default=200)
    s.add_argument("--warmup", type=int, default=5)
    s.add_argument("--batch", type=int, default=1000)
    s.add_argument("--batch-reps", type=int, default=3)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--ids-out", required=True, help="raw int64 top-k ids of the single queries")

    g = sub.add_parser("ingest")
    g.add_argument("--base", required=True)
    g.add_argument("--dim", type=int, required=True)
    g.add_argument("--batch", type=int, default=100_000)
    g.add_argument("--reps", type=int, default=3)

    h = sub.add_parser("hnsw")
    h.add_argument("--base", required=True)
    h.add_argument("--queries", required=True)
    h.add_argument("--truth", required=True, help="raw u64 exact top-k ids per query")
    h.add_argument("--dim", type=int, required=True)
    h.add_argument("--metric", choices=["l2", "ip"], required=True)
    h.add_argument("--k", type=int, default=10)
    h.add_argument("--nq", type=int, default=1000)
    h.add_argument("--m", type=int, default=16)
    h.add_argument("--efc", type=int, default=200)
    h.add_argument("--threads", type=int, default=2)
    h.add_argument("--warmup", type=int, default=20)
    h.add_argument("--efs", type=int, nargs="+", required=True)

    args = parser.parse_args()
    {"info": cmd_info, "search": cmd_search, "ingest": cmd_ingest, "hnsw": cmd_hnsw}[args.cmd](args)


if __name__ == "__main__":
    main()
