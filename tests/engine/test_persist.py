"""Crash-safe writes: atomic replace, readable errors for a full or read-only disk, damaged files moved aside."""
import errno
import json
import os

import numpy as np
import pytest

from engine import persist
from engine.export import read_png_metadata, save_png
from engine.persist import StorageError, quarantine, read_json, write_json


def test_a_write_replaces_the_file_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "a" / "settings.json"
    write_json(path, {"v": 1})
    assert json.loads(path.read_text()) == {"v": 1}

    def killed(*_):  # the process dies between writing the temp file and the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp file left behind


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"),
                                         (errno.EACCES, "permission denied")])
def test_disk_full_or_read_only_is_a_storage_error_with_a_readable_reason(tmp_path, monkeypatch, code, words):
    path = tmp_path / "x.json"
    write_json(path, {"old": True})

    def full(self, data):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(type(path), "write_bytes", full)
    with pytest.raises(StorageError) as e:
        write_json(path, {"new": True})
    assert words in str(e.value) and str(path) in str(e.value)
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_a_png_write_interrupted_mid_file_leaves_no_png(tmp_path, monkeypatch):
    from PIL import Image

    def dies(self, fp, *a, **k):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", dies)
    with pytest.raises(StorageError, match="the disk is full"):
        save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.png", {"a": 1})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.png", {"a": 1})
    assert read_png_metadata(tmp_path / "out.png") == {"a": 1}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "", "\xff\xfe garbage"])
def test_a_damaged_json_file_is_moved_aside_never_lost(tmp_path, content):
    path = tmp_path / "wardrobe.json"
    path.write_bytes(content.encode("latin-1"))
    data, note = read_json(path)
    assert data is None and "was damaged" in note and "moved aside" in note
    kept = list(tmp_path.glob("wardrobe.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content.encode("latin-1") and not path.exists()
    assert read_json(path) == (None, "")  # missing: no note


def test_quarantine_never_overwrites_an_earlier_damaged_copy(tmp_path):
    for i in range(3):
        (tmp_path / "s.json").write_text(str(i))
        quarantine(tmp_path / "s.json")
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["0", "1", "2"]


def test_describe_os_error_names_path_and_reason(tmp_path):
    msg = persist.describe_os_error(OSError(errno.EDQUOT, "Disk quota exceeded"), tmp_path / "g")
    assert "quota" in msg and str(tmp_path / "g") in msg


def test_staging_folder_commits_by_rename_and_cleans_up_a_failed_write(tmp_path):
    import errno

    from engine.persist import StorageError, staging_folder

    with staging_folder(tmp_path, ".staging-a-") as stage:
        (stage / "f.txt").write_text("x")
        stage.rename(tmp_path / "a")
    assert (tmp_path / "a" / "f.txt").read_text() == "x" and [p.name for p in tmp_path.iterdir()] == ["a"]
    with pytest.raises(StorageError, match="the disk is full"):
        with staging_folder(tmp_path, ".staging-b-"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["a"]  # the half-written folder is gone
