"""The workspace maps s3:// URIs to files, writes atomically and never lets a key climb out."""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat

import pytest

from conftest import read_only_open
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.stores import Workspace, etag_of, exclusively, parse_s3_uri, write_atomic


def test_uris_map_to_files_under_the_workspace(tmp_path):
    store = Workspace.resolve(tmp_path)
    assert store.path_of("s3://bucket/a/b.csv") == tmp_path / "s3" / "bucket" / "a" / "b.csv"
    assert store.uri_of(tmp_path / "s3" / "bucket" / "a" / "b.csv") == "s3://bucket/a/b.csv"


def test_the_workspace_comes_from_the_flag_then_the_environment_then_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_WORKSPACE", str(tmp_path / "env"))
    assert Workspace.resolve(tmp_path / "flag").root == tmp_path / "flag"
    assert Workspace.resolve().root == tmp_path / "env"
    monkeypatch.delenv("MLOPS_WORKSPACE")
    monkeypatch.chdir(tmp_path)
    assert Workspace.resolve().root == tmp_path / ".mlops"


@pytest.mark.parametrize(
    "uri, message",
    [
        ("/local/file", "not an s3:// URI"),
        ("s3:///key", "without a bucket"),
        ("s3://../other/x", "invalid bucket name"),
    ],
)
def test_bad_uris_are_rejected_with_the_uri_named(tmp_path, uri, message):
    with pytest.raises(PipelineError, match=message):
        Workspace.resolve(tmp_path).path_of(uri)
    assert parse_s3_uri("s3://b/k/x") == ("b", "k/x")


LEGAL_KEYS = [
    "../other/x",
    "a/../../b",
    "./x",
    "..",
    "a//b",
    "dir/",
    "/lead",
    "100%/25",
    "%+x",
    ".hidden",
    "train [v2].csv",
    "données/été.csv",
    "tab\tand\nnewline",
    "k" * 1024,
    "é/" + "é" * 400,
]


@pytest.mark.parametrize("key", LEGAL_KEYS, ids=range(len(LEGAL_KEYS)))
def test_every_legal_key_is_stored_inside_its_bucket_and_listed_by_its_own_name(tmp_path, key):
    store = Workspace.resolve(tmp_path / "ws")
    path = store.put_bytes("bucket", key, key.encode())
    bucket = store.path("bucket")
    assert bucket in path.resolve().parents and path.read_bytes() == key.encode()
    assert all(part not in (".", "..") and len(part.encode()) <= 255 for part in path.relative_to(bucket).parts)
    assert [k for k, _ in store.objects("bucket")] == [key]
    assert store.uri_of(path) == f"s3://bucket/{key}"
    assert [p.name for p in tmp_path.iterdir()] == ["ws"]  # nothing written beside the workspace


def test_objects_are_listed_by_key_without_writers_temp_files(tmp_path):
    store = Workspace.resolve(tmp_path)
    store.put_bytes("b", "p/2.csv", b"2")
    store.put_bytes("b", "p/1.csv", b"1")
    store.put_bytes("b", "q/3.csv", b"3")
    (store.path("b", "p") / ".2.csv.partial").write_bytes(b"half")
    assert [key for key, _ in store.objects("b", "p/")] == ["p/1.csv", "p/2.csv"]
    assert store.buckets() == ["b"]


def test_put_file_copies_and_leaves_the_source_untouched(tmp_path):
    source = tmp_path / "mine.csv"
    source.write_bytes(b"a,b\n1,2\n")
    before = source.stat().st_mtime_ns
    target = Workspace.resolve(tmp_path / "ws").put_file("b", "data/mine.csv", source)
    assert target.read_bytes() == source.read_bytes() and source.stat().st_mtime_ns == before


def test_a_failed_atomic_write_leaves_the_old_content_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    write_atomic(target, b"old")

    def no_space(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr("mlops_pipeline.local.stores.os.replace", no_space)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_etag_is_the_quoted_md5_of_the_content(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"hello")
    assert etag_of(path) == f'"{hashlib.md5(b"hello").hexdigest()}"'


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_permissions_of_any_new_file(tmp_path, umask, mode):
    """Predictions and reports are opened and shared like the user's own files: 0666 less the umask."""
    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "predictions.csv", b"id,probability\n")
        source = tmp_path / "landed.csv"
        source.write_bytes(b"id\n")
        source.chmod(0o400 if mode != 0o400 else 0o600)  # a copy gets a new file's mode, not its source's
        Workspace.resolve(tmp_path / "ws").put_file("bucket", "data/x.csv", source)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "predictions.csv").stat().st_mode) == mode
    assert stat.S_IMODE(Workspace.resolve(tmp_path / "ws").path("bucket", "data/x.csv").stat().st_mode) == mode


def test_a_lock_in_a_workspace_this_process_may_only_read_is_taken_read_only_or_not_at_all(tmp_path, monkeypatch):
    import builtins

    from mlops_pipeline.local import stores

    present = tmp_path / "present.lock"
    present.write_text("")
    monkeypatch.setattr(stores, "open", read_only_open(builtins.open), raising=False)
    with exclusively(tmp_path / "absent.lock"):
        assert not (tmp_path / "absent.lock").exists()
    with exclusively(present), open(present) as other:
        with pytest.raises(BlockingIOError):  # held: another holder waits its turn
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
