"""where= filters: dicts converted to FilterExpr, checked against a Python predicate."""

import numpy as np
import pytest

import rvf

LANGS = ["en", "de", "fr"]


@pytest.fixture
def store(make_store):
    meta = []
    for i in range(120):
        m = {"lang": LANGS[i % 3], "year": 2000 + i % 30, "score": i / 10, "draft": i % 4 == 0}
        if i % 5 == 0:
            del m["year"]  # some vectors lack a field
        meta.append(m)
    s, v, ids = make_store(120, 8, metadata=meta)
    return s, v, ids, meta


CASES = [
    ({"lang": "en"}, lambda m: m["lang"] == "en"),
    ({"lang": {"$eq": "de"}}, lambda m: m["lang"] == "de"),
    ({"lang": {"$ne": "de"}}, lambda m: m["lang"] != "de"),
    ({"year": {"$gte": 2020}}, lambda m: "year" in m and m["year"] >= 2020),
    ({"year": {"$gt": 2020, "$lt": 2025}}, lambda m: "year" in m and 2020 < m["year"] < 2025),
    ({"year": {"$lte": 2003}}, lambda m: "year" in m and m["year"] <= 2003),
    ({"score": {"$lt": 3}}, lambda m: m["score"] < 3),
    ({"score": {"$gte": 2.5}, "draft": False}, lambda m: m["score"] >= 2.5 and not m["draft"]),
    ({"lang": {"$in": ["fr", "de"]}}, lambda m: m["lang"] in ("fr", "de")),
    ({"lang": {"$in": []}}, lambda m: False),
    ({"year": {"$not": {"$gte": 2010}}}, lambda m: not ("year" in m and m["year"] >= 2010)),
    ({"$not": {"lang": "en"}}, lambda m: m["lang"] != "en"),
    ({"$or": [{"lang": "en"}, {"draft": True}]}, lambda m: m["lang"] == "en" or m["draft"]),
    (
        {"$and": [{"lang": "fr"}, {"$or": [{"year": 2001}, {"score": {"$gt": 10}}]}]},
        lambda m: m["lang"] == "fr" and (m.get("year") == 2001 or m["score"] > 10),
    ),
    ({"missing": 1}, lambda m: False),
    ({"missing": {"$ne": 1}}, lambda m: False),  # a comparison with an absent field is false
    ({"year": "2001"}, lambda m: False),  # a string never equals a number
    ({"score": 3}, lambda m: m["score"] == 3),  # int and float compare numerically
    ({}, lambda m: True),
]


@pytest.mark.parametrize("where,predicate", CASES)
def test_dict_filters_single_and_batch(store, rng, where, predicate):
    s, v, ids, meta = store
    want = {int(ids[i]) for i, m in enumerate(meta) if predicate(m)}
    q = rng.standard_normal(8).astype(np.float32)
    got, _ = s.search(q, k=200, where=where)
    assert set(got.tolist()) == want
    b, _ = s.search(np.stack([q, q]), k=200, where=where)
    assert set(b[0].tolist()) - {rvf.MISSING_ID} == want


def test_filtered_results_are_the_nearest_matches(store, rng):
    s, v, ids, meta = store
    keep = np.array([m["lang"] == "de" for m in meta])
    q = rng.standard_normal(8).astype(np.float32)
    got, d = s.search(q, k=5, where={"lang": "de"})
    dist = ((v[keep] - q) ** 2).sum(1)
    want = ids[keep][np.argsort(dist)[:5]]
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize(
    "where,exc,message",
    [
        ({"lang": {"$regex": "e.*"}}, ValueError, r'unknown operator "\$regex"'),
        ({"$nor": []}, ValueError, "unknown filter operator"),
        ({"lang": ["en", "de"]}, TypeError, r"\$in"),
        ({"lang": {"$in": "en"}}, TypeError, "list"),
        ({"lang": {}}, ValueError, "empty"),
        ({"$and": {"lang": "en"}}, TypeError, "list"),
        ({"$or": ["lang"]}, TypeError, "filter dict"),
        ({1: "en"}, TypeError, "str"),
        ({"lang": None}, TypeError, None),
        ({"lang": object()}, TypeError, None),
        ({"n": 2**70}, ValueError, "64 bits"),
        (["lang", "en"], TypeError, "dict"),
        (42, TypeError, "dict"),
    ],
)
def test_bad_filters(store, where, exc, message):
    s, v, _, _ = store
    with pytest.raises(exc, match=message):
        s.search(v[0], where=where)


def test_deeply_nested_filter_raises_instead_of_overflowing(store):
    s, v, _, _ = store
    deep = {"lang": "en"}
    for _ in range(100_000):
        deep = {"$not": deep}
    with pytest.raises(ValueError, match="nested deeper"):
        s.search(v[0], where=deep)
    ok = {"lang": "en"}
    for _ in range(20):
        ok = {"$not": ok}
    got, _ = s.search(v[0], k=200, where=ok)
    assert len(got) == 40  # an even number of negations


@pytest.mark.parametrize(
    "expr,predicate",
    [
        ('lang = "en"', lambda m: m["lang"] == "en"),
        ('lang = "en" and year >= 2020', lambda m: m["lang"] == "en" and m.get("year", 0) >= 2020),
        ("score < 1.5 or draft = true", lambda m: m["score"] < 1.5 or m["draft"]),
    ],
)
def test_string_filters(store, rng, expr, predicate):
    s, v, ids, meta = store
    want = {int(ids[i]) for i, m in enumerate(meta) if predicate(m)}
    got, _ = s.search(rng.standard_normal(8).astype(np.float32), k=200, where=expr)
    assert set(got.tolist()) == want


def test_delete_with_a_string_filter(store):
    s, _, _, meta = store
    assert s.delete(where='lang = "de"') == sum(m["lang"] == "de" for m in meta)


def test_a_string_filter_with_a_syntax_error_names_the_column(store):
    s, v, _, _ = store
    with pytest.raises(rvf.InvalidArgumentError) as e:
        s.search(v[0], where='lang = "en" and year >')
    assert e.value.code == "RVF_E_INVALID_ARGUMENT"
    assert "column" in str(e.value)
