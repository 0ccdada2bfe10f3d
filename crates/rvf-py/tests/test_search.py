"""search: single queries and batches against a numpy brute force, on every metric."""

import numpy as np
import pytest

import rvf
from conftest import MINILM, top_k


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_single_query_matches_brute_force(make_store, rng, metric):
    s, v, ids = make_store(500, 24, metric)
    for q in rng.standard_normal((10, 24)).astype(np.float32):
        got_ids, got_d = s.search(q, k=7)
        want_ids, want_d = top_k(v, ids, q, 7, metric)
        assert got_ids.dtype == np.uint64 and got_d.dtype == np.float32
        assert got_ids.tolist() == want_ids.tolist()
        np.testing.assert_allclose(got_d, want_d, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_batch_equals_single_queries(make_store, rng, metric):
    s, v, ids = make_store(700, 16, metric)
    qs = rng.standard_normal((33, 16)).astype(np.float32)
    b_ids, b_d = s.search(qs, k=5)
    assert b_ids.shape == (33, 5) and b_d.shape == (33, 5)
    assert b_ids.dtype == np.uint64 and b_d.dtype == np.float32
    for i, q in enumerate(qs):
        one_ids, one_d = s.search(q, k=5)
        assert b_ids[i].tolist() == one_ids.tolist()
        np.testing.assert_array_equal(b_d[i], one_d)


def test_ties_sorted_by_id(make_store):
    s, _, _ = make_store(0, 2)
    s.add(np.ones((4, 2)), [9, 3, 7, 1])
    ids, d = s.search([1.0, 1.0], k=3)
    assert ids.tolist() == [1, 3, 7] and d.tolist() == [0, 0, 0]


def test_fewer_hits_than_k(make_store, rng):
    s, v, ids = make_store(4, 3)
    one_ids, one_d = s.search(v[0], k=10)
    assert len(one_ids) == 4 and len(one_d) == 4
    # Batch: k is capped at len(store) columns...
    b_ids, b_d = s.search(v[:2], k=10)
    assert b_ids.shape == (2, 4)
    assert np.isfinite(b_d).all()
    # ...and rows short of hits (here: a filter) are padded with MISSING_ID and +inf.
    s.add(np.zeros((1, 3)), [1000], [{"keep": True}])
    b_ids, b_d = s.search(v[:2], k=3, where={"keep": True})
    assert b_ids.shape == (2, 3)
    assert b_ids[:, 0].tolist() == [1000, 1000]
    assert (b_ids[:, 1:] == rvf.MISSING_ID).all()
    assert np.isinf(b_d[:, 1:]).all() and (b_d[:, 1:] > 0).all()


def test_k_zero_and_empty_store_and_empty_batch(make_store):
    s, v, _ = make_store(5, 3)
    ids, d = s.search(v[0], k=0)
    assert ids.shape == (0,) and d.shape == (0,)
    ids, d = s.search(v, k=0)
    assert ids.shape == (5, 0)
    ids, d = s.search(np.zeros((0, 3)), k=4)
    assert ids.shape == (0, 4)
    e, _, _ = make_store(0, 3, name="empty.rvf")
    ids, d = e.search(v[0], k=4)
    assert len(ids) == 0
    ids, d = e.search(v, k=4)
    assert ids.shape == (5, 0)


def test_huge_k_does_not_allocate_k(make_store):
    s, v, _ = make_store(6, 3)
    ids, d = s.search(v[:2], k=2**62)
    assert ids.shape == (2, 6)
    ids, _ = s.search(v[0], k=2**62)
    assert len(ids) == 6


@pytest.mark.parametrize(
    "q,exc,message",
    [
        (np.ones(5), rvf.DimensionError, r"\(5,\).*dimension 4"),
        (np.ones((2, 3)), rvf.DimensionError, r"\(2, 3\)"),
        (np.ones((1, 1, 4)), ValueError, r"1-D.*2-D"),
        (np.float32(1.0), ValueError, r"shape \(\)"),
        ([np.nan, 0, 0, 0], rvf.InvalidArgumentError, "non-finite"),
        (np.array([[0, 0, 0, 0], [np.inf, 0, 0, 0]]), rvf.InvalidArgumentError, "non-finite"),
        (np.ones(4, dtype=np.complex128), TypeError, "complex128"),
        ("abcd", TypeError, None),
    ],
)
def test_bad_queries(make_store, q, exc, message):
    s, _, _ = make_store(5, 4)
    with pytest.raises(exc, match=message):
        s.search(q)


def test_bad_k(make_store):
    s, v, _ = make_store(5, 4)
    with pytest.raises(ValueError, match="k must be"):
        s.search(v[0], k=-1)
    with pytest.raises(TypeError):
        s.search(v[0], k="3")


def test_exact_and_ef(make_store, rng):
    s, v, ids = make_store(100, 8)
    q = rng.standard_normal(8).astype(np.float32)
    s.build_index()
    assert s.index_status()["indexed_vectors"] == 100
    exact = s.search(q, k=5, exact=True)
    # A broad search of a small graph finds the exact neighbours, at exact distances.
    wide = s.search(q, k=5, ef=100)
    assert wide[0].tolist() == exact[0].tolist() and wide[1].tolist() == exact[1].tolist()
    with pytest.raises(ValueError, match="ef must be at least 1"):
        s.search(q, k=5, ef=0)


def test_a_store_without_index(tmp_path, rng):
    v = rng.standard_normal((50, 8)).astype(np.float32)
    with rvf.Store.create(tmp_path / "noix.rvf", 8, "l2", index=False) as s:
        s.add(v)
        assert s.index_status() is None
        s.build_index()
        assert s.index_status() is None
    with rvf.Store.open(tmp_path / "noix.rvf") as s:
        assert s.index_status() is None
    with pytest.raises(ValueError, match="m must be"):
        rvf.Store.create(tmp_path / "bad.rvf", 8, m=1)


@pytest.mark.skipif(not MINILM.exists(), reason="shared MiniLM data not present")
def test_minilm_against_ground_truth(tmp_path):
    v = np.load(MINILM / "minilm-a.npy")
    qs = np.load(MINILM / "minilm-a-queries.npy")[:200]
    gt = np.load(MINILM / "minilm-a-gt.npy")[:200, :10]
    with rvf.Store.create(tmp_path / "m.rvf", v.shape[1], "ip", durability="on_close") as s:
        assert s.add(v).accepted == len(v)  # generated ids 0..n-1 are the row numbers
        ids, d = s.search(qs, k=10)
        single = s.search(qs[0], k=10)
    hits = sum(len(set(ids[i].tolist()) & set(gt[i].tolist())) for i in range(len(gt)))
    # Exact search: only float rounding between our kernels and the reference may swap
    # neighbours at equal distance.
    assert hits / gt.size >= 0.999
    assert single[0].tolist() == ids[0].tolist()
    np.testing.assert_allclose(-d[:, 0], (v[ids[:, 0].astype(np.int64)] * qs).sum(1), rtol=1e-5)
