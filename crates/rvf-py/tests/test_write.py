"""add, get, ids and delete: numpy conversions, metadata, bad input."""

import tracemalloc

import numpy as np
import pytest

import rvf


def test_add_returns_counts_and_upserts(make_store, rng):
    s, v, ids = make_store(0, 4)
    r = s.add(np.eye(4, dtype=np.float32), [10, 11, 12, 13])
    assert (r.accepted, r.rejected) == (4, 0)
    assert r.ids.tolist() == [10, 11, 12, 13] and r.ids.dtype == np.uint64
    assert "accepted=4" in repr(r)
    r2 = s.add(np.full((1, 4), 2.0, dtype=np.float32), [11])
    assert r2.accepted == 1 and r2.epoch > r.epoch
    assert len(s) == 4
    np.testing.assert_array_equal(s.get(11)[0], [2, 2, 2, 2])


def test_rows_with_nan_or_inf_are_rejected(make_store):
    s, _, _ = make_store(0, 3)
    v = np.array([[1, 2, 3], [np.nan, 0, 0], [0, np.inf, 0], [4, 5, 6]], dtype=np.float32)
    r = s.add(v, [1, 2, 3, 4])
    assert (r.accepted, r.rejected) == (2, 2)
    assert s.ids().tolist() == [1, 4]


def test_repeated_id_last_row_wins(make_store):
    s, _, _ = make_store(0, 2)
    s.add(np.array([[1, 1], [2, 2], [3, 3]], dtype=np.float32), [5, 6, 5])
    assert s.ids().tolist() == [5, 6]
    np.testing.assert_array_equal(s.get(5)[0], [3, 3])


def test_generated_ids_follow_the_largest(make_store):
    s, _, _ = make_store(0, 2)
    assert s.add(np.ones((3, 2))).ids.tolist() == [0, 1, 2]
    s.add(np.ones((1, 2)), [100])
    assert s.add(np.ones((2, 2))).ids.tolist() == [101, 102]
    s.add(np.ones((1, 2)), [2**64 - 1])
    with pytest.raises(ValueError, match="2\\*\\*64-1"):
        s.add(np.ones((1, 2)))


def unaligned(a):
    """A float32 array whose data starts one byte past an aligned address."""
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)[1:]
    out = buf.view(np.float32).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a.astype(np.float64),
        lambda a: a.astype(np.float16).astype(np.float16),
        lambda a: np.asfortranarray(a),
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],  # strided view
        lambda a: a.tolist(),
        lambda a: a.astype(">f4"),  # big-endian
        lambda a: np.round(a * 10).astype(np.int32),
        lambda a: unaligned(a),
    ],
    ids=["float64", "float16", "fortran", "strided", "list", "big-endian", "int32", "unaligned"],
)
def test_other_layouts_and_dtypes_are_converted(tmp_path, rng, convert):
    base = rng.standard_normal((20, 5)).astype(np.float32)
    given = convert(base)
    expected = np.asarray(given, dtype=np.float32)
    with rvf.Store.create(tmp_path / "c.rvf", 5, "l2") as s:
        assert s.add(given, np.arange(20)).accepted == 20
        for i in (0, 7, 19):
            np.testing.assert_array_equal(s.get(i)[0], expected[i])
        # Queries go through the same conversion.
        ids, d = s.search(convert(base[3:4])[0] if not isinstance(given, list) else given[3], k=1)
        assert ids[0] == 3 and d[0] == 0


def test_float32_c_contiguous_input_is_not_copied(tmp_path, rng):
    v = rng.standard_normal((20000, 64)).astype(np.float32)  # 5 MB
    with rvf.Store.create(tmp_path / "z.rvf", 64, "l2", durability="on_close") as s:
        tracemalloc.start()
        s.add(v, np.arange(20000))
        _, zero_copy_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tracemalloc.start()
        s.add(v.astype(np.float64), np.arange(20000))
        _, converted_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert zero_copy_peak < v.nbytes / 10, zero_copy_peak
    # The check above can fail: a converted input does show a copy.
    assert converted_peak >= v.nbytes, converted_peak


@pytest.mark.parametrize(
    "vectors,exc,message",
    [
        (np.ones(4, dtype=np.float32), ValueError, r"2-D.*\(4,\)"),
        (np.ones((2, 3), dtype=np.float32), rvf.DimensionError, r"\(2, 3\).*dimension 4"),
        (np.ones((2, 4, 1), dtype=np.float32), ValueError, r"\(2, 4, 1\)"),
        (np.ones((2, 4), dtype=np.complex64), TypeError, "complex64"),
        (np.array([["a"] * 4]), TypeError, "<U1"),
        (np.ones((2, 4), dtype=bool), TypeError, "bool"),
        ([[1, 2], [3]], ValueError, None),
        ("abcd", TypeError, None),
        (None, TypeError, None),
    ],
)
def test_bad_vectors(make_store, vectors, exc, message):
    s, _, _ = make_store(3, 4)
    with pytest.raises(exc, match=message):
        s.add(vectors)
    assert len(s) == 3


def test_dimension_error_is_a_value_error_with_a_code(make_store):
    s, _, _ = make_store(1, 4)
    with pytest.raises(ValueError) as e:
        s.add(np.ones((1, 5)))
    assert isinstance(e.value, rvf.DimensionError) and isinstance(e.value, rvf.RvfError)
    assert e.value.code == "RVF_E_DIMENSION"


@pytest.mark.parametrize(
    "ids,exc",
    [
        ([1, 2], ValueError),  # wrong count
        ([-1, 2, 3], ValueError),
        ([1.5, 2, 3], TypeError),
        (["a", "b", "c"], TypeError),
        (np.arange(6).reshape(3, 2), ValueError),
        ([2**64, 1, 2], TypeError),
    ],
)
def test_bad_ids(make_store, ids, exc):
    s, _, _ = make_store(0, 2)
    with pytest.raises(exc):
        s.add(np.ones((3, 2)), ids)
    assert len(s) == 0


def test_ids_of_any_integer_dtype(make_store):
    s, _, _ = make_store(0, 2)
    s.add(np.ones((3, 2)), np.array([3, 1, 2], dtype=np.int8))
    odd = np.zeros(8 * 2 + 1, dtype=np.uint8)[1:].view(np.uint64)  # unaligned
    odd[:] = [8, 9]
    s.add(np.ones((2, 2)), odd)
    s.delete(odd)
    s.add(np.ones((1, 2)), np.array([2**64 - 2], dtype=np.uint64))
    assert s.ids().tolist() == [1, 2, 3, 2**64 - 2]


def test_metadata_types_roundtrip(make_store):
    s, _, _ = make_store(0, 2)
    meta = [
        {"i": -5, "f": 2.5, "s": "héllo", "b": True, "big": 2**63 - 1},
        None,
        {},
        {"np_int": np.int64(7), "np_float": np.float32(0.5)},
    ]
    s.add(np.ones((4, 2)), [1, 2, 3, 4], meta)
    assert s.get(1)[1] == meta[0]
    assert s.get(2)[1] == {} and s.get(3)[1] == {}
    m = s.get(4)[1]
    assert m == {"np_int": 7, "np_float": 0.5} and type(m["np_int"]) is int


@pytest.mark.parametrize(
    "meta,exc",
    [
        ([{"a": 1}], ValueError),  # one entry for two vectors
        ({"a": 1}, TypeError),  # not a list
        ([{"a": [1, 2]}, {}], TypeError),
        ([{"a": None}, {}], TypeError),
        ([{1: "x"}, {}], TypeError),
        (["x", {}], TypeError),
        ([{"a": 2**64}, {}], ValueError),
        ([{"k" * 2000: 1}, {}], rvf.InvalidArgumentError),
    ],
)
def test_bad_metadata(make_store, meta, exc):
    s, _, _ = make_store(0, 2)
    with pytest.raises(exc):
        s.add(np.ones((2, 2)), [1, 2], meta)
    assert len(s) == 0


def test_get_and_ids(make_store):
    s, v, ids = make_store(40, 8)
    assert s.ids().tolist() == sorted(ids.tolist())
    vec, meta = s.get(int(ids[5]))
    assert vec.dtype == np.float32 and vec.shape == (8,)
    np.testing.assert_array_equal(vec, v[5])
    assert meta == {}
    assert s.get(0) is None
    with pytest.raises(OverflowError):
        s.get(-1)
    with pytest.raises(TypeError):
        s.get("7")


def test_empty_batch(make_store):
    s, _, _ = make_store(2, 3)
    r = s.add(np.zeros((0, 3), dtype=np.float32))
    assert (r.accepted, r.rejected, len(r.ids)) == (0, 0, 0)
    assert len(s) == 2


def test_delete_by_ids(make_store):
    s, v, ids = make_store(10, 4)
    assert s.delete(ids[:3]) == 3
    assert s.delete([int(ids[0]), 999999]) == 0  # absent ids are ignored
    assert s.delete(int(ids[3])) == 1
    assert s.delete([]) == 0
    assert len(s) == 6
    assert s.get(int(ids[0])) is None
    # Adding a deleted id brings it back.
    s.add(v[:1], ids[:1])
    assert len(s) == 7 and s.get(int(ids[0])) is not None


def test_delete_where(make_store):
    meta = [{"n": i, "parity": "even" if i % 2 == 0 else "odd"} for i in range(20)]
    s, v, ids = make_store(20, 4, metadata=meta)
    assert s.delete(where={"parity": "odd", "n": {"$lt": 10}}) == 5
    assert len(s) == 15
    left = {s.get(int(i))[1]["n"] for i in s.ids()}
    assert left == set(range(20)) - {1, 3, 5, 7, 9}


def test_delete_argument_errors(make_store):
    s, _, ids = make_store(5, 2)
    with pytest.raises(TypeError):
        s.delete()
    with pytest.raises(TypeError):
        s.delete([1], where={"a": 1})
    with pytest.raises(ValueError, match="every vector"):
        s.delete(where={})
    with pytest.raises(ValueError):
        s.delete([-3])
    assert len(s) == 5


def test_frozen_store_refuses_writes(make_store):
    s, v, ids = make_store(5, 2)
    s.freeze()
    assert s.frozen
    for call in (lambda: s.add(v), lambda: s.delete([7]), lambda: s.compact()):
        with pytest.raises(rvf.FrozenError) as e:
            call()
        assert e.value.code == "RVF_E_FROZEN"
    assert len(s) == 5
