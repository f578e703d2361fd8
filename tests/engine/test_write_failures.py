"""Write failures are one clear line naming the path, before the model runs where they can be known (``--out``
that is a folder, under a file, too long, on a read-only or full disk), and after a run without losing the
work already written; leftover ``*.part`` files of interrupted writes go at the next start."""
import errno
import os
import time
from collections import namedtuple

import pytest
from PIL import Image

from engine import cli, persist
from engine.paths import SAMPLES
from engine.persist import StorageError

from omfa_testing import small_model_folder

PERSON = str(SAMPLES / "demo_000_person.png")


def _try_off(out, *extra):
    return ["try-off", "--person", PERSON, "--steps", "1", "--quiet", "--out", str(out),
            "--model", str(small_model_folder()), *extra]


@pytest.fixture
def no_generation(monkeypatch):
    """Any generation fails the test: the --out check must come first."""
    from engine.pipeline import Pipeline

    def run(*a, **k):
        raise AssertionError("the model ran although --out could not be written")

    monkeypatch.setattr(Pipeline, "run", run)


def _one_line(capsys) -> str:
    """The one error line (the untrained small model's warning and progress lines may come before it)."""
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert "Traceback" not in err and len(errors) == 1 and err.endswith(errors[0]), err
    return errors[0]


@pytest.mark.parametrize("case", ["folder", "under a file", "name too long", "full disk", "read-only"])
def test_an_out_that_cannot_be_written_is_refused_before_generating(case, tmp_path, capsys, monkeypatch,
                                                                     no_generation):
    (tmp_path / "afile").write_text("x")
    out, words = {"folder": (tmp_path, "it is a folder"),
                  "under a file": (tmp_path / "afile" / "g.png", "afile is a file, not a folder"),
                  "name too long": (tmp_path / ("x" * 300 + ".png"), "longer than 255 bytes"),
                  "full disk": (tmp_path / "g.png", "the disk is full"),
                  "read-only": (tmp_path / "ro" / "g.png", "the drive is read-only")}[case]
    if case == "full disk":  # a real full tmpfs is shown in the README; here statvfs reports 4 KB free
        st = namedtuple("st", "f_bavail f_frsize")
        monkeypatch.setattr(os, "statvfs", lambda p: st(1, 4096))
    if case == "read-only":
        real = persist.tempfile.mkstemp

        def ro(*a, dir=None, **k):
            if "ro" in str(dir):
                raise OSError(errno.EROFS, "Read-only file system")
            return real(*a, dir=dir, **k)

        monkeypatch.setattr(persist.tempfile, "mkstemp", ro)
    assert cli.main(_try_off(out)) == 1
    err = _one_line(capsys)
    assert words in err and "--out" in err
    assert str(out)[:20] in err


def test_check_writable_for_folders_sets_the_path(tmp_path):
    from engine.persist import check_writable

    (tmp_path / "afile").write_text("x")
    with pytest.raises(StorageError) as e:
        check_writable(tmp_path / "afile", folder=True)
    assert "is a file, not a folder" in str(e.value) and e.value.path == str(tmp_path / "afile")
    assert "[Errno" not in str(e.value)  # a message for people, not OSError's programmer form
    assert check_writable(tmp_path / "new" / "deeper", folder=True).is_dir()


def test_a_disk_that_fills_during_the_run_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "g.png"

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(persist, "_fsync", full)
    assert cli.main(_try_off(out)) == 1
    err = _one_line(capsys)
    assert f"could not write {out}: the disk is full" in err
    assert list(tmp_path.iterdir()) == []  # no half file, no .part left


def test_batch_keeps_its_items_when_the_contact_sheet_cannot_be_written(tmp_path, capsys, monkeypatch):
    people, garments = tmp_path / "people", tmp_path / "garments"
    people.mkdir()
    garments.mkdir()
    Image.open(SAMPLES / "demo_000_person.png").save(people / "ann.png")
    Image.open(SAMPLES / "demo_000_garment.png").save(garments / "red.png")
    real = persist._fsync

    def sheet_fails(path):
        if "contact_sheet" in path.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path)

    monkeypatch.setattr(persist, "_fsync", sheet_fails)
    out = tmp_path / "out"
    assert cli.main(["batch", "--people", str(people), "--garments", str(garments),
                     "--poses", str(SAMPLES / "demo_000_guide.png"), "--out", str(out), "--steps", "1", "--quiet",
                     "--model", str(small_model_folder())]) == 1
    err = _one_line(capsys)
    assert "contact_sheet.png: the disk is full" in err and "1 made" in err and "kept" in err
    assert len(list((out / "items").glob("*.png"))) == 1


def test_leftover_part_files_of_dead_writers_are_removed_at_the_next_start(tmp_path):
    from engine.persist import check_writable, remove_leftover_parts

    dead = tmp_path / ".g.png.999999999.abc123xy.part"        # no process has this id
    live = tmp_path / f".h.png.{os.getpid()}.abc123xy.part"  # being written right now by this process
    old = tmp_path / ".i.png.k2j4h5g6.part"                  # an older version's name, hours old
    young = tmp_path / ".j.png.q1w2e3r4.part"                # same, but it may still be being written
    deep = tmp_path / "items" / ".k.png.999999999.zz9yy8xx.part"
    for p in (dead, live, old, young, deep):
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"half a png")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert remove_leftover_parts(tmp_path) == 2
    assert not dead.exists() and not old.exists() and live.exists() and young.exists() and deep.exists()
    assert remove_leftover_parts(tmp_path, recursive=True) == 1 and not deep.exists()
    # a command's --out check cleans its folder
    dead.write_bytes(b"x")
    check_writable(tmp_path / "g.png")
    assert not dead.exists()


def test_a_write_names_its_part_file_with_the_writer_process(tmp_path, monkeypatch):
    seen = []
    real = persist._fsync

    def spy(path):
        seen.append(path.name)
        real(path)

    monkeypatch.setattr(persist, "_fsync", spy)
    persist.write_text(tmp_path / "a.txt", "x")
    assert seen and seen[0].startswith(f".a.txt.{os.getpid()}.") and seen[0].endswith(".part")
