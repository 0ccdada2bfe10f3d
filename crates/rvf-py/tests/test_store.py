"""Lifecycle and identity: create, open, close, with-blocks, properties, status."""

import numpy as np
import pytest

import rvf
from conftest import run_python


def test_create_open_roundtrip(tmp_path, rng):
    p = tmp_path / "a.rvf"
    v = rng.standard_normal((50, 8)).astype(np.float32)
    meta = [{"i": i, "tag": f"t{i % 3}", "x": i / 4, "ok": i % 2 == 0} for i in range(50)]
    with rvf.Store.create(p, 8, "ip", cluster_bytes=4096) as s:
        assert s.add(v, np.arange(50), meta).accepted == 50
        fid = s.file_id
    with rvf.Store.open(str(p)) as s:
        assert len(s) == 50
        assert s.dimension == 8
        assert s.metric == "ip"
        assert s.file_id == fid
        assert s.status()["cluster_bytes"] == 4096
        vec, m = s.get(49)
        np.testing.assert_array_equal(vec, v[49])
        assert m == meta[49]
        assert type(m["i"]) is int and type(m["x"]) is float and type(m["ok"]) is bool


@pytest.mark.parametrize(
    "name,expected", [("cosine", "cosine"), ("L2", "l2"), ("ip", "ip"), ("inner_product", "ip")]
)
def test_metric_names(tmp_path, name, expected):
    with rvf.Store.create(tmp_path / "m.rvf", 3, name) as s:
        assert s.metric == expected


def test_default_metric_is_cosine(tmp_path):
    with rvf.Store.create(tmp_path / "d.rvf", 3) as s:
        assert s.metric == "cosine"


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        ({"dim": 0}, ValueError),
        ({"dim": 70000}, ValueError),
        ({"dim": -1}, ValueError),
        ({"dim": 4, "metric": "hamming"}, ValueError),
        ({"dim": 4, "cluster_bytes": 100}, rvf.InvalidArgumentError),
        ({"dim": 4, "cluster_bytes": -64}, ValueError),
        ({"dim": 4, "durability": "sometimes"}, ValueError),
    ],
)
def test_create_rejects_bad_arguments(tmp_path, kwargs, exc):
    p = tmp_path / "bad.rvf"
    with pytest.raises(exc):
        rvf.Store.create(p, **kwargs)
    assert not p.exists()


def test_create_refuses_existing_path(tmp_path):
    p = tmp_path / "x.rvf"
    rvf.Store.create(p, 2).close()
    with pytest.raises(rvf.ExistsError) as e:
        rvf.Store.create(p, 2)
    assert e.value.code == "RVF_E_EXISTS"
    assert isinstance(e.value, FileExistsError)


def test_open_missing_file(tmp_path):
    with pytest.raises(rvf.NotFoundError) as e:
        rvf.Store.open(tmp_path / "nope.rvf")
    assert e.value.code == "RVF_E_NOT_FOUND"
    assert "nope.rvf" in str(e.value)
    assert isinstance(e.value, FileNotFoundError)


def test_second_writer_is_locked_and_readers_are_not(tmp_path):
    p = tmp_path / "l.rvf"
    with rvf.Store.create(p, 2, "l2") as w:
        w.add(np.ones((1, 2)), [1])
        with pytest.raises(rvf.LockedError) as e:
            rvf.Store.open(p)
        assert e.value.code == "RVF_E_LOCKED"
        with rvf.Store.open(p, read_only=True) as r:
            assert r.read_only and len(r) == 1
            with pytest.raises(rvf.ReadOnlyError):
                r.add(np.ones((1, 2)), [2])
            with pytest.raises(rvf.ReadOnlyError):
                r.delete([1])
    # close() released the writer lock.
    rvf.Store.open(p).close()


def test_closed_store_raises_everywhere(make_store):
    s, v, ids = make_store(5, 4)
    s.close()
    assert s.closed
    s.close()  # closing twice is allowed
    calls = [
        lambda: len(s),
        lambda: s.add(v),
        lambda: s.search(v[0]),
        lambda: s.get(7),
        lambda: s.ids(),
        lambda: s.delete([7]),
        lambda: s.status(),
        lambda: s.file_id,
        lambda: s.parent_id,
        lambda: s.lineage_depth,
        lambda: s.is_cow_child,
        lambda: s.membership,
        lambda: s.freeze(),
        lambda: s.compact(),
        lambda: s.materialize(),
        lambda: s.flush(),
        lambda: s.branch("never.rvf"),
        lambda: s.index_status(),
        lambda: s.build_index(),
        lambda: s.__enter__(),
    ]
    for call in calls:
        with pytest.raises(rvf.ClosedError) as e:
            call()
        assert e.value.code == "RVF_E_CLOSED"
        assert "closed" in str(e.value)
    assert "closed" in repr(s)
    assert s.path.endswith("s.rvf")


def test_with_block_closes_also_on_exception(tmp_path):
    p = tmp_path / "w.rvf"
    with pytest.raises(RuntimeError, match="boom"):
        with rvf.Store.create(p, 2, "l2", durability="on_close") as s:
            s.add(np.ones((3, 2)), [1, 2, 3])
            raise RuntimeError("boom")
    assert s.closed
    # The commit was published by the close in __exit__, and the lock released.
    with rvf.Store.open(p) as again:
        assert len(again) == 3


def test_on_close_durability_is_published_by_close(tmp_path):
    p = tmp_path / "oc.rvf"
    s = rvf.Store.create(p, 2, "l2", durability="on_close")
    s.add(np.ones((4, 2)), [1, 2, 3, 4])
    with rvf.Store.open(p, read_only=True) as r:
        assert len(r) == 0  # not published yet
    s.flush()
    with rvf.Store.open(p, read_only=True) as r:
        assert len(r) == 4
    s.delete([1])
    s.close()
    with rvf.Store.open(p, read_only=True) as r:
        assert len(r) == 3


CLOSE_FAILS = r"""
import os, resource, signal, sys
import numpy as np, rvf
p = sys.argv[1]
s = rvf.Store.create(p, 4, "l2", durability="on_close")
s.add(np.random.rand(3000, 4).astype(np.float32))
for i in range(1500):
    s.delete([i])          # a long journal: close() must write a checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(p), resource.RLIM_INFINITY))
try:
    s.close()
    print("no error")
except rvf.RvfError as e:
    print(type(e).__name__, e.code, s.closed)
"""


def test_close_reports_a_failed_final_write(tmp_path):
    # The file may not grow when close() publishes: the error must reach the caller.
    r = run_python(CLOSE_FAILS, tmp_path / "full.rvf")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["IoError", "RVF_E_IO", "True"]


def test_properties_and_status(make_store):
    s, v, ids = make_store(30, 6, "cosine")
    assert len(s) == 30
    assert len(s.file_id) == 32 and int(s.file_id, 16) >= 0
    assert s.parent_id is None
    assert s.lineage_depth == 0
    assert not s.is_cow_child and not s.frozen and not s.read_only and not s.closed
    assert s.membership is None
    ix = s.index_status()
    assert ix["pending_vectors"] == 30 and ix["indexed_vectors"] == 0 and ix["m"] == 16
    s.build_index()
    ix = s.index_status()
    assert (ix["pending_vectors"], ix["indexed_vectors"], ix["graphs"]) == (0, 30, 1)
    assert ix["bytes"] > 0 and s.status()["index"] == ix
    st = s.status()
    assert st["total_vectors"] == 30
    assert st["dimension"] == 6 and st["metric"] == "cosine"
    assert st["file_size"] > 30 * 6 * 4
    assert st["epoch"] >= 2
    assert st["ancestors"] == [] and st["index"]["indexed_vectors"] == 30
    assert st["file_id"] == s.file_id
    assert repr(s).startswith("<rvf.Store") and "len=30" in repr(s)


def test_module_surface():
    assert rvf.__version__
    assert rvf.MISSING_ID == 2**64 - 1
    for name in rvf.__all__:
        assert hasattr(rvf, name)
    assert "distance" in rvf.Store.search.__doc__
    assert "MISSING_ID" in rvf.Store.search.__doc__


def test_stubs_match_the_module():
    import ast
    import pathlib

    stub = ast.parse((pathlib.Path(rvf.__file__).parent / "_rvf.pyi").read_text())
    classes = {n.name: n for n in stub.body if isinstance(n, ast.ClassDef)}
    assert set(classes) == {n for n in rvf.__all__ if isinstance(getattr(rvf, n), type)}
    for cls in ("Store", "Membership", "AddResult"):
        stubbed = {n.name for n in classes[cls].body if isinstance(n, ast.FunctionDef)}
        runtime = {n for n in dir(getattr(rvf, cls)) if not n.startswith("_")}
        assert {n for n in stubbed if not n.startswith("_")} == runtime, cls
    assert (pathlib.Path(rvf.__file__).parent / "py.typed").exists()
