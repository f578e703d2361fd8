"""Batch: planning from folders and CSV, resuming after an interruption, garment photos taken off once,
the contact sheet, failures reported per item."""
import threading

import numpy as np
import pytest
from PIL import Image

from engine.batch import BatchError, BatchItem, BatchRunner, plan_csv, plan_folders
from engine.device import select_device
from engine.export import read_png_metadata
from engine.media import read_settings
from engine.pipeline import Pipeline

from omfa_testing import count_rows, tiny_model

SAMPLING = {"steps": 2, "guidance": 2.0, "scheduler": "ddim", "seed": 0}


@pytest.fixture
def pipe():
    return Pipeline(tiny_model(), select_device("cpu"))


def _png(path, rng, w=32, h=32):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _person(path, i):
    """A synthetic person photo (the person gate lets people through, not noise)."""
    from engine.paths import SAMPLES

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(SAMPLES / f"demo_00{i}_person.png").save(path)
    return path


@pytest.fixture
def inputs(tmp_path, rng):
    """people/{anna,ben}.png, heads/ (same names), garments/{red,blue}.png (photos of people wearing them, so
    they serve as flat garments and as garment photos), a guide image as the pose."""
    for i, n in enumerate(("anna", "ben")):
        _person(tmp_path / "people" / f"{n}.png", i)
        _png(tmp_path / "heads" / f"{n}.png", rng)
    for i, n in enumerate(("red", "blue")):
        _person(tmp_path / "garments" / f"{n}.png", i + 2)
    _png(tmp_path / "poses" / "guide1.png", rng)
    return tmp_path


def _plan(d, **kw):
    return plan_folders(d / "people", d / "garments", [str(d / "poses" / "guide1.png")], heads=d / "heads", **kw)


def test_plan_is_people_x_garments_x_poses_with_matching_heads(inputs):
    items = _plan(inputs)
    assert [i.key for i in items] == ["anna__blue__guide1", "anna__red__guide1", "ben__blue__guide1",
                                      "ben__red__guide1"]
    assert all(i.head.stem == i.person.stem for i in items)


def test_interrupted_batch_resumes_without_redoing_finished_items(pipe, inputs, tmp_path):
    items = _plan(inputs)
    out = tmp_path / "out"
    cancel = threading.Event()
    seen = []

    def progress(done, total, outcome):
        seen.append(outcome.status)
        if done == 2:
            cancel.set()  # the user interrupts after two items

    report = BatchRunner(pipe, out, SAMPLING).run(items, progress, cancel)
    assert report.cancelled and seen == ["done", "done"] and report.count("done") == 2
    made = sorted(p.name for p in (out / "items").glob("*.png"))
    assert made == ["anna__blue__guide1.png", "anna__red__guide1.png"]
    first = {p: p.stat().st_mtime_ns for p in (out / "items").glob("*.png")}

    rows = count_rows(pipe)
    report = BatchRunner(pipe, out, SAMPLING).run(items)
    assert [o.status for o in report.outcomes] == ["skipped", "skipped", "done", "done"]
    assert len(rows) == 2 * SAMPLING["steps"]  # only the two remaining items ran
    assert all(p.stat().st_mtime_ns == t for p, t in first.items())  # finished files untouched
    meta = read_png_metadata(out / "items" / "ben__red__guide1.png")
    assert meta["batch"]["key"] == "ben__red__guide1" and meta["request"]["task"] == "try-on"
    assert meta["request"]["steps"] == 2

    # a third run does nothing; changed settings redo everything
    rows.clear()
    assert BatchRunner(pipe, out, SAMPLING).run(items).count("skipped") == 4 and rows == []
    assert BatchRunner(pipe, out, {**SAMPLING, "seed": 1}).run(items).count("done") == 4


def test_damaged_result_is_made_again(pipe, inputs, tmp_path):
    items = _plan(inputs)[:1]
    out = tmp_path / "out"
    BatchRunner(pipe, out, SAMPLING).run(items)
    (out / "items" / f"{items[0].key}.png").write_bytes(b"\x89PNG broken")
    assert BatchRunner(pipe, out, SAMPLING).run(items).outcomes[0].status == "done"


def test_garment_photos_are_taken_off_once_and_chained(pipe, inputs, tmp_path):
    items = _plan(inputs, garment_photos=True)
    tasks = []
    run = pipe.run
    pipe.run = lambda r, *a: (tasks.append(r.task), run(r, *a))[1]
    report = BatchRunner(pipe, tmp_path / "out", SAMPLING).run(items)
    assert report.count("done") == 4
    assert tasks.count("try-off") == 2 and tasks.count("try-on") == 4  # one try-off per garment photo
    garment = tmp_path / "out" / "garments" / "red.png"
    assert read_png_metadata(garment)["request"]["chain"]["stage"] == 0
    meta = read_png_metadata(tmp_path / "out" / "items" / "anna__red-photo__guide1.png")
    assert meta["request"]["chain"] == {"kind": "person-to-person", "stage": 1, "of": 2,
                                        "name": "put it on the client", "garment_from": "garments/red.png"}


def test_contact_sheet_and_html_list_every_item_and_failures(pipe, inputs, tmp_path):
    items = _plan(inputs)
    bad = BatchItem(inputs / "people" / "anna.png", inputs / "garments" / "red.png",
                    str(inputs / "poses" / "guide1.png"), head=_png(inputs / "odd" / "x.png",
                                                                     np.random.default_rng(1), 8, 8))
    report = BatchRunner(pipe, tmp_path / "out", SAMPLING).run(items + [bad])
    assert report.count("done") == 4 and report.count("failed") == 1
    assert "too small" in report.outcomes[-1].error
    assert (tmp_path / "out" / "items" / f"{bad.key}.error.txt").is_file()
    sheet = np.asarray(Image.open(report.sheet))
    assert sheet.shape[0] > 2 * 32 and read_settings(report.sheet)["batch"]["made"] == 4
    html = report.html.read_text()
    assert bad.key == "anna+x__red__guide1"  # its own file, though person, garment and pose are shared
    assert html.count("<figure>") == 5 and "too small" in html and 'src="items/anna__red__guide1.png"' in html
    assert "1 failed" in report.summary()


def test_csv_plan_and_its_errors(inputs, tmp_path):
    csv = tmp_path / "jobs.csv"
    csv.write_text("person,garment,pose,head,garment_kind\n"
                   "people/anna.png,garments/red.png,walking,heads/anna.png,photo\n"
                   "people/ben.png,garments/blue.png,poses/guide1.png,,\n")
    a, b = plan_csv(csv)
    assert a.garment_is_photo and a.pose == "walking" and a.head.name == "anna.png"
    assert not b.garment_is_photo and b.head is None and b.pose.endswith("guide1.png")
    for text, words in [("who,what\n1,2\n", "header row"),
                        ("person,garment,pose\npeople/zoe.png,garments/red.png,walking\n", "line 2: person file"),
                        ("person,garment,pose\npeople/anna.png,garments/red.png,moonwalk\n", "line 2: pose 'moonwalk'"),
                        ("person,garment,pose,garment_kind\npeople/anna.png,garments/red.png,walking,hat\n",
                         "garment_kind")]:
        csv.write_text(text)
        with pytest.raises(BatchError, match=words):
            plan_csv(csv)
    with pytest.raises(BatchError, match="does not exist"):
        plan_folders(tmp_path / "nope", inputs / "garments", ["walking"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchError, match="has no images"):
        plan_folders(tmp_path / "empty", inputs / "garments", ["walking"])


def test_two_items_that_would_share_a_file_are_refused(pipe, inputs, tmp_path):
    a = BatchItem(inputs / "people" / "anna.png", inputs / "garments" / "red.png", "walking")
    b = BatchItem(inputs / "heads" / "anna.png", inputs / "garments" / "red.png", "walking")
    with pytest.raises(BatchError, match="both be saved as anna__red__walking.png"):
        BatchRunner(pipe, tmp_path / "out", SAMPLING).run([a, b])


def test_an_input_deleted_after_planning_fails_that_item_only(pipe, inputs, tmp_path):
    items = _plan(inputs)
    (inputs / "garments" / "red.png").unlink()  # gone between planning and running
    report = BatchRunner(pipe, tmp_path / "out", SAMPLING).run(items)
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert report.count("done") == 2 and len(failed) == 2
    assert all("red.png" in o.error for o in failed), [o.error for o in failed]
    (tmp_path / "out" / "items" / "anna__blue__guide1.png").write_bytes(b"\x89PNG damaged")
    sheet, html = BatchRunner(pipe, tmp_path / "out", SAMPLING).write_sheet(items)  # no traceback
    assert "not made" in html.read_text()


def test_entries_that_are_not_image_files_are_listed_with_why_never_opened(inputs, tmp_path):
    """A FIFO named like an image (reading it would hang), a folder, a dangling link, a text file: skipped,
    each said with its reason; a link to a real image is used."""
    import os

    people = inputs / "people"
    os.mkfifo(people / "pipe.png")
    (people / "album.png").mkdir()
    (people / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (people / "notes.txt").write_text("x")
    (people / ".DS_Store").write_bytes(b"x")
    (people / "cara.png").symlink_to(people / "anna.png")
    skipped = []
    items = _plan(inputs, skipped=skipped)
    assert sorted({i.person.name for i in items}) == ["anna.png", "ben.png", "cara.png"]
    why = {p.name: reason for p, reason in skipped}
    assert why == {"pipe.png": "a named pipe (FIFO), not a file", "album.png": "a folder (folders are not searched)",
                   "gone.png": "a link to nothing (its target is missing)",
                   "notes.txt": why["notes.txt"]} and "not an image type (.txt" in why["notes.txt"]


def test_a_contact_sheet_that_cannot_be_written_keeps_the_items_and_says_so(pipe, inputs, tmp_path, monkeypatch):
    from engine import persist

    real = persist._fsync

    def sheet_fails(path):
        if "contact_sheet" in path.name:
            raise OSError(28, "No space left on device")
        real(path)

    monkeypatch.setattr(persist, "_fsync", sheet_fails)
    items = _plan(inputs)[:1]
    report = BatchRunner(pipe, tmp_path / "out", SAMPLING).run(items)
    assert report.count("done") == 1 and report.sheet is None
    assert "contact_sheet.png: the disk is full" in report.summary()
