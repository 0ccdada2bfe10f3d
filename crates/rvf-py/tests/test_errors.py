"""The exception hierarchy, and damaged or foreign files: an exception, never a crash."""

import json

import numpy as np
import pytest

import rvf
from conftest import run_python


def test_hierarchy_and_codes():
    expected = {
        "IoError": "RVF_E_IO",
        "CorruptError": "RVF_E_CORRUPT",
        "NotAStoreError": "RVF_E_NOT_A_STORE",
        "LockedError": "RVF_E_LOCKED",
        "ParentMissingError": "RVF_E_PARENT_MISSING",
        "DimensionError": "RVF_E_DIMENSION",
    }
    for name in expected:
        cls = getattr(rvf, name)
        assert issubclass(cls, rvf.RvfError) and cls.__module__ == "rvf"
    assert issubclass(rvf.RvfError, Exception)
    for cls in (rvf.DimensionError, rvf.InvalidArgumentError, rvf.UnsupportedError):
        assert issubclass(cls, ValueError)
    assert not issubclass(rvf.LockedError, ValueError)
    assert rvf.RvfError.__doc__ and "code" in rvf.RvfError.__doc__


def test_foreign_and_empty_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a vector store\n" * 200)
    empty = tmp_path / "empty.rvf"
    empty.write_bytes(b"")
    for p in (text, empty):
        for read_only in (False, True):
            with pytest.raises(rvf.RvfError) as e:
                rvf.Store.open(p, read_only=read_only)
            assert e.value.code in ("RVF_E_NOT_A_STORE", "RVF_E_CORRUPT")
            assert str(p) in str(e.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(rvf.RvfError):
        rvf.Store.open(tmp_path)


DAMAGE = r"""
import json, os, sys
import numpy as np, rvf
work = sys.argv[1]
src = os.path.join(work, "good.rvf")
rng = np.random.default_rng(7)
with rvf.Store.create(src, 8, "cosine", cluster_bytes=256) as s:
    for b in range(4):
        s.add(rng.standard_normal((50, 8)), np.arange(b * 50, b * 50 + 50),
              [{"i": i, "s": "x" * (i % 7)} for i in range(50)])
    s.delete(np.arange(0, 200, 9))
good = open(src, "rb").read()
q = rng.standard_normal(8).astype(np.float32)
counts = {"ok": 0, "rvf_error": 0}
codes, other = set(), []
victim = os.path.join(work, "bad.rvf")
with open(victim, "wb") as f:
    f.write(good)
# One descriptor, bytes changed in place: rewriting the whole file each time is slow on
# file systems that flush a truncated-and-rewritten file on close.
fd = os.open(victim, os.O_RDWR)

def exercise(what):
    try:
        with rvf.Store.open(victim, read_only=True) as s:
            len(s); s.ids(); s.status()
            s.search(q, k=5); s.search(np.stack([q, q]), k=5)
            s.search(q, k=5, where={"i": {"$lt": 20}})
            for i in (0, 10, 199):
                s.get(i)
        counts["ok"] += 1
    except rvf.RvfError as e:
        counts["rvf_error"] += 1
        codes.add(e.code)
    except Exception as e:
        other.append(f"{what}: {type(e).__name__}: {e}")

for pos in range(0, len(good), max(1, len(good) // 5000)):
    os.pwrite(fd, bytes([good[pos] ^ 0x5A]), pos)
    exercise(f"flip@{pos}")
    os.pwrite(fd, good[pos:pos + 1], pos)
for cut in range(0, len(good), max(1, len(good) // 300)):
    os.ftruncate(fd, cut)
    exercise(f"cut@{cut}")
    os.pwrite(fd, good[cut:], cut)
print(json.dumps({"size": len(good), **counts, "codes": sorted(codes), "other": other[:5]}))
"""


def test_damaged_files_raise_and_never_crash(tmp_path):
    r = run_python(DAMAGE, tmp_path)
    # A panic turned into an exception, or a crash of the interpreter, fails here.
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["other"] == [], out
    assert out["rvf_error"] > 100, out  # damage was seen (the test can fail)
    assert set(out["codes"]) <= {
        "RVF_E_CORRUPT",
        "RVF_E_TRUNCATED",
        "RVF_E_NOT_A_STORE",
        "RVF_E_INCOMPATIBLE",
        "RVF_E_IO",
    }, out


def test_edge_values_give_results_or_ordinary_exceptions(make_store, tmp_path):
    # pyo3 turns a Rust panic into PanicException, a BaseException: pytest.raises(...)
    # with an Exception subclass, or a plain call, would let it through and fail here.
    s, v, ids = make_store(10, 4)
    big = np.full(4, 3e38, dtype=np.float32)
    assert len(s.search(np.zeros(4), k=2**63 - 1)[0]) == 10
    assert s.search(np.zeros((3, 4)), k=2**63 - 1)[0].shape == (3, 10)
    assert len(s.search(big, k=3)[0]) == 3  # squared distances overflow to inf: still sorted
    with np.errstate(over="ignore"):
        assert s.add(np.full((1, 4), 1e300)).rejected == 1  # inf once in float32
    assert s.add(np.zeros((1, 4)), [2**64 - 1]).accepted == 1
    assert s.get(2**64 - 1)[0].tolist() == [0, 0, 0, 0]
    assert s.delete(np.arange(10**6, 2 * 10**6, dtype=np.uint64)) == 0
    assert len(s.search(np.zeros(4), where={"": ""})[0]) == 0
    assert len(s.search(np.zeros(4), where={"a": {"$in": [1, "x", 2.5, True]}})[0]) == 0
    assert len(s.search(np.zeros(4), where={"a": float("nan")})[0]) == 0
    with pytest.raises(rvf.RvfError):
        s.branch("")
    with pytest.raises(rvf.RvfError):
        s.branch("/")
    with pytest.raises(rvf.RvfError):
        s.branch(tmp_path / "no-such-dir" / "b.rvf")
    assert len(s) == 11


def test_a_file_cut_short_raises_truncated_and_recovers(tmp_path, rng):
    p = tmp_path / "cut.rvf"
    with rvf.Store.create(p, dim=4, metric="l2") as s:
        s.add(rng.standard_normal((50, 4)).astype(np.float32), ids=np.arange(50))
        first_end = s.status()["file_size"]
        s.add(rng.standard_normal((50, 4)).astype(np.float32), ids=np.arange(50, 100))
    data = p.read_bytes()
    p.write_bytes(data[: first_end + 10])
    with pytest.raises(rvf.TruncatedError) as e:
        rvf.Store.open(p)
    assert e.value.code == "RVF_E_TRUNCATED" and "recover" in str(e.value)
    s = rvf.Store.open(p, recover=True)
    assert len(s) == 50
    rec = s.recovery
    assert rec["dropped_epochs"] == [rec["newest_epoch"]] and rec["reasons"]
    with pytest.raises(rvf.ReadOnlyError):
        s.delete([1])
    assert rvf.Store.open(tmp_path / "cut.rvf", recover=True).recovery is not None
