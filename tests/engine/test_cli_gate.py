"""The person gate and the domain warning on every command that takes a person photo: a cat or a cup is
refused in one line with exit code 1 and nothing written; a real portrait runs and is marked."""
import json

import pytest
from PIL import Image

from engine import cli
from engine.body.blazepose import available
from engine.export import read_png_metadata
from engine.paths import SAMPLES

from omfa_testing import small_model_folder

pytestmark = pytest.mark.skipif(bool(available()), reason="BlazePose runtime missing")
FAST = ["--steps", "1", "--quiet"]
REFUSED = "no person found in {}; pass --no-person-check to run anyway"


def model():
    return ["--model", str(small_model_folder())]


def _refused(capsys, name: str) -> None:
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"error: {REFUSED.format(name)}"], err


@pytest.mark.parametrize("command", [
    lambda p, out: ["try-off", "--person", str(p / "cat.png"), "--out", str(out / "g.png")],
    lambda p, out: ["turntable", "--photo", str(p / "cat.png"), "--views", "2", "--out", str(out)],
    lambda p, out: ["person-to-person", "--from", str(p / "cat.png"), "--to", str(SAMPLES / "demo_001_person.png"),
                    "--out", str(out)],
    lambda p, out: ["person-to-person", "--from", str(SAMPLES / "demo_000_person.png"), "--to",
                    str(p / "cat.png"), "--out", str(out)],
    lambda p, out: ["pose", "estimate", "--person", str(p / "cat.png"), "--out", str(out / "pose.json")],
], ids=["try-off", "turntable", "person-to-person A", "person-to-person B", "pose estimate"])
def test_a_cat_is_refused_in_one_line_and_nothing_is_written(command, photos, tmp_path, capsys):
    out = tmp_path / "out"
    argv = command(photos, out)
    if argv[0] != "pose":
        argv += [*FAST, *model()]
    assert cli.main(argv) == 1
    _refused(capsys, "cat.png")
    assert not out.exists()


def test_the_cup_too_and_no_person_check_runs_it_anyway_with_the_warning(photos, tmp_path, capsys):
    out = tmp_path / "g.png"
    assert cli.main(["try-off", "--person", str(photos / "cup.jpg"), "--out", str(out), *FAST, *model()]) == 1
    _refused(capsys, "cup.jpg")
    assert not out.exists()
    assert cli.main(["try-off", "--person", str(photos / "cup.jpg"), "--out", str(out), "--no-person-check",
                     *FAST, *model()]) == 0
    assert "warning: outside the demo model's world: the person photo" in capsys.readouterr().err
    assert "person" in read_png_metadata(out)["result"]["settings"]["outside_world"]


def test_a_real_portrait_runs_and_is_marked_in_the_cli_and_the_png(photos, tmp_path, capsys):
    out = tmp_path / "g.png"
    assert cli.main(["try-off", "--person", str(photos / "astronaut.png"), "--out", str(out), *FAST,
                     *model()]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: outside the demo model's world") == 1
    with Image.open(out) as im:
        assert "outside the demo model's world" in im.text["Warning"]
    # a synthetic sample on the same model: no warning, nothing marked
    assert cli.main(["try-off", "--person", str(SAMPLES / "demo_002_person.png"), "--out", str(out), *FAST,
                     *model()]) == 0
    assert "outside the demo model's world" not in capsys.readouterr().err
    assert read_png_metadata(out)["result"]["settings"]["outside_world"] == {}


def test_batch_fails_the_cat_items_with_the_reason_and_runs_the_others(photos, tmp_path, capsys):
    people, garments = tmp_path / "people", tmp_path / "garments"
    people.mkdir(), garments.mkdir()
    Image.open(photos / "cat.png").save(people / "cat.png")
    Image.open(SAMPLES / "demo_000_person.png").save(people / "anna.png")
    Image.open(SAMPLES / "demo_000_garment.png").save(garments / "tee.png")
    out = tmp_path / "out"
    code = cli.main(["batch", "--people", str(people), "--garments", str(garments), "--poses", "walking",
                     "--out", str(out), *FAST, *model()])
    assert code == 1
    captured = capsys.readouterr()
    assert f"failed: cat__tee__walking: {REFUSED.format('cat.png')}" in captured.err
    assert "1 made, 0 already done, 1 failed" in captured.out
    assert sorted(p.name for p in (out / "items").glob("*.png")) == ["anna__tee__walking.png"]
    assert (out / "items" / "cat__tee__walking.error.txt").read_text().strip() == "no person found in cat.png"
    assert not (out / "heads" / "cat.png").exists()


def test_pose_estimate_writes_a_body_state_that_try_on_takes(photos, tmp_path, capsys):
    from engine.body.state import BodyState

    out = tmp_path / "pose.json"
    assert cli.main(["pose", "estimate", "--person", str(photos / "astronaut.png"), "--box", "0,0,512,512",
                     "--out", str(out)]) == 0
    assert "written to" in capsys.readouterr().out
    state = BodyState.from_json(out)
    assert abs(state.body_pose).sum() > 0
    assert "astronaut.png" in json.loads(out.read_text())["description"]


@pytest.mark.parametrize("argv, words", [
    (["pose", "estimate", "--person", "/nope.png"], "error: --person: /nope.png"),
    (["pose", "estimate", "--person", str(SAMPLES / "demo_000_person.png"), "--backend", "hmr2"],
     "no hmr2 folder is set"),
])
def test_pose_estimate_errors_are_one_line_with_command_line_advice(argv, words, capsys, tmp_path):
    assert cli.main([*argv, "--out", str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
    assert "viewport" not in err and "Unavailable" not in err and "Traceback" not in err
