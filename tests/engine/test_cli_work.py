"""``omfa turntable | person-to-person | outfit | batch`` end to end (in-process, tiny model, 1-2 steps)."""
import pytest
from PIL import Image

from engine import cli
from engine.export import read_png_metadata
from engine.media import frame_count, read_settings
from engine.paths import SAMPLES

from omfa_testing import small_model_folder

FAST = ["--steps", "2", "--quiet"]


def model():
    return ["--model", str(small_model_folder())]


def test_turntable_from_a_garment_writes_views_gif_mp4_and_sheet(tmp_path):
    out = tmp_path / "tt"
    code = cli.main(["turntable", "--garment", str(SAMPLES / "demo_000_garment.png"), "--head",
                     str(SAMPLES / "demo_000_head.png"), "--pose", "walking", "--views", "5", "--batch", "2",
                     "--out", str(out), *FAST, *model()])
    assert code == 0
    assert sorted(p.name for p in out.glob("view_*.png")) == [f"view_{i:02d}.png" for i in range(5)]
    assert frame_count(out / "turntable.gif") == 5 and frame_count(out / "turntable.mp4") == 5
    s = read_settings(out / "turntable.mp4")
    assert s["views"] == 5 and s["chain"]["kind"] == "turntable" and len(s["chain"]["stages"]) == 3  # 2+2+1
    assert read_settings(out / "turntable.gif") == s and read_settings(out / "contact_sheet.png") == s
    # frames are enlarged from the 96-pixel panels so the GIF is watchable; the PNGs keep the model's size
    with Image.open(out / "turntable.gif") as im:
        assert im.size == (192, 256)
    meta = read_png_metadata(out / "view_04.png")
    assert meta["view"] == 4 and meta["request"]["num_views"] == 1 and meta["request"]["chain"]["stage"] == 2


def test_person_to_person_writes_both_stages_with_chain_metadata(tmp_path):
    out = tmp_path / "p2p"
    code = cli.main(["person-to-person", "--from", str(SAMPLES / "demo_000_person.png"), "--to",
                     str(SAMPLES / "demo_001_person.png"), "--head", str(SAMPLES / "demo_001_head.png"),
                     "--pose", "walking", "--out", str(out), *FAST, *model()])
    assert code == 0
    g, r = read_png_metadata(out / "1_garment.png"), read_png_metadata(out / "2_result.png")
    assert g["request"]["task"] == "try-off" and r["request"]["task"] == "try-on"
    assert g["request"]["chain"]["id"] == r["request"]["chain"]["id"]
    assert r["request"]["chain"]["links"][0]["field"] == "garment" and r["chain"]["kind"] == "person-to-person"
    assert (out / "person_to_person.png").is_file()


def test_outfit_layers_two_garments(tmp_path):
    out = tmp_path / "outfit"
    code = cli.main(["outfit", "--garment", str(SAMPLES / "demo_000_garment.png"), "--garment",
                     str(SAMPLES / "demo_001_garment.png"), "--head", str(SAMPLES / "demo_000_head.png"),
                     "--strength", "0.5", "--steps", "4", "--quiet", "--out", str(out), *model()])
    assert code == 0
    second = read_png_metadata(out / "layer_2.png")
    assert second["request"]["strength"] == 0.5 and second["result"]["steps_done"] == 2
    assert second["chain"]["stages"][1]["links"][0] == {"field": "person", "stage": 0, "panel": "person", "view": 0}


def test_batch_command_runs_then_skips(tmp_path, capsys):
    people, garments, heads = (tmp_path / n for n in ("people", "garments", "heads"))
    for d in (people, garments, heads):
        d.mkdir()
    for i in range(2):
        Image.open(SAMPLES / f"demo_00{i}_person.png").save(people / f"client{i}.png")
        Image.open(SAMPLES / f"demo_00{i}_head.png").save(heads / f"client{i}.png")
        Image.open(SAMPLES / f"demo_00{i}_garment.png").save(garments / f"g{i}.png")
    argv = ["batch", "--people", str(people), "--garments", str(garments), "--heads", str(heads), "--poses",
            f"walking,{SAMPLES / 'demo_000_guide.png'}", "--out", str(tmp_path / "out"), *FAST, *model()]
    assert cli.main(argv) == 0
    assert "8 made, 0 already done, 0 failed" in capsys.readouterr().out
    assert len(list((tmp_path / "out" / "items").glob("*.png"))) == 8
    assert cli.main(argv) == 0
    assert "0 made, 8 already done" in capsys.readouterr().out
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "contact_sheet.png").is_file()


@pytest.mark.parametrize("argv, words", [
    (["batch", "--people", "/nonexistent", "--garments", "/x"], "people folder /nonexistent does not exist"),
    (["batch", "--garments", "/x"], "give --csv FILE, or --people DIR and --garments DIR"),
    (["outfit", "--garment", "a.png"], "at least two garments"),
    (["turntable", "--garment", "/nope.png"], "--garment: /nope.png"),
    (["person-to-person", "--from", "/nope.png", "--to", "/b.png"], "--from: /nope.png"),
])
def test_bad_input_is_one_line(argv, words, capsys):
    assert cli.main([*argv, *model()]) in (1, 2)
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
