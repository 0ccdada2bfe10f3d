"""Shared fixtures of the rvf Python tests."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import rvf

REPO = pathlib.Path(__file__).resolve().parents[3]
MINILM = REPO.parent / "shared" / "data" / "minilm-a"


def brute_force(vectors, q, metric):
    """Distances of q to every row, as rvf defines them (float64 reference)."""
    v = vectors.astype(np.float64)
    q = np.asarray(q, dtype=np.float64)
    if metric == "l2":
        return ((v - q) ** 2).sum(axis=1)
    if metric == "ip":
        return -(v @ q)
    norms = np.linalg.norm(v, axis=1) * np.linalg.norm(q)
    return 1.0 - (v @ q) / norms


def top_k(vectors, ids, q, k, metric):
    d = brute_force(vectors, q, metric)
    order = np.lexsort((ids, d))[:k]
    return ids[order], d[order]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def make_store(tmp_path, rng):
    """make_store(n, dim, metric) -> (store, vectors, ids); closed at teardown."""
    opened = []

    def make(n=200, dim=16, metric="l2", name="s.rvf", metadata=None, **kw):
        store = rvf.Store.create(tmp_path / name, dim, metric, **kw)
        opened.append(store)
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
        ids = np.arange(n, dtype=np.uint64) * 3 + 7
        if n:
            store.add(vectors, ids, metadata)
        return store, vectors, ids

    yield make
    for s in opened:
        s.close()


def run_python(code, *args, timeout=300):
    """Runs code in a fresh interpreter: a crash there (a signal) shows up as a return
    code instead of killing the test session."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
