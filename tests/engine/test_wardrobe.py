"""The wardrobe: kept garments survive restarts, damaged items are moved aside (never lost), search, folders."""
import errno
import json
import os

import numpy as np
import pytest

from engine import cli
from engine.export import read_png_metadata
from engine.paths import SAMPLES
from engine.persist import StorageError
from engine.wardrobe import DAMAGED, REMOVED, UnknownItem, Wardrobe, normalize_tags, pixel_sha256


def garment(seed: int, h: int = 40, w: int = 30) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def wardrobe(tmp_path):
    w = Wardrobe(tmp_path / "wardrobe")
    w.add(garment(1), "Blue stripes", ["Stripes", "blue"], "try-off of anna.jpg, job 3", {"request": {"seed": 7}},
          created=1000.0)
    w.add(garment(2), "Red polo", "red, Polo ", "gallery 20250101-120000-try-off", created=2000.0)
    w.add(garment(3), "", ["stripes", "red"], "file tee.png", created=3000.0)
    return w


def snapshot(w: Wardrobe) -> list[dict]:
    return [i.info() for i in w.items()]


def test_add_keeps_pixels_fields_and_metadata_newest_first(wardrobe):
    items = wardrobe.items()
    assert [i.created for i in items] == [3000.0, 2000.0, 1000.0]
    third, polo, blue = items
    assert polo.tags == ["red", "polo"] and blue.tags == ["stripes", "blue"]
    assert third.name.startswith("File tee.png · ")  # default name: source + date
    assert np.array_equal(wardrobe.image(blue.id), garment(1))
    assert blue.size == (30, 40) and blue.pixel_sha256 == pixel_sha256(garment(1))
    assert blue.folder == wardrobe.root / blue.id
    assert sorted(p.name for p in blue.folder.iterdir()) == ["garment.png", "item.json", "thumb.png"]
    meta = read_png_metadata(blue.garment)  # the PNG carries what made it, so it re-opens in the window
    assert meta["request"] == {"seed": 7} and meta["wardrobe"]["id"] == blue.id
    assert blue.settings == {"request": {"seed": 7}}
    assert wardrobe.get(polo.id) == polo
    with pytest.raises(UnknownItem, match="no wardrobe item 'nope'"):
        wardrobe.get("nope")


def test_add_refuses_what_is_not_an_rgb_uint8_image(wardrobe):
    for bad in (np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32), "garment.png"):
        with pytest.raises(ValueError, match="RGB uint8"):
            wardrobe.add(bad, "x")
    assert len(wardrobe) == 3 and len(list(wardrobe.root.iterdir())) == 3


def test_tags_are_normalised():
    assert normalize_tags([" Stripes", "stripes", "Long  Sleeve", "", "a,B"]) == ["stripes", "long sleeve", "a", "b"]
    assert normalize_tags("Red, red ,  ") == ["red"] and normalize_tags(None) == []


@pytest.mark.parametrize("text, names", [
    ("", ["*", "Red polo", "Blue stripes"]),
    ("STRIPES", ["*", "Blue stripes"]),
    ("red", ["*", "Red polo"]),
    ("red stripes", ["*"]),               # words AND
    ("tag:red", ["*", "Red polo"]),
    ("tag:stri", []),                      # tag: is an exact tag
    ("anna job", ["Blue stripes"]),       # source is searched
    ('"red polo"', ["Red polo"]),
    ("tee.png", ["*"]),
    ("zebra", []),
])
def test_search_is_case_insensitive_over_name_tags_and_source(wardrobe, text, names):
    found = [i.name if not i.name.startswith("File tee") else "*" for i in wardrobe.search(text)]
    assert found == names


def test_update_and_remove_survive_a_restart(wardrobe):
    blue = wardrobe.search("anna")[0]
    wardrobe.update(blue.id, name="  Navy   stripes ", tags=["Navy", "stripes"])
    polo = wardrobe.search("polo")[0]
    where = wardrobe.remove(polo.id)
    assert where == wardrobe.root / REMOVED / polo.id and (where / "garment.png").is_file()  # recoverable
    again = Wardrobe(wardrobe.root)  # a restart
    assert snapshot(again) == snapshot(wardrobe) and len(again) == 2 and again.load_notes == []
    assert again.get(blue.id).name == "Navy stripes" and again.get(blue.id).tags == ["navy", "stripes"]
    assert np.array_equal(again.image(blue.id), garment(1))
    with pytest.raises(UnknownItem):
        again.get(polo.id)
    assert again.update(blue.id, name="").name.startswith("Try-off of anna.jpg · ")  # empty -> default


def test_damaged_items_are_moved_aside_with_a_note_and_the_rest_loads(wardrobe):
    root = wardrobe.root
    blue, polo, third = (wardrobe.search(t)[0] for t in ("anna", "polo", "tee.png"))
    (blue.folder / "item.json").write_text('{"id": "trunc')                   # bad JSON
    (polo.folder / "garment.png").unlink()                                   # missing garment
    item = json.loads((third.folder / "item.json").read_text())
    item["tags"] = "red"                                                     # wrong type
    (third.folder / "item.json").write_text(json.dumps(item))
    wardrobe.add(garment(4), "Good one", created=4000.0)
    (root / ".staging-20250101-000000-abcdef-x1").mkdir()                     # an interrupted save
    (root / ".staging-20250101-000000-abcdef-x1" / "garment.png").write_bytes(b"\x89PNG")
    (root / "notes.txt").write_text("garbage")                               # a stray file
    (root / "empty").mkdir()                                                 # a folder with no item.json

    again = Wardrobe(root)
    assert [i.name for i in again.items()] == ["Good one"]
    notes = again.load_notes
    assert notes[0] == f"6 wardrobe items could not be read and were moved to {root / DAMAGED} (nothing was deleted)."
    text = "\n".join(notes[1:])
    assert "damaged" in text and "garment.png is missing" in text and "'tags' is text, not a list" in text
    assert "interrupted save" in text and "stray file" in text and "item.json is missing" in text
    damaged = sorted(p.name for p in (root / DAMAGED).iterdir())
    assert damaged == sorted([blue.id, polo.id, third.id, "20250101-000000-abcdef-x1", "notes.txt", "empty"])
    # nothing was deleted: the bad JSON kept aside inside its folder, the other files as they were
    kept = list((root / DAMAGED / blue.id).glob("item.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_text() == '{"id": "trunc'
    assert (root / DAMAGED / "notes.txt").read_text() == "garbage"
    assert (root / DAMAGED / polo.id / "item.json").is_file()
    # and the next start is clean
    assert Wardrobe(root).load_notes == [] and len(Wardrobe(root)) == 1


def test_a_kill_mid_add_leaves_no_half_item(wardrobe, monkeypatch):
    before = snapshot(wardrobe)

    def killed(self, target):
        raise KeyboardInterrupt  # the process dies just before the staging folder is renamed into place

    monkeypatch.setattr(type(wardrobe.root), "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        wardrobe.add(garment(9), "never")
    monkeypatch.undo()
    again = Wardrobe(wardrobe.root)
    assert snapshot(again) == before
    assert len(again.load_notes) == 2 and "interrupted save" in again.load_notes[1]


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only")])
def test_a_failed_write_is_a_storage_error_and_changes_nothing(wardrobe, monkeypatch, code, words):
    from PIL import Image

    before = snapshot(wardrobe)
    files = sorted(str(p) for p in wardrobe.root.rglob("*"))
    blue = wardrobe.search("anna")[0]

    def fails(*a, **k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Image.Image, "save", fails)
    with pytest.raises(StorageError) as e:
        wardrobe.add(garment(9), "never")
    assert words in str(e.value) and str(wardrobe.root) in str(e.value)
    monkeypatch.setattr(type(wardrobe.root), "write_bytes", fails)
    with pytest.raises(StorageError, match=words):
        wardrobe.update(blue.id, name="renamed")
    monkeypatch.setattr(os, "replace", fails)
    with pytest.raises(StorageError, match=words):
        wardrobe.remove(blue.id)
    monkeypatch.undo()
    assert snapshot(wardrobe) == before and snapshot(Wardrobe(wardrobe.root)) == before
    assert sorted(str(p) for p in wardrobe.root.rglob("*")) == files  # no staging or temp files left


def test_export_then_import_into_an_empty_wardrobe_round_trips(wardrobe, tmp_path):
    out = wardrobe.export([i.id for i in wardrobe.items()], tmp_path / "export")
    index = json.loads((out / "wardrobe.json").read_text())
    assert index["kind"] == "omfa-wardrobe" and len(index["items"]) == 3
    for i in wardrobe.items():
        assert sorted(p.name for p in (out / i.id).iterdir()) == ["garment.png", "item.json"]
    other = Wardrobe(tmp_path / "other")
    added, notes = other.import_folder(out)
    assert len(added) == 3 and notes == []
    assert snapshot(other) == snapshot(wardrobe)  # ids, names, tags, sources, dates, settings, hashes
    for i in wardrobe.items():
        assert np.array_equal(other.image(i.id), wardrobe.image(i.id))
    assert snapshot(Wardrobe(other.root)) == snapshot(wardrobe)
    # importing again adds nothing, and says why
    again, notes = other.import_folder(out)
    assert again == [] and len(notes) == 3 and all("already in the wardrobe" in n for n in notes)
    assert len(Wardrobe(other.root)) == 3
    # the same pixels under another name are still a duplicate
    assert other.import_folder(wardrobe.root)[0] == []


def test_import_takes_the_good_items_and_reports_the_bad_ones(wardrobe, tmp_path):
    out = wardrobe.export([i.id for i in wardrobe.items()], tmp_path / "export")
    blue, polo, third = (wardrobe.search(t)[0] for t in ("anna", "polo", "tee.png"))
    (out / blue.id / "item.json").write_text("{not json")
    (out / polo.id / "garment.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (out / "holiday photos").mkdir()
    source_files = sorted((str(p), p.stat().st_size) for p in out.rglob("*"))
    other = Wardrobe(tmp_path / "other")
    added, notes = other.import_folder(out)
    assert [i.name for i in added] == [third.name] and [i.id for i in other.items()] == [third.id]
    assert len(notes) == 3 and all("not imported" in n for n in notes)
    text = "\n".join(notes)
    assert f"{blue.id}: not imported: item.json is not valid JSON" in text
    assert f"{polo.id} ('Red polo'): not imported: garment.png is" in text and "truncated" in text
    assert "holiday photos: not imported: it has no item.json" in text
    assert sorted((str(p), p.stat().st_size) for p in out.rglob("*")) == source_files  # the source is untouched


def test_export_refuses_a_folder_holding_other_things_and_import_a_missing_one(wardrobe, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.docx").write_text("x")
    with pytest.raises(ValueError, match="not empty and is not a wardrobe export"):
        wardrobe.export([wardrobe.items()[0].id], busy)
    assert [p.name for p in busy.iterdir()] == ["thesis.docx"]
    with pytest.raises(ValueError, match="no such folder"):
        wardrobe.import_folder(tmp_path / "nowhere")
    # exporting into an earlier export adds to it
    first, second = wardrobe.items()[:2]
    wardrobe.export([first.id], tmp_path / "e")
    wardrobe.export([second.id], tmp_path / "e")
    index = json.loads((tmp_path / "e" / "wardrobe.json").read_text())
    assert sorted(e["folder"] for e in index["items"]) == sorted([first.id, second.id])


def test_default_root_is_in_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("OMFA_DATA_DIR", str(tmp_path / "data"))
    assert Wardrobe().root == tmp_path / "data" / "wardrobe"


def test_cli_add_list_export_import(tmp_path, capsys):
    root, root2 = str(tmp_path / "w"), str(tmp_path / "w2")
    g = str(SAMPLES / "demo_001_garment.png")
    assert cli.main(["wardrobe", "add", g, "--name", "Demo tee", "--tag", "Demo", "--tag", "blue,cotton",
                     "--root", root]) == 0
    assert cli.main(["wardrobe", "--root", root, "add", str(SAMPLES / "demo_002_garment.png")]) == 0
    capsys.readouterr()
    assert cli.main(["wardrobe", "list", "--search", "tag:cotton", "--root", root]) == 0
    out = capsys.readouterr().out
    assert "Demo tee  [demo, blue, cotton]  (file demo_001_garment.png)" in out and "demo_002" not in out
    assert cli.main(["wardrobe", "export", str(tmp_path / "e"), "--root", root]) == 0
    assert cli.main(["wardrobe", "import", str(tmp_path / "e"), "--root", root2]) == 0
    assert "imported 2 item(s)" in capsys.readouterr().out
    assert cli.main(["wardrobe", "import", str(tmp_path / "e"), "--root", root2]) == 0
    assert "already in the wardrobe" in capsys.readouterr().err
    assert cli.main(["wardrobe", "list", "--json", "--root", root2]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["name"] for i in listed][1] == "Demo tee" and listed[1]["tags"] == ["demo", "blue", "cotton"]


@pytest.mark.parametrize("argv, words", [
    (["add", __file__], "not an image file"),
    (["add", "/nonexistent.png"], "no such file"),
    (["import", "/nonexistent"], "no such folder"),
    (["export", "OUT", "--search", "zebra"], "no wardrobe items match 'zebra'"),
    ([], "needs one of"),
])
def test_cli_bad_input_is_one_line_not_a_traceback(tmp_path, capsys, argv, words):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    code = cli.main(["wardrobe", "--root", str(tmp_path / "w"), *argv])
    err = capsys.readouterr().err
    assert code in (1, 2) and words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
