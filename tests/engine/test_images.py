"""The guarded image loader: every bad file is a clear ImageError naming it; odd but valid files load, said so."""
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from engine import cli, images
from engine.cli import generate as _generate  # noqa: F401  (cli.generate for monkeypatch)
from engine.images import ImageError, read_image
from engine.layout import PanelLayout

# the corpus fixtures ``bad`` and ``odd`` are in tests/conftest.py


def test_the_corpus_is_big_and_varied(bad):
    assert len(bad) >= 25 and len({words for _, words in bad}) >= 20


def test_every_bad_file_is_an_image_error_naming_the_file_and_the_problem(bad):
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        for path, words in bad:
            with pytest.raises(ImageError) as e:
                read_image(path)
            msg = str(e.value)
            assert path.name in msg and words in msg, (path.name, msg)
            assert "\n" not in msg and e.value.path == path
    assert not leaked, [str(w.message) for w in leaked]  # e.g. no DecompressionBombWarning on the console


def test_an_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    # Made by the corpus when not root; simulated here so it is tested everywhere.
    path = tmp_path / "locked.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images, "open", refuse, raising=False)
    with pytest.raises(ImageError, match="locked.png: cannot be read: permission denied"):
        read_image(path)


def test_odd_but_valid_files_load_with_the_right_colours_and_notes(odd):
    for o in odd:
        r = read_image(o.path)
        px = r.pixels
        assert px.dtype == np.uint8 and px.shape == o.shape, (o.path.name, px.shape)
        h, w = px.shape[:2]
        assert np.abs(px[h // 2, w // 2].astype(int) - o.rgb).max() <= 3, (o.path.name, px[h // 2, w // 2])
        if o.note is None:
            assert r.notes == [], (o.path.name, r.notes)
        else:
            assert any(o.note in n for n in r.notes), (o.path.name, r.notes)


def test_exif_rotation_turns_the_picture_not_just_the_shape(tmp_path):
    from PIL import Image

    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)  # left half red, right half blue, as stored
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # view rotated 90° clockwise: the stored left comes on top
    Image.fromarray(stored).save(tmp_path / "side.png", exif=exif.tobytes())
    r = read_image(tmp_path / "side.png")
    assert r.pixels.shape == (40, 20, 3) and r.size == (40, 20) and r.format == "PNG"
    assert tuple(r.pixels[5, 10]) == (255, 0, 0) and tuple(r.pixels[35, 10]) == (0, 0, 255)


def test_load_image_is_read_image_pixels(odd):
    o = next(o for o in odd if o.path.name == "cmyk.jpg")
    assert np.array_equal(images.load_image(o.path), read_image(o.path).pixels)


# ------------------------------------------------------------------------------------------ the CLI
@pytest.fixture
def no_model(monkeypatch):
    """The CLI with a stand-in pipeline: only its layout is needed before the images are read."""
    stub = SimpleNamespace(layout=PanelLayout({"person": 32, "garment": 32, "head": 32}, 32, 4))
    monkeypatch.setattr(cli.generate, "load_pipeline", lambda args: stub)


def test_every_bad_file_through_the_cli_is_one_line_and_no_output(bad, no_model, tmp_path, capsys):
    out = tmp_path / "x.png"
    for path, words in bad:
        code = cli.main(["try-off", "--person", str(path), "--out", str(out), "--quiet"])
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert code == 1 and "\n" not in err and "Traceback" not in err, (path.name, err)
        assert err.startswith("error: --person: ") and path.name in err and words in err, err
        assert captured.out == "" and not out.exists()


def test_the_cli_prints_notes(odd, capsys):
    o = next(o for o in odd if o.path.name == "animated.gif")
    img = cli.read_input(str(o.path), "garment")
    assert img.shape == o.shape  # as read: the pipeline fits it to its panel
    err = capsys.readouterr().err
    assert err == "note: --garment: animated.gif: animated GIF: only the first of its 3 frames is used\n"
