"""The Wardrobe tab: keep a try-off result, find it again, use it as the garment; it survives a restart."""
import numpy as np
from desktop_testing import run_job


def sample_garments(n: int) -> list[np.ndarray]:
    from engine.images import load_image
    from engine.paths import SAMPLES

    return [load_image(SAMPLES / f"demo_00{i}_garment.png") for i in range(n)]


def test_a_try_off_result_is_kept_in_the_wardrobe_and_survives_a_restart(qtbot, make_window, data_dir):
    w = make_window()
    w.steps.setValue(2)
    job = run_job(qtbot, w)
    entry = w.gallery.entries[0]
    assert w.gallery.keep_button.isEnabled()
    w.gallery.keep_button.click()
    assert w.side_tabs.currentWidget() is w.wardrobe
    items = w.wardrobe_store.items()
    assert len(items) == 1 and w.wardrobe.list.count() == 1
    item = items[0]
    assert item.folder.parent == data_dir / "wardrobe"  # beside the gallery, in the same data folder
    assert np.array_equal(w.wardrobe_store.image(item.id), job.result.outputs[0])
    assert entry.id in item.source and item.source.startswith("try-off of ")
    assert item.settings["request"]["task"] == "try-off" and item.settings["request"]["steps"] == 2
    assert "Kept in the wardrobe" in w.messages.message()
    # keeping it again finds the one already kept
    w.gallery.keep_button.click()
    assert len(w.wardrobe_store) == 1 and "already in the wardrobe" in w.messages.message()
    # name and tags edited in the details are stored
    w.wardrobe.name_edit.setText("My striped tee")
    w.wardrobe.name_edit.editingFinished.emit()
    w.wardrobe.tags_edit.setText("Stripes, summer")
    w.wardrobe.tags_edit.editingFinished.emit()
    w.shutdown()
    w.close()
    w2 = make_window(wait=False)
    assert [(i.name, i.tags) for i in w2.wardrobe_store.items()] == [("My striped tee", ["stripes", "summer"])]
    assert w2.wardrobe.list.count() == 1 and w2.wardrobe.list.item(0).text() == "My striped tee"


def test_search_filters_and_use_as_garment_fills_the_garment_input(qtbot, make_window):
    w = make_window(wait=False)
    g = sample_garments(4)
    for img, (name, tags) in zip(g, [("Red polo", "red"), ("Blue stripes", "stripes, blue"),
                                     ("Green check", "check"), ("Blue dots", "dots, blue")]):
        w.wardrobe.keep(img, name, tags, source="test")
    assert w.wardrobe.list.count() == 4 and w.wardrobe.count.text() == "4 items"
    qtbot.keyClicks(w.wardrobe.search, "blue")
    assert [w.wardrobe.list.item(i).text() for i in range(w.wardrobe.list.count())] == ["Blue dots", "Blue stripes"]
    assert w.wardrobe.count.text() == "2 of 4"
    w.wardrobe.search.setText("tag:stripes")
    assert w.wardrobe.list.count() == 1 and w.wardrobe.current().name == "Blue stripes"
    w.wardrobe.use_button.click()
    assert np.array_equal(w.slots["garment"].image, g[1])
    assert w.task() in ("try-on", "new-pose") and "“Blue stripes” is now the garment input" in w.messages.message()
    assert w.slots["garment"].label == "wardrobe: Blue stripes"
    w.wardrobe.search.setText("zebra")
    assert w.wardrobe.list.count() == 0 and not w.wardrobe.use_button.isEnabled()
    assert not w.wardrobe.export_button.isEnabled()


def test_widget_remove_export_import_and_a_damaged_item_notice(qtbot, tmp_path):
    from engine.wardrobe import Wardrobe
    from omfa_desktop.wardrobe import WardrobeWidget

    store = Wardrobe(tmp_path / "w")
    g = sample_garments(3)
    for i, img in enumerate(g):
        store.add(img, f"tee {i}", created=1000.0 + i)
    bad = store.items()[0]
    (bad.folder / "item.json").write_text("{damaged")
    widget = WardrobeWidget(Wardrobe(tmp_path / "w"))
    qtbot.addWidget(widget)
    messages = []
    widget.message.connect(lambda *m: messages.append(m))
    widget.reload(rescan=False)
    assert widget.list.count() == 2
    assert messages[-1][2] == "warning" and "1 wardrobe item could not be read" in messages[-1][0]
    assert "nothing was deleted" in messages[-1][0] and "item.json" in messages[-1][1]
    # export what is listed, into a folder holding other things: a subfolder is made, nothing else touched
    out = tmp_path / "Desktop"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    written = widget.export_to(out)
    assert written.parent == out and len([p for p in written.iterdir() if p.is_dir()]) == 2
    widget.list.setCurrentRow(0)
    widget.remove_button.click()
    assert widget.list.count() == 1 and "Removed “tee 1”" in messages[-1][0]
    added = widget.import_from(written)
    assert [i.name for i in added] == ["tee 1"] and widget.list.count() == 2
    assert "Imported 1 garment" in messages[-1][0] and "1 already in the wardrobe" in messages[-1][0]
    assert messages[-1][2] == "info"
