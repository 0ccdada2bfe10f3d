"""Threads: searches in parallel with a writer, and the GIL released during long calls."""

import threading
import time

import numpy as np
import pytest

import rvf


def test_readers_and_a_writer_share_a_store(make_store):
    s, v, ids = make_store(2000, 32, "l2")
    errors = []
    stop = threading.Event()
    done_queries = [0]

    def reader(seed):
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                i = int(rng.integers(len(v)))
                got, d = s.search(v[i], k=1)
                # The original vectors never change: each is its own nearest neighbour.
                if got[0] != ids[i] or d[0] != 0:
                    errors.append(("single", i, got, d))
                rows = rng.integers(len(v), size=4)
                got, d = s.search(v[rows], k=1)
                if (got[:, 0] != ids[rows]).any() or (d[:, 0] != 0).any():
                    errors.append(("batch", rows, got))
                done_queries[0] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def writer():
        rng = np.random.default_rng(99)
        try:
            for b in range(30):
                far = rng.standard_normal((40, 32)).astype(np.float32) + 100
                new = np.arange(10**6 + b * 40, 10**6 + b * 40 + 40)
                s.add(far, new, [{"b": b}] * 40)
                s.delete(new[:10])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    w = threading.Thread(target=writer)
    for t in readers:
        t.start()
    w.start()
    w.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert done_queries[0] > 0
    assert len(s) == 2000 + 30 * 30


def test_close_while_other_threads_search(make_store):
    s, v, ids = make_store(500, 16)
    outcomes = []

    def reader():
        for _ in range(200):
            try:
                s.search(v[0], k=3)
                outcomes.append("ok")
            except rvf.ClosedError:
                outcomes.append("closed")
                return

    ts = [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    time.sleep(0.01)
    s.close()
    for t in ts:
        t.join()
    assert set(outcomes) <= {"ok", "closed"}
    assert s.closed


def _longest_stall(call):
    """Runs call() in a thread while this thread spins; returns the longest time this
    thread went without running, and the call's own duration. A call that holds the GIL
    stalls this thread for the whole call; one that releases it, for a few ms at most
    (the interpreter's switch interval, and the OS scheduler on a busy machine).

    The call starts only once this thread is spinning (it waits for `go`), so the
    spinning covers the whole call even when the call grabs the GIL at once."""
    go, finished = threading.Event(), threading.Event()
    took = []

    def run():
        go.wait()
        t0 = time.perf_counter()
        call()
        took.append(time.perf_counter() - t0)
        finished.set()

    t = threading.Thread(target=run)
    t.start()
    last = time.perf_counter()
    stall = 0.0
    go.set()
    while not finished.is_set():
        now = time.perf_counter()
        stall = max(stall, now - last)
        last = now
    t.join()
    return stall, took[0]


def test_the_stall_measure_sees_a_call_that_holds_the_gil():
    # Distinct values in a scrambled order: a sort of some 0.5 s, not a merge of runs.
    xs = [float((i * 7919) % 1_000_003) for i in range(2_000_000)]
    stall, seconds = _longest_stall(lambda: sorted(xs))  # C code that keeps the GIL
    assert stall > seconds / 2, (stall, seconds)


@pytest.fixture
def big(tmp_path, rng):
    v = rng.standard_normal((60_000, 128)).astype(np.float32)
    # No index: these tests time the calls themselves, not graph builds around them.
    s = rvf.Store.create(tmp_path / "big.rvf", 128, "l2", durability="on_close", index=False)
    s.add(v)
    yield s, v
    s.close()


@pytest.mark.parametrize("what", ["batch search", "add", "compact"])
def test_long_calls_release_the_gil(big, rng, what):
    s, v = big
    qs = rng.standard_normal((1000, 128)).astype(np.float32)
    # Calls long enough to time on a fast disk: an add of 60k rows took 39 ms, and a
    # compact of them 49 ms, so both work on 480k rows.
    many = np.tile(v, (8, 1))
    if what == "compact":
        s.add(many, np.arange(len(many)) + 10**7)
    call = {
        "batch search": lambda: s.search(qs, k=10),
        "add": lambda: s.add(many, np.arange(len(many)) + 10**7),
        "compact": s.compact,
    }[what]
    stall, seconds = _longest_stall(call)
    assert seconds > 0.05, f"{what} too fast to tell ({seconds:.3f}s)"
    assert stall < seconds / 2, (what, stall, seconds)
