"""Input slots and bad files: an error naming the file, nothing changed; odd but valid files load with a notice."""

import numpy as np
from PIL import Image

# the corpus fixtures ``bad`` and ``odd`` are in tests/conftest.py


def _state(slot):
    return slot.image.copy(), slot.path, slot.label, slot.name_label.text(), slot.name_label.toolTip()


def _same(a, b) -> bool:
    return np.array_equal(a[0], b[0]) and a[1:] == b[1:]


def _record(slot):
    seen = {"error": [], "changed": [], "notice": []}
    slot.error.connect(lambda msg, details: seen["error"].append(msg))
    slot.changed.connect(lambda: seen["changed"].append(True))
    slot.notice.connect(lambda msg: seen["notice"].append(msg))
    return seen


def test_a_slot_refuses_every_bad_file_and_keeps_its_image(qtbot, bad, tmp_path):
    from omfa_desktop.inputs import ImageSlot

    slot = ImageSlot("person", "Person photo")
    qtbot.addWidget(slot)
    Image.fromarray(np.full((60, 40, 3), 90, np.uint8)).save(tmp_path / "good.png")
    assert slot.set_path(tmp_path / "good.png")
    before = _state(slot)
    seen = _record(slot)
    for path, words in bad:
        assert slot.set_path(path) is False
        msg = seen["error"].pop()
        assert not seen["error"] and msg.startswith("Person photo: ") and path.name in msg and words in msg, msg
        assert _same(_state(slot), before), path.name
    assert seen["changed"] == [] and seen["notice"] == []


def test_a_slot_takes_odd_files_and_says_what_it_changed(qtbot, odd):
    from omfa_desktop.inputs import ImageSlot

    slot = ImageSlot("garment", "Garment")
    qtbot.addWidget(slot)
    seen = _record(slot)
    for o in odd:
        assert slot.set_path(o.path), o.path.name
        assert slot.image.shape == o.shape and slot.path == o.path and slot.label == o.path.name
        assert seen["changed"].pop() and not seen["error"]
        if o.note is None:
            assert seen["notice"] == [], o.path.name
        else:
            msg = seen["notice"].pop()
            assert msg.startswith(f"Garment: {o.path.name}: ") and o.note in msg, msg


def test_every_window_slot_refuses_bad_files_with_a_message(make_window, bad, odd):
    w = make_window(wait=False)  # the samples are in the slots; the model is not needed for this
    for key, slot in w.slots.items():
        assert slot.image is not None, key
        before = _state(slot)
        seen = _record(slot)
        for path, words in bad:
            assert slot.set_path(path) is False
            shown = w.messages.message()
            assert slot.title in shown and path.name in shown and words in shown, shown
            assert _same(_state(slot), before), (key, path.name)
        assert seen["changed"] == [], key
    sideways = next(o for o in odd if o.path.name == "sideways.jpg")
    assert w.slots["head"].set_path(sideways.path)
    assert "rotated upright" in w.messages.message() and w.messages.kind == "info"
