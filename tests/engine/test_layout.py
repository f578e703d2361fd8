import pytest
import torch

from engine.layout import LayoutError, PanelLayout, Task


def test_concat_split_round_trip_exact():
    lay = PanelLayout({"person": 96, "garment": 96, "head": 64}, 128, 4)
    panels = {p: torch.randn(2, 4, 32, lay.widths[p] // 4) for p in lay.panels}
    canvas = lay.concat(panels)
    assert canvas.shape == (2, 4, 32, 64)
    back = lay.split(canvas)
    for p in lay.panels:
        assert torch.equal(back[p], panels[p])


def test_pixel_canvas_and_order_is_person_garment_head():
    lay = PanelLayout({"head": 8, "person": 16, "garment": 24}, 16, 8)
    assert lay.panels == ("person", "garment", "head")
    assert lay.slices(latent=False) == {"person": slice(0, 16), "garment": slice(16, 40), "head": slice(40, 48)}
    assert lay.slices() == {"person": slice(0, 2), "garment": slice(2, 5), "head": slice(5, 6)}


@pytest.mark.parametrize("task,generated", [("try-off", "garment"), ("try-on", "person"), ("multi-view", "person")])
def test_task_masks(task, generated):
    lay = PanelLayout({"person": 16, "garment": 16, "head": 8}, 16, 8)
    m = lay.mask(task)
    parts = lay.split(m)
    for p, t in parts.items():
        assert bool((t == 1).all()) == (p == generated)
        assert bool((t == 0).all()) == (p != generated)


def test_absent_panels():
    lay = PanelLayout({"person": 16, "garment": 16, "head": 8}, 16, 8)
    no_head = lay.without("head")
    assert no_head.panels == ("person", "garment") and no_head.latent_width == 4
    assert no_head.mask(Task.TRY_OFF).shape == (1, 1, 2, 4)
    # A missing input panel is filled with zeros (looks like a dropped condition).
    canvas = lay.concat({"person": torch.ones(1, 4, 2, 2), "garment": torch.ones(1, 4, 2, 2)})
    assert torch.equal(lay.split(canvas)["head"], torch.zeros(1, 4, 2, 1))
    with pytest.raises(LayoutError, match="head"):
        no_head.mask({"head"})


def test_bad_layouts_are_refused_with_names():
    with pytest.raises(LayoutError, match="shoes"):
        PanelLayout({"shoes": 16}, 16, 8)
    with pytest.raises(LayoutError, match="garment size 12"):
        PanelLayout({"person": 16, "garment": 12}, 16, 8)
    lay = PanelLayout({"person": 16}, 16, 8)
    with pytest.raises(LayoutError, match="person panel"):
        lay.concat({"person": torch.zeros(1, 4, 2, 3)})


def test_unknown_task():
    with pytest.raises(ValueError, match="try-off, try-on, multi-view"):
        Task.parse("dress-up")


def test_best_views_per_canvas_avoids_padding_and_prefers_fewer_canvases():
    lay = PanelLayout({"person": 96, "garment": 96, "head": 64}, 128, factor=4)  # the demo's layout
    assert lay.best_views_per_canvas(8, 4) == 4       # 2 canvases of 4
    assert lay.best_views_per_canvas(6, 4) == 3       # 2 x 3, not 4 + 2 padded to 4
    assert lay.best_views_per_canvas(5, 4) == 3       # 2 x 3 (one padded) beats 2 x 4 (three padded)
    assert lay.best_views_per_canvas(3, 4) == 3 and lay.best_views_per_canvas(2, 4) == 2
    assert lay.best_views_per_canvas(1, 4) == 1 and lay.best_views_per_canvas(8, 1) == 1
    assert lay.best_views_per_canvas(24, 4) == 4
    with pytest.raises(LayoutError):
        PanelLayout({"garment": 96}, 128).best_views_per_canvas(4, 4)
