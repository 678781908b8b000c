"""The picture store, on disk and on a real S3 server (SeaweedFS): stored once, checked by name."""

from __future__ import annotations

import hashlib
import time

import pytest

from edge_all.hub.blobs import BlobMismatch, DiskBlobs, S3Blobs


@pytest.fixture(params=["disk", "s3"])
def blobs(request, tmp_path):
    if request.param == "disk":
        return DiskBlobs(tmp_path / "pictures")
    seaweed = request.getfixturevalue("seaweed")
    deadline = time.monotonic() + 60
    while True:  # the S3 gateway answers before its volume server has joined
        try:
            store = S3Blobs("pictures", seaweed.endpoint)
            probe = b"probe"
            store.put(hashlib.sha256(probe).hexdigest(), probe)
            return store
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_a_picture_is_stored_once_under_its_sha256(blobs):
    data = b"\x89PNG" + bytes(range(256)) * 40
    name = hashlib.sha256(data).hexdigest()
    assert not blobs.has(name)
    assert blobs.put(name, data) is True
    assert blobs.put(name, data) is False
    assert blobs.has(name) and blobs.get(name) == data
    blobs.delete(name)
    assert not blobs.has(name) and blobs.get(name) is None


def test_bytes_that_do_not_hash_to_their_name_are_never_stored(blobs):
    data = b"a picture"
    name = hashlib.sha256(data).hexdigest()
    with pytest.raises(BlobMismatch):
        blobs.put(name, data[:-1])
    with pytest.raises(BlobMismatch):
        blobs.put("../../etc/passwd", data)
    assert not blobs.has(name)


def test_a_crash_mid_write_leaves_no_picture_on_disk(tmp_path):
    store = DiskBlobs(tmp_path)
    data = b"x" * 1000
    name = hashlib.sha256(data).hexdigest()
    store.put(name, data)
    assert [path.name for path in tmp_path.rglob("*") if path.is_file()] == [name]
