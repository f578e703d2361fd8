"""The input dialogs of the chained jobs (omfa_desktop.dialogs): batch, turntable, person to person, layer.

No file dialogs: every input is set with the dialogs' setters, as the window does when it restores them.
"""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from engine.batch import OWN_POSE
from engine.paths import SAMPLES


def _png(path: Path, value: int = 120, size=(24, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


@pytest.fixture
def tree(tmp_path):
    """people/ (2 photos), garments/ (3 images), heads/ (1 head, for anna), empty/."""
    for name in ("anna", "ben"):
        _png(tmp_path / "people" / f"{name}.png", 50)
    for name in ("tee", "shirt", "dress"):
        _png(tmp_path / "garments" / f"{name}.png", 200)
    _png(tmp_path / "heads" / "anna.png", 90)
    (tmp_path / "empty").mkdir()
    return tmp_path


def _batch(qtbot, **paths):
    from omfa_desktop.dialogs import BatchDialog

    d = BatchDialog(start_dir=str(paths.get("people", "")))
    qtbot.addWidget(d)
    d.show()
    if paths:
        d.set_paths(**paths)
    return d


def _ok(d) -> bool:
    return d.ok_button.isEnabled()


# ---------------------------------------------------------------------------------------------- batch
def test_batch_folders_summary_ok_state_and_items_after_enter(qtbot, tree):
    d = _batch(qtbot, people=tree / "people", garments=tree / "garments")
    assert not _ok(d)
    assert "Tick at least one pose" in d.summary.text()  # nothing ticked yet
    d.set_poses(["walking", "t_pose"])
    assert "2 people × 3 garments × 2 poses = 12 try-ons" in d.summary.text()
    assert not _ok(d) and "Choose an output folder" in d.summary.text()   # the plan is good, no output yet
    d.set_paths(out=tree / "results")
    assert _ok(d) and d.problem == "" and d.summary.text() == "2 people × 3 garments × 2 poses = 12 try-ons"
    assert d.items == [] and d.out is None
    qtbot.keyClick(d.out_field.edit, Qt.Key.Key_Return)   # Enter in a field presses OK
    assert d.result() == QDialog.DialogCode.Accepted
    assert d.out == tree / "results" and len(d.items) == 12
    assert {(i.person.name, i.garment.name, i.pose) for i in d.items} == {
        (p, g, pose) for p in ("anna.png", "ben.png") for g in ("dress.png", "shirt.png", "tee.png")
        for pose in ("t_pose", "walking")}
    assert not any(i.garment_is_photo or i.head for i in d.items)


def test_batch_own_pose_pose_files_heads_and_garment_photos_reach_the_items(qtbot, tree):
    pose_json = tree / "my_pose.json"
    pose_json.write_text("{}")
    d = _batch(qtbot, people=tree / "people", garments=tree / "garments", heads=tree / "heads",
               out=tree / "out", garment_photos=True)
    d.set_poses([OWN_POSE, "sitting"])
    d.add_pose_file(pose_json)
    assert d.poses_chosen() == [OWN_POSE, "sitting", str(pose_json)]
    text = d.summary.text()
    assert "2 people × 3 garments × 3 poses = 18 try-ons" in text and "1 of 2 with a head image" in text
    assert "3 try-offs" in text
    d.accept()
    assert d.result() == QDialog.DialogCode.Accepted
    assert {i.pose for i in d.items} == {OWN_POSE, "sitting", str(pose_json)}
    assert all(i.garment_is_photo for i in d.items)
    heads = {i.person.stem: i.head for i in d.items}
    assert heads == {"anna": tree / "heads" / "anna.png", "ben": None}
    # unticking in the list takes a pose out of the plan
    d.poses.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert "2 people × 3 garments × 2 poses = 12 try-ons" in d.summary.text()


@pytest.mark.parametrize("case, words", [
    ("missing people", "does not exist"),
    ("empty garments", "has no images"),
    ("empty heads", "heads folder"),
    ("bad pose", "is not a preset"),
    ("clashing names", "would both be saved as"),
])
def test_batch_folder_problems_are_said_in_red_and_ok_stays_disabled(qtbot, tree, case, words):
    people, garments, heads, poses = tree / "people", tree / "garments", None, ["walking"]
    if case == "missing people":
        people = tree / "nobody"
    elif case == "empty garments":
        garments = tree / "empty"
    elif case == "empty heads":
        heads = tree / "empty"
    elif case == "bad pose":
        poses = ["walking", "moonwalk"]
    else:
        _png(tree / "people" / "anna.jpg", 60)   # anna.png and anna.jpg: the same result name
    d = _batch(qtbot, people=people, garments=garments, heads=heads, out=tree / "out")
    d.set_poses(poses)
    assert words in d.summary.text() and d.problem == d.summary.text()
    assert "Traceback" not in d.summary.text() and "#b42318" in d.summary.styleSheet()
    assert not _ok(d)
    d.accept()   # refused while the plan fails
    assert d.result() != QDialog.DialogCode.Accepted and d.items == [] and d.isVisible()
    qtbot.keyClick(d, Qt.Key.Key_Return)
    assert d.isVisible()


def test_batch_csv_source(qtbot, tree):
    good = tree / "list.csv"
    good.write_text("person,garment,pose,head,garment_kind\n"
                    "people/anna.png,garments/tee.png,own,heads/anna.png,image\n"
                    "people/ben.png,garments/dress.png,walking,,photo\n")
    d = _batch(qtbot, csv=good, out=tree / "out")
    assert d.source() == "csv" and d.tabs.currentIndex() == 1
    assert d.summary.text() == "2 rows in the CSV = 2 try-ons (+ 1 try-off of garment photos first)" and _ok(d)
    d.accept()
    a, b = d.items
    assert (a.person, a.pose, a.head, a.garment_is_photo) == (tree / "people" / "anna.png", OWN_POSE,
                                                              tree / "heads" / "anna.png", False)
    assert (b.garment.name, b.pose, b.head, b.garment_is_photo) == ("dress.png", "walking", None, True)

    for text, words in [("name,file\nanna,x.png\n", "needs a header row with the columns person, garment, pose"),
                        ("person,garment,pose\npeople/anna.png,garments/nope.png,walking\n",
                         "line 2: garment file"),
                        ("person,garment,pose\npeople/anna.png,garments/tee.png,flying\n", "is not a preset"),
                        (b"\xff\xfe\x00bad", "cannot be read as a CSV text file")]:
        bad = tree / "bad.csv"
        bad.write_bytes(text if isinstance(text, bytes) else text.encode())
        d2 = _batch(qtbot, csv=bad, out=tree / "out")
        assert words in d2.summary.text() and not _ok(d2), d2.summary.text()
    d2.set_paths(csv=tree / "missing.csv")
    assert "cannot be read" in d2.summary.text() and not _ok(d2)


def test_batch_values_round_trip_and_esc_cancels(qtbot, tree):
    from omfa_desktop.dialogs import BatchDialog

    pose_png = _png(tree / "guide.png")
    d = _batch(qtbot, people=tree / "people", garments=tree / "garments", heads=tree / "heads", out=tree / "o",
               garment_photos=True)
    d.set_poses([OWN_POSE, "waving", str(pose_png)])
    v = d.values()
    assert v == {"source": "folders", "people": str(tree / "people"), "garments": str(tree / "garments"),
                 "garment_photos": True, "heads": str(tree / "heads"), "csv": "",
                 "poses": [OWN_POSE, "waving", str(pose_png)], "out": str(tree / "o")}
    d2 = BatchDialog()
    qtbot.addWidget(d2)
    d2.set_values(v)
    assert d2.values() == v and _ok(d2)
    pose_png.unlink()   # a remembered pose file that is gone is left out, not an error
    d3 = BatchDialog()
    qtbot.addWidget(d3)
    d3.set_values(v)
    assert d3.poses_chosen() == [OWN_POSE, "waving"] and _ok(d3)
    d3.show()
    qtbot.keyClick(d3, Qt.Key.Key_Escape)
    assert d3.result() == QDialog.DialogCode.Rejected and d3.items == [] and not d3.isVisible()


def test_batch_counts_results_already_in_the_output_folder(qtbot, tree):
    d = _batch(qtbot, people=tree / "people", garments=tree / "garments", out=tree / "out")
    d.set_poses(["walking"])
    _png(tree / "out" / "items" / f"{d.plan[0].key}.png")
    d.set_paths(out=tree / "out")   # re-plan
    assert "1 of them already in the output folder" in d.summary.text() and _ok(d)
    (tree / "afile").write_text("x")
    d.set_paths(out=tree / "afile")
    assert "is a file, not a folder" in d.summary.text() and not _ok(d)


# ---------------------------------------------------------------------------------------------- turntable
def test_turntable_defaults_options_and_cost(qtbot):
    from omfa_desktop.dialogs import TurntableDialog, TurntableOptions, mp4_available

    d = TurntableDialog(views_per_canvas=4)
    qtbot.addWidget(d)
    assert not d.share.isHidden() and "up to 4" in d.share.toolTip()
    one = TurntableDialog()  # a model trained on one person panel: nothing to share, no option
    qtbot.addWidget(one)
    assert one.share.isHidden()
    o = d.options()
    assert o == TurntableOptions(views=8, batch=8, elevation=0.0, fps=8, gif=True, mp4=mp4_available(), sheet=True,
                                 folder="", share_canvas=True)
    assert "8 views = 1 batch;" in d.cost.text()
    d.quick[24].click()
    assert d.views.value() == 24 and d.cost.text().startswith("24 views = 3 batches;")
    d.batch.setValue(10)
    assert d.cost.text().startswith("24 views = 3 batches (the last of 4 views)")
    d.elevation.setValue(-40)   # clamped to the range
    d.fps.setValue(12)
    d.sheet.setChecked(False)
    d.folder.set_text("/tmp/spin")
    d.share.setChecked(False)   # one canvas per view
    assert d.options() == TurntableOptions(24, 10, -30.0, 12, True, mp4_available(), False, "/tmp/spin", False)
    assert (d.views.minimum(), d.views.maximum(), d.batch.minimum(), d.batch.maximum()) == (2, 72, 1, 64)
    assert (d.elevation.maximum(), d.fps.minimum(), d.fps.maximum()) == (45, 1, 30)
    d2 = TurntableDialog(options=d.options())   # restored from the last use
    qtbot.addWidget(d2)
    assert d2.options() == d.options() and d2.options().batches == 3


# ---------------------------------------------------------------------------------------------- person to person
def test_person_to_person_ok_waits_for_both_photos_and_a_bad_file_keeps_the_image(qtbot, tmp_path):
    from engine.images import ImageError, read_image
    from omfa_desktop.dialogs import PersonToPersonDialog

    d = PersonToPersonDialog()
    qtbot.addWidget(d)
    d.show()
    assert not _ok(d) and "photo A" in d.status.text() and "photo B" in d.status.text()
    assert d.set_photo_a(SAMPLES / "demo_000_person.png")
    assert not _ok(d)
    qtbot.keyClick(d, Qt.Key.Key_Return)   # OK disabled: Enter does nothing
    assert d.isVisible()
    assert d.set_photo_b(SAMPLES / "demo_001_person.png")
    assert _ok(d)
    before = d.photo_b.copy()

    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image\n")
    with pytest.raises(ImageError) as e:
        read_image(fake)
    assert d.set_photo_b(fake) is False
    said = d.box_b.error()
    assert e.value.reason in said and "notes.png" in said and d.box_b.message.isVisible()
    assert np.array_equal(d.photo_b, before) and d.paths["photo_b"] == SAMPLES / "demo_001_person.png"
    assert _ok(d) and d.box_a.error() == ""
    assert d.set_photo_b(SAMPLES / "demo_002_person.png")   # a good file clears the error
    assert d.box_b.error() == "" and not d.box_b.message.isVisible()

    # a head image, when chosen, is needed too
    d.set_head_source("image")
    assert not _ok(d) and "head image" in d.status.text() and d.box_head.isEnabled()
    assert d.set_head(SAMPLES / "demo_002_head.png")
    assert _ok(d) and d.head is not None and d.head_source == "image"
    d.set_pose_source("viewport")
    d.accept()
    assert d.result() == QDialog.DialogCode.Accepted
    assert d.pose_source == "viewport"
    assert d.paths == {"photo_a": SAMPLES / "demo_000_person.png", "photo_b": SAMPLES / "demo_002_person.png",
                       "head": SAMPLES / "demo_002_head.png"}
    assert np.array_equal(d.photo_a, read_image(SAMPLES / "demo_000_person.png").pixels)
    d.set_head_source("crop")
    assert d.head is None and d.paths["head"] is None and not d.box_head.isEnabled()


def test_person_to_person_prefilled_from_arrays(qtbot):
    from engine.images import load_image
    from omfa_desktop.dialogs import PersonToPersonDialog

    a = load_image(SAMPLES / "demo_003_person.png")
    d = PersonToPersonDialog(None, photo_a=a)
    qtbot.addWidget(d)
    assert np.array_equal(d.photo_a, a) and d.paths["photo_a"] is None and d.photo_b is None and not _ok(d)
    assert d.pose_source == "own" and d.head is None
    d2 = PersonToPersonDialog(None, photo_a=a, photo_b=SAMPLES / "demo_004_person.png")
    qtbot.addWidget(d2)
    assert _ok(d2) and d2.paths["photo_b"] == SAMPLES / "demo_004_person.png"


# ---------------------------------------------------------------------------------------------- layer
def test_layer_strength_mapping_and_garment(qtbot, tmp_path):
    from engine.images import load_image
    from omfa_desktop.dialogs import LayerDialog

    base = load_image(SAMPLES / "demo_000_person.png")
    d = LayerDialog(base=base)
    qtbot.addWidget(d)
    d.show()
    assert d.strength == 0.75 and d.value_label.text() == "0.75" and d.garment is None and not _ok(d)
    assert (d.slider.minimum(), d.slider.maximum()) == (30, 100)
    for pos, value in [(30, 0.30), (100, 1.0), (42, 0.42)]:
        d.slider.setValue(pos)
        assert d.strength == pytest.approx(value) and d.value_label.text() == f"{value:.2f}"
    d.set_strength(0.1)
    assert d.strength == pytest.approx(0.30)
    d.set_strength(2)
    assert d.strength == 1.0
    d.set_strength(0.55)
    (tmp_path / "x.png").write_bytes(b"%PDF-1.4 not an image")
    assert d.set_garment(tmp_path / "x.png") is False and "PDF" in d.box.error() and not _ok(d)
    assert d.set_garment(SAMPLES / "demo_000_garment.png")
    assert _ok(d) and d.garment_path == SAMPLES / "demo_000_garment.png"
    qtbot.keyClick(d, Qt.Key.Key_Return)
    assert d.result() == QDialog.DialogCode.Accepted and d.strength == pytest.approx(0.55)
    assert np.array_equal(d.garment, load_image(SAMPLES / "demo_000_garment.png"))

    g = load_image(SAMPLES / "demo_001_garment.png")
    d2 = LayerDialog(None, base=base, garment=g, strength=0.9)
    qtbot.addWidget(d2)
    assert _ok(d2) and np.array_equal(d2.garment, g) and d2.garment_path is None and d2.strength == 0.9


# ---------------------------------------------------------------------------------------------- lifetime
def test_dialogs_freed_before_exit_do_not_crash_the_process(tmp_path):
    """PySide6 frees a dialog whose child signal holds a lambda on the dialog in the wrong order (a Bus error
    at exit, every time for the turntable's quick buttons): the dialogs connect bound methods instead."""
    import os
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import numpy as np\n"
        "import omfa_desktop.dialogs as W\n"
        "def f():\n"
        "    img = np.full((128, 96, 3), 90, np.uint8)\n"
        "    ds = [W.BatchDialog(), W.TurntableDialog(), W.PersonToPersonDialog(photo_a=img), "
        "W.LayerDialog(base=img, garment=img)]\n"
        "    for d in ds:\n"
        "        d.show()\n"
        "    app.processEvents()\n"
        "    return 0\n"
        "sys.exit(f())\n")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(root))  # this checkout, not an installed one
    run = subprocess.run([sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
