"""Concurrent readers and writers, in threads and in separate processes, on one store."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from pathlib import Path

from sqltrack.artifacts import BlobStore
from sqltrack.artifacts.cas import TEMP_PREFIX

from ._helpers import all_files

BIG = 8 * 1024 * 1024


def _big_payload(i: int) -> bytes:
    """A distinct 8 MiB payload per index, so a partial blob would fail verification."""
    return hashlib.sha256(str(i).encode()).digest() * (BIG // 32)


def _poll_until(done: threading.Event, store: BlobStore, seen: set[str], errors: list) -> None:
    """Reader: keep reading every visible blob until the writers finish, then once more."""
    try:
        while True:
            finished = done.is_set()
            for path in all_files(store.root):
                if path.name.startswith(TEMP_PREFIX):
                    continue
                assert len(store.read_bytes(path.name, context="reader thread")) == BIG
                seen.add(path.name)
            if finished:
                return
    except BaseException as error:  # surfaced by the main thread
        errors.append(error)


def _write_blobs(store: BlobStore, indexes: list[int], errors: list) -> None:
    try:
        for i in indexes:
            store.put_bytes(_big_payload(i))
    except BaseException as error:
        errors.append(error)


def test_readers_never_see_partial_blobs_while_writers_write(blobs: BlobStore) -> None:
    done, errors, seen = threading.Event(), [], set()
    reader = threading.Thread(target=_poll_until, args=(done, blobs, seen, errors))
    plans = [[0, 1, 9], [2, 3, 9], [4, 5, 9], [6, 7, 9]]  # blob 9 is written by every thread
    writers = [threading.Thread(target=_write_blobs, args=(blobs, p, errors)) for p in plans]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join()
    assert errors == []
    expected = {hashlib.sha256(_big_payload(i)).hexdigest() for i in range(8)} | {
        hashlib.sha256(_big_payload(9)).hexdigest()
    }
    assert seen == expected == set(blobs.iter_digests())
    assert not [p for p in all_files(blobs.root) if p.name.startswith(TEMP_PREFIX)]


def _small_payload(i: int) -> bytes:
    return hashlib.sha256(f"small-{i}".encode()).digest() * 8192  # 256 KiB


def _process_writer(root: str, sources: str | None, barrier, results) -> None:
    """Child process: after all start together, store the same 30 payloads, in order."""
    store = BlobStore(root)
    barrier.wait()
    digests = []
    for i in range(30):
        if sources is None:
            digests.append(store.put_bytes(_small_payload(i))[0])
        else:
            digests.append(store.put_file(Path(sources) / f"{i}.bin")[0])
    results.put(digests)


def test_processes_writing_the_same_blobs_at_once(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    for i in range(30):
        (sources / f"{i}.bin").write_bytes(_small_payload(i))
    ctx = multiprocessing.get_context("spawn")
    barrier, results, root = ctx.Barrier(6), ctx.Queue(), str(tmp_path / "blobs")
    procs = [
        ctx.Process(
            target=_process_writer, args=(root, str(sources) if n % 2 else None, barrier, results)
        )
        for n in range(6)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=600) for _ in procs]  # failsafe against a hang only
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0] * 6
    expected = [hashlib.sha256(_small_payload(i)).hexdigest() for i in range(30)]
    assert outcomes == [expected] * 6
    store = BlobStore(root)
    assert sorted(expected) == list(store.iter_digests())
    assert [p.name for p in all_files(store.root)] == sorted(expected)
    for i, digest in enumerate(expected):
        assert store.read_bytes(digest) == _small_payload(i)
