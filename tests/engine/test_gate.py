"""The person gate (engine.body.gate): synthetic people pass, objects and empty pictures do not, in one line."""
import numpy as np
import pytest

from engine.body.blazepose import available
from engine.data.negatives import drawn, skimage_photo
from engine.body.gate import PAD_THRESHOLD, THRESHOLD, NoPersonFound, cli_message, find_person, require_person
from engine.images import load_image
from engine.paths import SAMPLES

pytestmark = pytest.mark.skipif(bool(available()), reason="BlazePose runtime missing")


@pytest.mark.parametrize("name", [f"demo_00{i}_{k}.png" for i in range(8) for k in ("person", "person_b")])
def test_every_shipped_synthetic_person_passes(name):
    check = find_person(load_image(SAMPLES / name))
    assert check.found and check.score >= THRESHOLD and check.box is not None


@pytest.mark.parametrize("name", ["chelsea", "coffee", "coins", "page", "horse"])
def test_a_cat_a_cup_and_other_objects_are_refused(name):
    check = find_person(skimage_photo(name))
    assert not check.found and check.score < THRESHOLD and check.padded_score < PAD_THRESHOLD
    assert len(check.views) == 4  # the mirror and the padded photo (and its mirror) were looked at before saying no


@pytest.mark.parametrize("index", [941, 784])
def test_a_small_side_view_the_detector_misses_passes_with_room_around_it(index):
    """Val people 941 and 784 (side and back views filling the frame) score near 0 on the photo and its mirror;
    the padded third look finds them, and its box is in the photo's own pixels."""
    from engine.data.synthetic import SyntheticWorld

    person = SyntheticWorld().sample(index, "val").person
    check = find_person(person)
    assert check.score < THRESHOLD  # the two plain views miss: this is the case the padded look is for
    assert check.found and check.padded_score >= PAD_THRESHOLD
    x0, y0, x1, y1 = check.box
    assert 0 <= x0 < x1 <= person.shape[1] and 0 <= y0 < y1 <= person.shape[0]


def test_a_real_portrait_passes():
    check = find_person(skimage_photo("astronaut"))
    assert check.found and len(check.views) == 1  # found at once: the mirror costs nothing for a person


@pytest.mark.parametrize("kind", ["flat", "gradient", "noise", "checks", "shapes"])
def test_empty_backgrounds_and_drawn_things_are_refused(kind):
    assert not find_person(drawn(kind, np.random.default_rng(7))).found


def test_a_garment_alone_is_not_a_person():
    assert not find_person(load_image(SAMPLES / "demo_000_garment.png")).found


def test_refusal_is_one_line_naming_the_file_and_the_caller_adds_its_advice():
    with pytest.raises(NoPersonFound) as e:
        require_person(skimage_photo("chelsea"), "cat.png")
    assert str(e.value) == "no person found in cat.png"
    assert cli_message(e.value) == "no person found in cat.png; pass --no-person-check to run anyway"
    assert require_person(load_image(SAMPLES / "demo_000_person.png"), "p.png").found
