"""The demo model's domain check (engine.domain): the world's own images are inside, real photos outside,
and a result made from an outside input says so in its settings, its chain and its PNG."""
import numpy as np
import pytest

from engine import domain
from engine.data.negatives import skimage_photo
from engine.images import fit, load_image
from engine.paths import SAMPLES

PANEL = {"person": (96, 128), "person_b": (96, 128), "garment": (96, 128), "head": (64, 128)}


@pytest.mark.parametrize("kind", list(PANEL))
def test_shipped_samples_are_inside_the_world(kind):
    for i in range(8):
        c = domain.check_panel(load_image(SAMPLES / f"demo_00{i}_{kind}.png"), kind.replace("_b", ""))
        assert c.inside, (i, c.features)


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "camera"])
@pytest.mark.parametrize("panel", ["person", "garment", "head"])
def test_real_photos_are_outside_in_every_panel(name, panel):
    c = domain.check_panel(fit(skimage_photo(name), *PANEL[panel]), panel)
    assert not c.inside and c.reasons
    assert c.features["content_edge"] > 0.9  # a letterboxed photo fills its own outline


def test_a_render_is_inside_even_scaled_and_a_blank_panel_is_not_photo_like():
    big = np.asarray(load_image(SAMPLES / "demo_003_person.png")).repeat(3, 0).repeat(3, 1)
    assert domain.check_panel(fit(big, 96, 128), "person").inside
    assert domain.check_panel(np.full((128, 96, 3), 255, np.uint8), "garment").inside  # a white T-shirt
    grey = np.full((128, 96, 3), 128, np.uint8)  # a grey studio backdrop
    assert domain.check_panel(grey, "person").reasons[0] == "its background is not white"


def test_describe_is_one_line_for_people():
    out = {"person": domain.check_panel(fit(skimage_photo("astronaut"), 96, 128), "person").to_dict()}
    line = domain.describe(out)
    assert line.startswith("outside the demo model's world: the person photo (") and "\n" not in line
    assert domain.describe({}) == ""


def _pipe():
    from engine.pipeline import Pipeline

    from omfa_testing import small_model_folder

    return Pipeline.load(small_model_folder())


def test_the_pipeline_of_a_world_model_marks_outside_inputs_and_only_those():
    from engine.request import TryOnRequest

    pipe = _pipe()
    assert domain.is_world_model(pipe.model.config)
    photo = fit(skimage_photo("astronaut"), 96, 128)
    marked = pipe.run(TryOnRequest(task="try-off", person=photo, steps=1))
    assert list(marked.settings["outside_world"]) == ["person"]
    clean = pipe.run(TryOnRequest(task="try-off", person=load_image(SAMPLES / "demo_000_person.png"), steps=1))
    assert clean.settings["outside_world"] == {}
    pipe.model.config.preset = "sdxl"  # a model of real photos: no such check
    assert "outside_world" not in pipe.run(TryOnRequest(task="try-off", person=photo, steps=1)).settings


def test_a_chain_passes_the_mark_on_to_stages_that_use_an_outside_output(tmp_path):
    from engine.chain import person_to_person, run_chain
    from engine.export import outside_world_warning, read_png_metadata, save_png
    from engine.request import TryOnRequest

    pipe = _pipe()
    guide = load_image(SAMPLES / "demo_001_guide.png")
    chain = person_to_person(fit(skimage_photo("astronaut"), 96, 128), [guide],
                             load_image(SAMPLES / "demo_001_head.png"), sampling=TryOnRequest(steps=1))
    res = run_chain(pipe, chain)
    off, on = res.results
    assert list(off.settings["outside_world"]) == ["person"]
    assert on.settings["outside_world"]["garment"]["from_stage"] == 0
    path = save_png(on.outputs[0], tmp_path / "r.png", {"result": on.metadata()})
    from PIL import Image

    with Image.open(path) as im:
        assert im.text["Warning"] == outside_world_warning(read_png_metadata(path))
        assert "outside the demo model's world" in im.text["Warning"]
