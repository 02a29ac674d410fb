"""The BlobBackend contract, run against every backend: local folder, fsspec memory://, file://."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sqltrack.artifacts import BlobBackend, BlobStore
from sqltrack.artifacts.cas import TEMP_PREFIX
from sqltrack.errors import ArtifactIntegrityError, ArtifactNotFound, InvalidParameter

from ._helpers import corrupt_blob, file_names, plant_file, raw_bytes

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # ~1 MiB, crosses read chunk boundaries
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def test_backends_satisfy_the_protocol(backend) -> None:
    assert isinstance(backend, BlobBackend)


def test_put_bytes_round_trip(backend) -> None:
    assert backend.put_bytes(PAYLOAD) == (DIGEST, len(PAYLOAD))
    assert backend.exists(DIGEST)
    assert backend.read_bytes(DIGEST) == PAYLOAD
    with backend.open(DIGEST) as stream:
        assert stream.read() == PAYLOAD


def test_put_file_round_trip_and_copy_to(backend, tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(PAYLOAD)
    assert backend.put_file(src) == (DIGEST, len(PAYLOAD))
    dest = tmp_path / "download" / "nested" / "model.pkl"
    backend.copy_to(DIGEST, dest, context="run r1, path model.pkl")
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.pkl"]


def test_empty_blob(backend) -> None:
    digest, size = backend.put_bytes(b"")
    assert (digest, size) == (hashlib.sha256(b"").hexdigest(), 0)
    assert backend.read_bytes(digest) == b""


def test_layout_is_sha256_fanout(backend) -> None:
    backend.put_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    key = str(
        backend.blob_path(digest) if isinstance(backend, BlobStore) else backend.blob_key(digest)
    )
    assert key.endswith(f"/sha256/{digest[:2]}/{digest}")


def test_dedup_same_bytes_1000_times_keeps_one_file(backend, tmp_path: Path) -> None:
    src = tmp_path / "same.bin"
    src.write_bytes(b"same bytes")
    results = {backend.put_bytes(b"same bytes") for _ in range(1000)}
    results.add(backend.put_file(src))
    assert len(results) == 1
    assert file_names(backend) == [hashlib.sha256(b"same bytes").hexdigest()]


def test_uppercase_digest_is_accepted(backend) -> None:
    backend.put_bytes(b"x")
    digest = hashlib.sha256(b"x").hexdigest()
    assert backend.read_bytes(digest.upper()) == b"x"


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "a" * 63, "../" + "a" * 61, None])
def test_invalid_digest_is_refused(backend, bad) -> None:
    with pytest.raises(InvalidParameter, match="not a SHA-256 digest"):
        backend.read_bytes(bad)


def test_missing_blob_is_not_found_with_context(backend, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFound) as info:
        backend.read_bytes(DIGEST, context="run abc, path model/model.pkl")
    assert DIGEST in str(info.value) and "run abc, path model/model.pkl" in str(info.value)
    with pytest.raises(FileNotFoundError):
        backend.open(DIGEST)
    with pytest.raises(ArtifactNotFound):
        backend.copy_to(DIGEST, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert not backend.exists(DIGEST)


def _assert_corrupt_message(error: ArtifactIntegrityError, backend) -> None:
    message = str(error)
    assert "run abc, path model/model.pkl" in message
    assert DIGEST in message and "corrupt" in message
    assert DIGEST[:2] + "/" + DIGEST in message  # names the blob file
    assert "log the artifact again" in message


def test_flipped_byte_is_detected_on_every_read_path(backend, tmp_path: Path) -> None:
    backend.put_bytes(PAYLOAD)
    flipped = bytearray(PAYLOAD)
    flipped[len(flipped) // 2] ^= 0x01
    corrupt_blob(backend, DIGEST, bytes(flipped))
    ctx = "run abc, path model/model.pkl"
    with pytest.raises(ArtifactIntegrityError) as info:
        backend.read_bytes(DIGEST, context=ctx)
    _assert_corrupt_message(info.value, backend)
    with pytest.raises(ArtifactIntegrityError), backend.open(DIGEST, context=ctx) as stream:
        stream.read()
    with pytest.raises(ArtifactIntegrityError):
        with backend.open(DIGEST, context=ctx) as stream:
            while stream.read(1000):
                pass


def test_truncated_blob_is_detected_and_reports_bytes_read(backend) -> None:
    backend.put_bytes(PAYLOAD)
    corrupt_blob(backend, DIGEST, PAYLOAD[:1000])
    with pytest.raises(ArtifactIntegrityError, match="the 1000 bytes read") as info:
        backend.read_bytes(DIGEST, context="run abc, path model/model.pkl")
    _assert_corrupt_message(info.value, backend)


def test_copy_to_never_leaves_unverified_bytes(backend, tmp_path: Path) -> None:
    backend.put_bytes(PAYLOAD)
    corrupt_blob(backend, DIGEST, PAYLOAD[:-1] + b"!")
    dest = tmp_path / "out" / "model.pkl"
    dest.parent.mkdir()
    dest.write_bytes(b"previous download")
    with pytest.raises(ArtifactIntegrityError):
        backend.copy_to(DIGEST, dest, context="run abc, path model/model.pkl")
    assert dest.read_bytes() == b"previous download"
    assert [p.name for p in dest.parent.iterdir()] == ["model.pkl"]


def test_errors_are_idiomatic_builtins(backend) -> None:
    backend.put_bytes(PAYLOAD)
    corrupt_blob(backend, DIGEST, b"x")
    with pytest.raises(OSError):  # ArtifactIntegrityError is an IOError
        backend.read_bytes(DIGEST)
    with pytest.raises(LookupError):  # ArtifactNotFound
        backend.read_bytes("0" * 64)


def test_putting_again_repairs_a_truncated_blob(backend) -> None:
    backend.put_bytes(PAYLOAD)
    corrupt_blob(backend, DIGEST, PAYLOAD[:10])
    backend.put_bytes(PAYLOAD)
    assert backend.read_bytes(DIGEST) == PAYLOAD


def test_delete_then_put_repairs_a_flipped_blob(backend) -> None:
    backend.put_bytes(PAYLOAD)
    corrupt_blob(backend, DIGEST, PAYLOAD[::-1])  # same size: only deletion repairs it
    backend.put_bytes(PAYLOAD)
    assert raw_bytes(backend, DIGEST) == PAYLOAD[::-1]
    assert backend.delete(DIGEST) is True
    assert backend.delete(DIGEST) is False
    backend.put_bytes(PAYLOAD)
    assert backend.read_bytes(DIGEST) == PAYLOAD


def test_iter_digests_and_size_ignore_temp_and_foreign_files(backend) -> None:
    digests = sorted(backend.put_bytes(bytes([i]) * (i + 1))[0] for i in range(20))
    plant_file(backend, digests[0][:2], f"{TEMP_PREFIX}{digests[0]}-1-abc", b"partial")
    plant_file(backend, digests[0][:2], "notes.txt")
    plant_file(backend, "zz", "f" * 64)  # a digest-looking name in the wrong fan-out folder
    assert list(backend.iter_digests()) == digests
    assert backend.size_on_disk() == sum(range(1, 21))


def test_empty_store_lists_nothing_and_creates_nothing(backend) -> None:
    assert list(backend.iter_digests()) == []
    assert backend.size_on_disk() == 0
    assert backend.clean_temp_files(0) == 0
    assert not backend.exists(DIGEST)
    assert file_names(backend) == []
