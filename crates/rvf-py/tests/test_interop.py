"""Files move between Rust and Python: a store written by rvf_runtime (the `interop`
example of this crate, built with cargo) is read and extended here, and stores written
here are read back by Rust."""

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import rvf
from conftest import REPO


@pytest.fixture(scope="module")
def interop_bin():
    """The example binary, built with the workspace's features so that after
    `cargo test --workspace` (as in CI) this build has nothing to do."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("cargo is needed to build the Rust half of the interop test")
    build = [cargo, "build", "--quiet", "--workspace", "--examples"]
    r = subprocess.run(build, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    meta = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return pathlib.Path(json.loads(meta.stdout)["target_directory"]) / "debug" / "examples" / "interop"


@pytest.fixture
def interop(interop_bin):
    def run(*args):
        r = subprocess.run(
            [interop_bin, *map(str, args)], capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout

    return run


def rust_dump(interop, path):
    return json.loads(interop("dump", path))


def tagged(meta):
    """Metadata as the Rust dump spells it: each value tagged with its type."""
    names = {bool: "bool", int: "int", float: "float", str: "str"}
    return {k: {names[type(v)]: v} for k, v in meta.items()}


def test_rust_writes_python_reads_and_writes_back(interop, tmp_path):
    interop("write", tmp_path)
    want = {i: np.array([i + j * 0.5 for j in range(6)], dtype=np.float32) for i in range(100, 120)}
    with rvf.Store.open(tmp_path / "rust.rvf") as s:
        assert (s.dimension, s.metric, len(s)) == (6, "l2", 20)
        for i, v in want.items():
            vec, meta = s.get(i)
            np.testing.assert_array_equal(vec, v)
            assert meta == {"n": i, "half": i / 2, "name": f"rust-{i}", "odd": i % 2 == 1}
        ids, d = s.search(want[110], k=3)
        assert ids.tolist() == [110, 109, 111] and d.tolist() == [0, 6, 6]
        # Python extends the Rust store...
        s.add(np.full((1, 6), 7.0), [7], [{"from": "python"}])
    with rvf.Store.open(tmp_path / "rust-branch.rvf", read_only=True) as b:
        assert b.is_cow_child and len(b) == 17 and b.get(100) is None
    # ...and Rust reads what Python added.
    dump = rust_dump(interop, tmp_path / "rust.rvf")
    assert dump["len"] == 21
    rec = {r["id"]: r for r in dump["records"]}
    assert rec[7]["vector"] == [7.0] * 6 and rec[7]["metadata"] == {"from": {"str": "python"}}
    assert rec[119]["metadata"]["name"] == {"str": "rust-119"}


def test_python_writes_rust_reads(interop, tmp_path, rng):
    v = rng.standard_normal((40, 12)).astype(np.float32)
    meta = [{"i": i, "x": i * 0.25, "tag": f"t{i % 4}", "flag": i % 3 == 0} for i in range(40)]
    ids = np.arange(40) * 5
    with rvf.Store.create(tmp_path / "py.rvf", 12, "cosine") as s:
        s.add(v, ids, meta)
        s.delete([0, 5])
        with s.branch(tmp_path / "py-branch.rvf") as b:
            b.membership.exclude([10, 15])
            b.add(v[:1] * 2, [999], [{"own": True}])
            want_branch = {int(i): b.get(int(i)) for i in b.ids()}
            first = b.get(int(b.ids()[0]))[0]
            want_neighbours = b.search(first, k=5)
        first_base = s.get(int(s.ids()[0]))[0]
        base_neighbours = s.search(first_base, k=5)
    for path, want, neighbours in (
        (tmp_path / "py.rvf", None, base_neighbours),
        (tmp_path / "py-branch.rvf", want_branch, want_neighbours),
    ):
        dump = rust_dump(interop, path)
        assert dump["dimension"] == 12 and dump["metric"] == "cosine"
        assert [n[0] for n in dump["neighbours"]] == neighbours[0].tolist()
        np.testing.assert_array_equal(
            np.array([n[1] for n in dump["neighbours"]], dtype=np.float32), neighbours[1]
        )
        if want is None:
            assert dump["len"] == 38 and dump["lineage_depth"] == 0
            for r in dump["records"]:
                k = r["id"] // 5
                assert r["vector"] == v[k].tolist()
                assert r["metadata"] == tagged(meta[k])
        else:
            assert dump["lineage_depth"] == 1
            assert sorted(r["id"] for r in dump["records"]) == sorted(want)
            for r in dump["records"]:
                vec, m = want[r["id"]]
                assert r["vector"] == vec.tolist() and r["metadata"] == tagged(m)
