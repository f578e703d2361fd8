"""The gallery's details pane: a turntable's many views and guides fit without clipping or overlapping."""
import numpy as np


def _turntable_entry(store, views=8):
    from engine.request import Result, TryOnRequest

    rng = np.random.default_rng(0)
    img = lambda: rng.integers(0, 255, (128, 96, 3), np.uint8)  # noqa: E731
    req = TryOnRequest(task="multi-view", garment=img(), head=rng.integers(0, 255, (128, 64, 3), np.uint8),
                       pose_guides=[img() for _ in range(views)], num_views=views, steps=2, seed=1)
    res = Result("finished", {"person": [img() for _ in range(views)]}, ("person",), {**req.settings(), "model": "t"},
                 {"total": 1.0, "per_step": 0.1, "encode": 0.1, "decode": 0.1}, 2)
    return store.add_result(req, res, "turntable", {"preset": "walking"})


def test_a_turntable_entry_shows_its_views_above_the_inputs_and_whole_captions(qtbot, tmp_path):
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QLabel, QWidget

    from omfa_desktop.gallery import GalleryWidget
    from omfa_desktop.model.gallery_store import GalleryStore

    store = GalleryStore(tmp_path / "gallery")
    _turntable_entry(store)
    pane = QWidget()     # the side pane of the 1480x940 window: its size is given, not the gallery's wish
    pane.setFixedSize(370, 620)
    qtbot.addWidget(pane)
    g = GalleryWidget(store, pane)
    g.setGeometry(0, 0, 370, 620)
    pane.show()
    g.reload()
    qtbot.waitExposed(pane)
    qtbot.wait(50)
    content = g.detail.widget()

    def rect(w):
        top_left = w.mapTo(content, QPoint(0, 0))
        return top_left.y(), top_left.y() + w.height()

    views = [g.outputs_box.itemAt(i).widget() for i in range(g.outputs_box.count())]
    assert len(views) == 8
    label_top, label_bottom = rect(g.inputs_label)
    assert max(rect(v)[1] for v in views) <= label_top             # the views end above the label
    cells = [g.inputs_box.itemAt(i).widget() for i in range(g.inputs_box.count())]
    assert min(rect(c)[0] for c in cells) >= label_bottom           # the inputs start below it
    captions = [lab for c in cells for lab in c.findChildren(QLabel) if lab.text()]
    assert sorted(c.text() for c in captions) == ["garment", "guides ×8", "head"]
    for cap in captions:                                            # no caption is cut
        assert cap.width() >= cap.fontMetrics().horizontalAdvance(cap.text()), cap.text()
