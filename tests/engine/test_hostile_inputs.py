"""Hostile model folders and files, each built here: configs nested 200,000 deep, zero or negative schedule
sizes, wrong types; weights holding NaN/Inf that still match a re-written manifest; a UNet or codec whose
output turns non-finite; a damaged settings file and a model that cannot load under ``omfa doctor``; FIFOs,
binary files and deep nesting as ``--state``; a huge but tiny-on-disk image, a float TIFF of NaN and
Pillow's warnings. Every one ends as one line naming the file (and the field), never a traceback, a hang
or a black image."""
import json
import os
import struct
import threading
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from engine import cli
from engine.body.state import BodyState, BodyStateError
from engine.device import select_device
from engine.errors import OmfaError
from engine.images import ImageError, read_image
from engine.integrity import write_manifest
from engine.model import ModelError, load_model
from engine.paths import SAMPLES
from engine.pipeline import Pipeline
from engine.request import TryOnRequest

from omfa_testing import tiny_model

DEEP = '{"layout":' * 200_000 + "1" + "}" * 200_000


def _edit(folder, rel, change):
    """Damage ``rel`` (a dict edit or the new text) and re-write the manifest over it, as a user would."""
    path = folder / rel
    if callable(change):
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    else:
        path.write_text(change)
    write_manifest(folder)
    return path


def _schedule(**kw):
    return lambda d: d["noise_schedule"].update(kw)


HOSTILE_CONFIGS = [
    ("omfa_config.json", DEEP, "layout", "nested too deeply"),
    ("omfa_config.json", _schedule(num_train_timesteps=0), "noise_schedule.num_train_timesteps", "between 2 and"),
    ("omfa_config.json", _schedule(num_train_timesteps=-1000), "noise_schedule.num_train_timesteps", "not -1000"),
    ("omfa_config.json", _schedule(num_train_timesteps="1000"), "noise_schedule.num_train_timesteps", "must be a int"),
    ("omfa_config.json", _schedule(beta_start=-0.1), "noise_schedule.beta_start", "between 0 and 1"),
    ("omfa_config.json", _schedule(beta_end=2.0), "noise_schedule.beta_end", "below 1"),
    ("omfa_config.json", _schedule(prediction_type="banana"), "noise_schedule.prediction_type", "v_prediction"),
    ("omfa_config.json", lambda d: d["layout"].update(height=0), "layout.height", "from 1 to"),
    ("omfa_config.json", lambda d: d["layout"]["widths"].update(person="32"), "layout.widths.person", "'32'"),
    ("omfa_config.json", lambda d: d.update(views_per_canvas=10 ** 9), "views_per_canvas", "from 1 to 64"),
    ("omfa_config.json", lambda d: d.update(trained="yes"), "trained", "true or false"),
    ("omfa_config.json", lambda d: d.update(default_scheduler="plms"), "default_scheduler", "ddim"),
    ("omfa_config.json", '{"name": "x", "beta": NaN}', None, "NaN"),
    ("unet/config.json", DEEP, "layout", "nested too deeply"),
    ("unet/config.json", lambda d: d.update(block_out_channels="abc"), "block_out_channels", "whole number"),
    ("unet/config.json", lambda d: d.update(layers_per_block=0), "layers_per_block", "from 1 to"),
    ("codec/config.json", DEEP, "layout", "nested too deeply"),
]


@pytest.mark.parametrize("rel, change, field, words", HOSTILE_CONFIGS,
                         ids=[f"{r}:{f or w}" for r, _, f, w in HOSTILE_CONFIGS])
def test_a_hostile_config_is_one_line_naming_the_file_and_the_field(model_dir, rel, change, field, words):
    path = _edit(model_dir, rel, change)
    with pytest.raises(ModelError) as e:
        load_model(model_dir)
    text = str(e.value)
    assert str(path) in text and words in text and "\n" not in text and len(text) < 400, text
    assert e.value.path == str(path)
    if field:
        assert e.value.field == field and field in text


def test_the_cli_prints_the_config_error_as_one_line(model_dir, capsys):
    path = _edit(model_dir, "omfa_config.json", _schedule(num_train_timesteps=-5))
    assert cli.main(["try-off", "--person", str(SAMPLES / "demo_000_person.png"), "--model", str(model_dir),
                     "--out", str(model_dir.parent / "g.png"), "--steps", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"error: {path} is invalid: noise_schedule.num_train_timesteps" in err


def _poison(folder, rel, value=float("nan")):
    from safetensors.torch import load_file, save_file

    path = folder / rel
    sd = load_file(str(path))
    name = sorted(k for k in sd if sd[k].is_floating_point() and sd[k].ndim > 1)[0]
    sd[name].view(-1)[0] = value
    save_file(sd, str(path))
    write_manifest(folder)  # the manifest now vouches for the damage: only the values can tell
    return name


@pytest.mark.parametrize("rel, value, what, kind", [
    ("unet/diffusion_pytorch_model.safetensors", float("nan"), "the UNet", "NaN"),
    ("unet/diffusion_pytorch_model.safetensors", float("inf"), "the UNet", "infinite values"),
    ("unet/diffusion_pytorch_model.safetensors", 3e30, "the UNet", "absurd values"),
    ("codec/codec.safetensors", float("nan"), "the codec", "NaN"),
])
def test_non_finite_weights_are_refused_at_load_naming_the_model_and_tensor(model_dir, rel, value, what, kind):
    name = _poison(model_dir, rel, value)
    with pytest.raises(ModelError) as e:
        load_model(model_dir)
    text = str(e.value)
    assert str(model_dir) in text and f"{what} weight '{name}' holds {kind}" in text, text
    assert e.value.field == name


def _request(pipe):
    rng = np.random.default_rng(0)
    w, h = pipe.layout.panel_size("person")
    return TryOnRequest(task="try-off", person=rng.integers(0, 256, (h, w, 3), dtype=np.uint8), steps=3,
                        scheduler="ddim", guidance=1.0, noise_prior=False)


def test_a_unet_that_outputs_nan_stops_at_the_first_step_naming_the_model():
    model = tiny_model()
    model.config.name = "poisoned"
    with torch.no_grad():
        model.unet.conv_out.bias.fill_(float("nan"))  # finite weights elsewhere: only the output tells
    pipe = Pipeline(model, select_device("cpu"))
    steps = []
    with pytest.raises(OmfaError) as e:
        pipe.run(_request(pipe), progress=lambda p: steps.append(p.step))
    text = str(e.value)
    assert "the model 'poisoned'" in text and "the UNet's output at step 1 of 3" in text and "NaN" in text
    assert steps == []  # stopped before a single step was reported, not after a black image


def test_a_codec_that_decodes_to_nan_is_an_error_not_a_black_image():
    model = tiny_model()
    with torch.no_grad():
        list(model.codec.decoder.parameters())[-1].fill_(float("nan"))
    pipe = Pipeline(model, select_device("cpu"))
    with pytest.raises(OmfaError, match="the codec's decoded image holds NaN or infinite values"):
        pipe.run(_request(pipe))


# ============================================================================================ doctor
@pytest.fixture
def data(tmp_path, monkeypatch):
    import engine.doctor as doctor

    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("OMFA_DATA_DIR", str(d))
    monkeypatch.setattr(doctor, "_gl", lambda: doctor.Check("offscreen GL (guide renders)", doctor.OK, "stub"))
    return d


def test_doctor_says_ok_only_for_a_model_it_loaded(data, model_dir):
    from engine.doctor import FAIL, OK, run_checks

    (data / "settings.json").write_text(json.dumps({"model_folder": str(model_dir)}))
    check = {c.name: c for c in run_checks("cpu")}["model in Settings"]
    assert check.status == OK and "loads in" in check.detail
    _poison(model_dir, "unet/diffusion_pytorch_model.safetensors")  # every file matches its manifest
    check = {c.name: c for c in run_checks("cpu")}["model in Settings"]
    assert check.status == FAIL and "does not load" in check.detail and "NaN" in check.detail, check


@pytest.mark.parametrize("text, words", [(DEEP.replace("layout", "model_folder"), "nested too deeply"),
                                         ("{damaged", "invalid JSON"), ("[1, 2]", "not an object")])
def test_doctor_names_a_damaged_settings_file_instead_of_a_traceback(data, text, words):
    from engine.doctor import FAIL, run_checks

    (data / "settings.json").write_text(text)
    check = {c.name: c for c in run_checks("cpu")}["settings"]
    assert check.status == FAIL and str(data / "settings.json") in check.detail and words in check.detail
    assert (data / "settings.json").read_text() == text  # doctor only reports; it moves nothing


# ============================================================================================ --state
def test_state_file_that_is_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "state.json"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            BodyState.from_json(str(fifo))
        except BodyStateError as e:
            outcome.append(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    hung = t.is_alive()
    if hung:  # the old code blocks in open(): give it a writer so the thread can end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(5)
    assert not hung, "reading a FIFO as --state hung"
    assert outcome and "not a regular file" in str(outcome[0]) and outcome[0].path == str(fifo)


@pytest.mark.parametrize("content, words", [
    (bytes(range(256)) * 8, "binary file"),
    (('{"body_pose":' * 200_000 + "1" + "}" * 200_000).encode(), "nested too deeply"),
    (b'{"transl": [0, NaN, 0]}', "NaN"),
])
def test_state_files_that_are_binary_or_deep_are_one_line(tmp_path, content, words, capsys):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(BodyStateError) as e:
        BodyState.from_json(str(path))
    assert words in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)
    assert cli.main(["pose", "render", "--state", str(path), "--out", str(tmp_path / "o")]) in (1, 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err and words in err


# ============================================================================================ images
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_flat_png(path, width: int, height: int) -> int:
    """A grey RGB PNG of width x height written row by row (never held in memory): kilobytes on disk.
    Returns its size in bytes."""
    z = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * (3 * width)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))
    path.write_bytes(data)
    return len(data)


def test_a_huge_image_that_compresses_to_kilobytes_is_read_downscaled(tmp_path):
    path = tmp_path / "huge.png"
    size = huge_flat_png(path, 5200, 3900)  # 20 MP, 61 MB decoded; the CLI demo in the README uses 79 MP
    assert size < 200_000
    read = read_image(path, max_side=1024)
    assert read.pixels.shape == (768, 1024, 3) and read.size == (5200, 3900)
    assert any("downscaled from 5200×3900 to 1024×768" in n for n in read.notes)
    assert read_image(path).pixels.shape == (3072, 4096, 3)  # the default keeps at most 4096 on a side


def test_an_image_over_the_memory_budget_is_refused_from_its_header(tmp_path, monkeypatch):
    import engine.images as images

    path = tmp_path / "huge.png"
    huge_flat_png(path, 5200, 3900)
    monkeypatch.setattr(images, "DECODE_BUDGET", 32 << 20)
    with pytest.raises(ImageError, match=r"would take about 58 MB of memory to open \(at most 32 MB\)"):
        read_image(path)


def test_a_float_tiff_full_of_nan_is_refused_not_turned_black(tmp_path):
    path = tmp_path / "nan.tif"
    Image.fromarray(np.full((64, 64), np.nan, np.float32), mode="F").save(path)
    with pytest.raises(ImageError, match="NaN or infinite values in 100% of its pixels"):
        read_image(path)
    few = np.full((64, 64), 0.5, np.float32)
    few[0, :3] = np.inf  # 3 of 4096 pixels: used, and said
    Image.fromarray(few, mode="F").save(path)
    read = read_image(path)
    assert read.pixels[10, 10, 0] == 128 and any("3 NaN or infinite" in n for n in read.notes)


def test_pillow_warnings_become_one_line_notes(tmp_path, recwarn):
    path = tmp_path / "apng.png"
    Image.new("RGB", (32, 32), (10, 200, 30)).save(path)
    raw = path.read_bytes()
    at = 8 + 25  # after the signature and IHDR: an acTL chunk claiming 0 frames (an invalid APNG)
    path.write_bytes(raw[:at] + _png_chunk(b"acTL", struct.pack(">II", 0, 0)) + raw[at:])
    read = read_image(path)
    assert read.pixels[0, 0].tolist() == [10, 200, 30]
    assert "the image library warned: Invalid APNG, will use default PNG image if possible" in read.notes
    assert not [w for w in recwarn if "APNG" in str(w.message)]  # not on the console


def test_the_wardrobe_keeps_a_bounded_size(tmp_path):
    from engine.wardrobe import MAX_SIDE, Wardrobe

    big = np.full((MAX_SIDE * 2, MAX_SIDE + 10, 3), 90, np.uint8)
    item = Wardrobe(tmp_path / "w").add(big, name="huge")
    assert max(item.size) == MAX_SIDE and Image.open(item.garment).size == item.size
