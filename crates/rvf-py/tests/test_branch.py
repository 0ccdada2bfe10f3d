"""Branches: copy-on-write isolation, membership, freeze, materialize, compact."""

import os
import shutil

import numpy as np
import pytest

import rvf


def test_branch_is_isolated_both_ways(make_store, tmp_path, rng):
    base, v, ids = make_store(300, 8, "cosine")
    q = rng.standard_normal((5, 8)).astype(np.float32)
    before = base.search(q, k=10)
    with base.branch(tmp_path / "b.rvf") as b:
        assert b.is_cow_child and b.lineage_depth == 1
        assert b.parent_id == base.file_id and b.file_id != base.file_id
        assert b.path.endswith("b.rvf")
        # An unchanged branch answers exactly as its parent.
        got = b.search(q, k=10)
        assert (got[0] == before[0]).all() and (got[1] == before[1]).all()
        assert b.delete(ids[:100]) == 100
        b.add(rng.standard_normal((3, 8)), [1, 2, 3])
        assert len(b) == 203
        base.add(rng.standard_normal((1, 8)), [5])  # invisible to the branch
        assert b.get(5) is None
        assert b.status()["ancestors"] == [str(tmp_path / "s.rvf")]
    assert len(base) == 301
    assert base.get(int(ids[0])) is not None and base.get(1) is None
    after = base.search(q, k=10)
    assert np.isin(before[0], after[0]).mean() > 0.5  # base changed only by id 5


def test_branch_file_is_small_and_reopens(make_store, tmp_path):
    base, v, ids = make_store(2000, 32)
    p = tmp_path / "small.rvf"
    base.branch(p).close()
    assert os.path.getsize(p) < os.path.getsize(tmp_path / "s.rvf") / 20
    with rvf.Store.open(p) as b:
        assert len(b) == 2000 and b.parent_id == base.file_id


def test_branch_of_branch_and_frozen_snapshot(make_store, tmp_path):
    base, v, ids = make_store(50, 4)
    base.freeze()
    with pytest.raises(rvf.FrozenError):
        base.add(v[:1], [0])
    with base.branch(tmp_path / "c1.rvf") as c1:
        c1.delete(ids[:10])
        with c1.branch(tmp_path / "c2.rvf") as c2:
            assert c2.lineage_depth == 2 and c2.parent_id == c1.file_id
            c2.delete(ids[10:20])
            assert (len(base), len(c1), len(c2)) == (50, 40, 30)


def test_membership(make_store, tmp_path):
    base, v, ids = make_store(20, 4)
    assert base.membership is None
    with base.branch(tmp_path / "m.rvf") as b:
        m = b.membership
        assert m.mode == "exclude" and m.ids.tolist() == []
        assert (m.member_count, m.vector_count) == (20, 20)
        m.exclude(ids[:5])
        assert len(b) == 15 and m.ids.tolist() == ids[:5].tolist()
        m.include(ids[:2])  # in exclude mode: removes them from the list
        assert len(b) == 17 and m.member_count == 17
        m.set_mode("include")
        assert len(b) == 0 and m.mode == "include"  # an empty include list shows nothing
        m.include(ids[3:6])
        assert sorted(b.ids().tolist()) == ids[3:6].tolist()
        m.exclude(ids[3:4])
        assert b.ids().tolist() == ids[4:6].tolist()
        b.add(v[:1], [999])  # the branch's own vectors are not filtered
        assert 999 in b.ids().tolist()
        assert "include" in repr(m)
        with pytest.raises(ValueError):
            m.set_mode("everything")
    # Membership survives close and reopen.
    with rvf.Store.open(tmp_path / "m.rvf") as b:
        assert b.membership.mode == "include" and len(b) == 3


def test_materialize_detaches_from_parent(make_store, tmp_path):
    base, v, ids = make_store(40, 4)
    p = tmp_path / "mat.rvf"
    with base.branch(p) as b:
        b.delete(ids[:4])
        fid = b.file_id
        m = b.membership
        b.materialize()
        assert not b.is_cow_child and b.parent_id is None and b.lineage_depth == 0
        assert b.file_id == fid and len(b) == 36
        assert b.membership is None
        with pytest.raises(rvf.NotAChildError) as e:
            m.exclude([1])  # a Membership fetched before materialize()
        assert e.value.code == "RVF_E_NOT_A_CHILD"
    base.close()
    os.remove(tmp_path / "s.rvf")
    with rvf.Store.open(p) as b:  # no parent needed any more
        assert len(b) == 36


def test_compact_keeps_content(make_store, rng):
    s, v, ids = make_store(500, 8)
    s.delete(ids[:250])
    size = s.status()["file_size"]
    fid = s.file_id
    q = rng.standard_normal(8).astype(np.float32)
    before = s.search(q, k=10)
    s.compact()
    assert s.status()["file_size"] < size
    assert s.file_id == fid and len(s) == 250
    after = s.search(q, k=10)
    assert before[0].tolist() == after[0].tolist()


def test_missing_parent(make_store, tmp_path):
    base, v, ids = make_store(10, 4)
    base.branch(tmp_path / "child.rvf").close()
    fid = base.file_id
    base.close()
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(str(tmp_path / "s.rvf"), moved / "renamed.rvf")
    with pytest.raises(rvf.ParentMissingError) as e:
        rvf.Store.open(tmp_path / "child.rvf")
    assert e.value.code == "RVF_E_PARENT_MISSING"
    assert fid in str(e.value) and "s.rvf" in str(e.value)
    # A search path finds the parent by file id.
    with rvf.Store.open(tmp_path / "child.rvf", parent_search_paths=[moved]) as c:
        assert len(c) == 10


def test_compacted_parent_breaks_old_branches_with_a_clear_error(make_store, tmp_path):
    base, v, ids = make_store(10, 4)
    base.branch(tmp_path / "old.rvf").close()
    base.delete(ids[:1])
    base.compact()
    with pytest.raises(rvf.RvfError) as e:
        rvf.Store.open(tmp_path / "old.rvf")
    assert e.value.code in ("RVF_E_PARENT_MISMATCH", "RVF_E_PARENT_MISSING")


def test_branch_to_existing_path_fails(make_store, tmp_path):
    base, _, _ = make_store(3, 2)
    (tmp_path / "taken.rvf").write_bytes(b"x")
    with pytest.raises(rvf.ExistsError):
        base.branch(tmp_path / "taken.rvf")
