"""The person gate and the demo model's domain check in the app: a cat or a cup is refused on the person
slot (and on person to person's A and B) with a message on the slot itself; a result made from a real photo
carries a badge in the gallery, and the demo banner comes back."""
import numpy as np
import pytest

from engine.body.blazepose import available
from engine.paths import SAMPLES

pytestmark = pytest.mark.skipif(bool(available()), reason="BlazePose runtime missing")


def test_the_person_slot_refuses_a_cat_on_itself_and_use_anyway_takes_it(qtbot, photos):
    from omfa_desktop.inputs import ImageSlot

    slot = ImageSlot("person", "Person photo", person_check=True)
    qtbot.addWidget(slot)
    slot.show()
    assert slot.set_path(SAMPLES / "demo_000_person.png")
    before = slot.image.copy()
    refused = []
    slot.refused.connect(refused.append)
    assert slot.set_path(photos / "cat.png") is False
    assert np.array_equal(slot.image, before) and slot.path == SAMPLES / "demo_000_person.png"
    assert slot.problem.isVisible() and slot.problem.text() == "No person found in cat.png."
    assert slot.use_anyway.isVisible()
    assert refused == ["Person photo: no person found in cat.png; choose a photo of a person, or 'Use anyway'"]
    assert slot.accept_refused()
    assert slot.image.shape == (300, 451, 3) and slot.path == photos / "cat.png" and not slot.problem.isVisible()
    assert slot.set_path(photos / "astronaut.png") and not slot.problem.isVisible()  # a real person passes


def test_slots_without_the_check_take_anything(qtbot, photos):
    from omfa_desktop.inputs import ImageSlot

    slot = ImageSlot("garment", "Garment")
    qtbot.addWidget(slot)
    assert slot.set_path(photos / "cup.jpg")


def test_the_window_person_slot_refuses_the_cat_and_the_cup(make_window, photos):
    w = make_window(wait=False)
    slot = w.slots["person"]
    sample = slot.image.copy()
    for name in ("cat.png", "cup.jpg"):
        assert slot.set_path(photos / name) is False
        assert slot.problem.isVisibleTo(w) and name in slot.problem.text()
        assert np.array_equal(slot.image, sample)


def test_person_to_person_refuses_a_cat_as_a_or_b(qtbot, photos):
    from omfa_desktop.dialogs import PersonToPersonDialog

    d = PersonToPersonDialog(None)
    qtbot.addWidget(d)
    assert d.set_photo_a(photos / "cat.png") is False and d.photo_a is None
    assert d.set_photo_b(photos / "cup.jpg") is False and d.photo_b is None
    assert not d.ok_button.isEnabled()
    assert "No person found in cup.jpg." == d.box_b.slot.problem.text()
    assert d.set_photo_a(SAMPLES / "demo_000_person.png") and d.set_photo_b(SAMPLES / "demo_001_person.png")
    assert d.ok_button.isEnabled()


def test_a_portrait_on_the_demo_model_is_badged_in_the_gallery_and_brings_the_banner_back(make_window, photos,
                                                                                          qtbot):
    from desktop_testing import run_job
    from omfa_desktop.gallery import OUTSIDE_BADGE

    w = make_window()
    w.notice.close_button.click()
    assert not w.notice.isVisible()
    w.steps.setValue(1)
    assert w.slots["person"].set_path(photos / "astronaut.png")
    assert w.notice.isVisible() and "outside the demo model" in w.notice.text.text().lower()  # at once, on input
    w.notice.close_button.click()
    job = run_job(qtbot, w)
    assert job.result.settings["outside_world"]["person"]["reasons"]
    assert w.notice.isVisible()  # and again with the result, said once
    assert w.notice.text.text().lower().count("outside the demo model") == 1
    entry = w.gallery.current()
    assert entry.outside_world.startswith("outside the demo model's world")
    assert OUTSIDE_BADGE in w.gallery.title.text() and w.gallery.world.isVisibleTo(w)
    # a synthetic sample: no badge
    w.notice.close_button.click()
    assert w.slots["person"].set_path(SAMPLES / "demo_001_person.png")
    assert not w.notice.isVisible()
    run_job(qtbot, w)
    assert w.gallery.current().outside_world == "" and not w.gallery.world.isVisibleTo(w)
    assert not w.notice.isVisible()


def test_a_batch_in_the_app_fails_the_cat_item_with_the_reason_and_makes_the_other(make_window, photos, qtbot,
                                                                                   tmp_path):
    from engine.batch import BatchItem

    w = make_window()
    w.steps.setValue(1)
    garment = SAMPLES / "demo_000_garment.png"
    items = [BatchItem(photos / "cat.png", garment, "walking"),
             BatchItem(SAMPLES / "demo_000_person.png", garment, "walking")]
    job = w.work.batch(items, tmp_path / "out")
    qtbot.waitUntil(lambda: job.done, timeout=180_000)
    report = job.result
    assert [o.status for o in report.outcomes] == ["failed", "done"]
    assert report.outcomes[0].error == "no person found in cat.png" and report.outcomes[0].reason == "no-person"
    assert "1 failed" in w.messages.message()
    made = sorted(p.name for p in (tmp_path / "out" / "items").glob("*.png"))
    assert made == ["demo_000_person__demo_000_garment__walking.png"]


def test_start_up_does_not_gate_the_shipped_samples_but_a_users_photo_is(make_window, photos, monkeypatch):
    # Every shipped person passes the gate (tests/engine/test_gate.py), so the window's start-up does not spend
    # ~0.25 s of the GUI thread checking them again; anything the user opens still goes through it.
    import engine.body.gate as gate

    calls = []
    real = gate.find_person
    monkeypatch.setattr(gate, "find_person", lambda pixels, *a, **k: calls.append(1) or real(pixels, *a, **k))
    w = make_window(wait=False)
    assert w.slots["person"].image is not None and calls == []
    assert w.slots["person"].set_path(photos / "cat.png") is False and calls == [1]
