"""The ``omfa`` command end to end (in-process), on tiny inputs."""
import json

import numpy as np
import pytest
from PIL import Image

from engine import cli
from engine.export import read_png_metadata
from engine.paths import SAMPLES

from omfa_testing import small_model_folder


def test_bench_flops_prints_sdxl_numbers(capsys):
    assert cli.main(["bench", "flops", "--preset", "sdxl", "--size", "768x1024", "--panels", "person,garment"]) == 0
    out = capsys.readouterr().out
    assert "10.68 TFLOP per UNet forward" in out and "UNet 1068.0 + VAE 14.9 = 1082.9 TFLOP per request" in out
    assert "sampling paper: 50 steps" in out and "1.00x the paper sampler" in out


@pytest.mark.parametrize("panels", ["person,shoes", "person=768,person=768", "person=wide,garment=768", "garment=768"])
def test_bench_flops_bad_panels_is_a_clear_error(panels, capsys):
    assert cli.main(["bench", "flops", "--panels", panels]) == 2
    err = capsys.readouterr().err
    assert "--panels" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_try_off_on_a_sample_writes_png_with_metadata(tmp_path, capsys):
    out = tmp_path / "g.png"
    code = cli.main(["try-off", "--person", str(SAMPLES / "demo_000_person.png"), "--head",
                     str(SAMPLES / "demo_000_head.png"), "--steps", "2", "--out", str(out), "--quiet",
                     "--model", str(_small_model(tmp_path))])
    assert code == 0 and out.is_file()
    meta = read_png_metadata(out)
    assert meta["request"]["task"] == "try-off" and meta["request"]["steps"] == 2
    # the fast preset by default; --steps overrides only the steps
    assert meta["request"]["scheduler"] == "dpm++2m" and meta["request"]["guidance_until"] == 0.5
    assert meta["result"]["status"] == "finished"
    assert np.asarray(Image.open(out)).shape == (128, 96, 3)
    assert "untrained" in capsys.readouterr().err


def test_try_on_from_a_preset_with_views(tmp_path):
    out = tmp_path / "p.png"
    code = cli.main(["try-on", "--garment", str(SAMPLES / "demo_000_garment.png"), "--pose", "walking",
                     "--views", "2", "--steps", "1", "--out", str(out), "--quiet",
                     "--model", str(_small_model(tmp_path))])
    assert code == 0
    files = sorted(p.name for p in tmp_path.glob("p_view*.png"))
    assert files == ["p_view00.png", "p_view01.png"]
    meta = read_png_metadata(tmp_path / "p_view01.png")
    assert meta["request"]["task"] == "multi-view" and len(meta["request"]["cameras"]) == 2


@pytest.mark.parametrize("argv,words", [
    (["try-off", "--person", "/nonexistent.png"], "no such file"),
    (["try-off", "--person", __file__], "not an image file"),
    (["try-off", "--person", str(SAMPLES / "demo_000_person.png"), "--steps", "0"], "steps"),
    (["try-off", "--person", str(SAMPLES / "demo_000_person.png"), "--model", "/nonexistent"], "does not exist"),
    (["try-on", "--garment", str(SAMPLES / "demo_000_garment.png"), "--pose", "moonwalk"], "moonwalk"),
    (["try-off", "--person", str(SAMPLES / "demo_000_person.png"), "--device", "cuda"], "CUDA"),
])
def test_bad_input_is_one_clear_line_not_a_traceback(argv, words, capsys, tmp_path):
    if "--model" not in argv:
        argv = argv + ["--model", str(_small_model(tmp_path))]
    code = cli.main(argv + ["--quiet", "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    if "cuda" in argv and code == 0:
        pytest.skip("a CUDA GPU is present")
    assert code != 0 and words in err and "Traceback" not in err


def test_train_smoke_20_steps(tmp_path, capsys):
    code = cli.main(["train", "--preset", "demo", "--steps", "20", "--batch", "2", "--pool", "2",
                     "--save-every", "10", "--out", str(tmp_path / "run")])
    assert code == 0
    cfg = json.loads((tmp_path / "run/model/omfa_config.json").read_text())
    assert cfg["training"]["steps"] == 20 and cfg["trained"] is False  # 20 steps is not a trained model
    assert cfg["noise_schedule"]["prediction_type"] == "v_prediction" and cfg["views_per_canvas"] == 1
    progress = json.loads((tmp_path / "run/checkpoint/progress.json").read_text())
    assert progress["step"] == 20 and len(progress["losses"]) >= 1
    # The exported model carries its data's mean latent per panel, where sampling starts (engine.prior).
    from engine.model import load_model

    prior = load_model(tmp_path / "run/model").latent_prior
    assert prior is not None and "2 samples of the synthetic world" in prior.source
    assert prior.panels["person"].shape == (4, 32, 24) and prior.panels["head"].shape == (4, 32, 16)
    # Resuming past the end does nothing more; asking for more steps continues from 20.
    assert cli.main(["train", "--preset", "demo", "--steps", "22", "--batch", "2", "--pool", "2",
                     "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run/checkpoint/progress.json").read_text())["step"] == 22
    # A fine-tune of the exported model continues its step count and clock with a schedule of its own.
    assert cli.main(["train", "--preset", "demo", "--resume-model", str(tmp_path / "run/model"), "--steps", "24",
                     "--warmup", "2", "--batch", "2", "--pool", "2", "--out", str(tmp_path / "tune")]) == 0
    progress = json.loads((tmp_path / "tune/checkpoint/progress.json").read_text())
    assert progress["step"] == 24 and progress["schedule_start"] == 22
    training = json.loads((tmp_path / "tune/model/omfa_config.json").read_text())["training"]
    assert training["steps"] == 24 and training["schedule_start"] == 22 and training["warmup"] == 2


def test_train_a_patched_full_attention_model_and_resume_it_as_it_was_made(tmp_path, capsys):
    from engine.model import load_model

    assert cli.main(["train", "--preset", "demo", "--patch", "2", "--full-attention", "--steps", "3",
                     "--batch", "1", "--pool", "1", "--save-every", "3", "--out", str(tmp_path / "run")]) == 0
    m = load_model(tmp_path / "run/model")
    assert m.config.patch == 2 and m.unet.config.in_channels == 36
    assert set(m.unet.config.down_block_types) == {"CrossAttnDownBlock2D"}
    # resumed without the flags: the checkpoint's geometry wins (its weights would not fit a plain UNet)
    assert cli.main(["train", "--preset", "demo", "--steps", "4", "--batch", "1", "--pool", "1",
                     "--out", str(tmp_path / "run")]) == 0
    assert "keeping its UNet geometry patch=2, full_attention=True" in capsys.readouterr().out
    assert load_model(tmp_path / "run/model").config.training["steps"] == 4
    # a fine-tune cannot change the UNet it continues: refused in one line, nothing written
    code = cli.main(["train", "--resume-model", str(tmp_path / "run/model"), "--patch", "1", "--full-attention",
                     "--steps", "6", "--out", str(tmp_path / "tune")])
    err = capsys.readouterr().err
    assert code == 2 and "keeps the UNet it has" in err and "Traceback" not in err
    assert not (tmp_path / "tune").exists()


def test_train_stops_when_its_time_budget_is_spent(tmp_path, capsys):
    # a fresh run with a budget it spends in its first step: one step, saved and exported
    assert cli.main(["train", "--preset", "demo", "--steps", "50", "--batch", "1", "--pool", "1",
                     "--max-hours", "1e-9", "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run/checkpoint/progress.json").read_text())["step"] == 1
    assert "budget is spent" in capsys.readouterr().out
    # a fine-tune counts the hours its model came with: nothing left to spend, nothing written
    assert cli.main(["train", "--preset", "demo", "--resume-model", str(tmp_path / "run/model"), "--steps", "60",
                     "--batch", "1", "--pool", "1", "--max-hours", "1e-9", "--out", str(tmp_path / "tune")]) == 0
    out = capsys.readouterr().out
    assert "already spent" in out and "no model written" in out and not (tmp_path / "tune/model").exists()


def test_learning_rate_warms_up_then_decays_to_a_tenth_and_restarts_for_a_fine_tune():
    from engine.train import TrainConfig, learning_rate

    cfg = TrainConfig(lr=1e-3, warmup=10, steps=110)
    assert learning_rate(cfg, 0) == pytest.approx(1e-4) and learning_rate(cfg, 9) == pytest.approx(1e-3)
    assert learning_rate(cfg, 60) == pytest.approx(1e-3 * 0.55) and learning_rate(cfg, 110) == pytest.approx(1e-4)
    tune = TrainConfig(lr=1e-3, warmup=10, steps=1110)
    assert learning_rate(tune, 1000, schedule_start=1000) == pytest.approx(1e-4)  # warmup again
    assert learning_rate(tune, 1060, schedule_start=1000) == pytest.approx(1e-3 * 0.55)
    assert learning_rate(tune, 1000) < 0.13e-3  # without the restart: the old run's tail, 12 % of lr


def test_train_noise_schedule_choice(tmp_path):
    from engine.model import ModelError
    from engine.train import TrainConfig, _build

    assert cli.main(["train", "--preset", "demo", "--steps", "1", "--batch", "1", "--pool", "1",
                     "--noise-schedule", "zero-snr", "--two-views", "0.5", "--max-views-per-canvas", "4",
                     "--out", str(tmp_path / "v2")]) == 0
    cfg = json.loads((tmp_path / "v2/model/omfa_config.json").read_text())
    ns = cfg["noise_schedule"]  # the schedule travels with the model, so samplers follow it
    assert ns["rescale_betas_zero_snr"] is True and ns["timestep_spacing"] == "trailing"
    assert cfg["views_per_canvas"] == 4 and cfg["training"]["max_views_per_canvas"] == 4
    with pytest.raises(ModelError, match="zero terminal SNR needs v-prediction"):
        _build(TrainConfig(prediction_type="epsilon", zero_terminal_snr=True))


@pytest.mark.parametrize("argv, words", [
    (["--two-views", "1.5"], "--two-views is a fraction of steps from 0 to 1"),
    (["--two-views", "0.5", "--max-views-per-canvas", "1"], "--max-views-per-canvas must be from 2 to 8"),
    (["--resume-model", "{tmp}/missing"], "does not exist"),
    (["--max-hours", "-1"], "--max-hours must be >= 0"),
])
def test_train_refuses_bad_options_in_one_line(argv, words, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = cli.main(["train", "--steps", "1", "--batch", "1", "--pool", "1", "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code != 0 and words in err and "Traceback" not in err
    assert not (tmp_path / "r/model").exists()




def _small_model(tmp_path_unused):
    return small_model_folder()


def test_sampling_presets_and_explicit_options():
    p = cli.build_parser()
    base = ["try-off", "--person", "x.png"]
    assert cli.sampling(p.parse_args(base)) == dict(scheduler="dpm++2m", steps=20, guidance=2.0,
                                                     guidance_until=0.5, memory="standard", noise_prior=True)
    paper = cli.sampling(p.parse_args(base + ["--preset", "paper", "--memory", "low", "--no-noise-prior"]))
    assert paper == dict(scheduler="ddim", steps=50, guidance=2.0, guidance_until=1.0, memory="low",
                         noise_prior=False)
    mixed = cli.sampling(p.parse_args(base + ["--preset", "paper", "--scheduler", "unipc", "--guidance-until", "0.3"]))
    assert (mixed["scheduler"], mixed["steps"], mixed["guidance_until"]) == ("unipc", 50, 0.3)


def test_every_command_has_working_help(capsys):
    """argparse formats help texts with %: a stray '%' crashes --help (it did for the sampling commands)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for p in sub.choices.values():
        p.format_help()  # raises ValueError / TypeError on a bad format character
        nested = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
        for a in nested:
            for q in a.choices.values():
                q.format_help()
    with pytest.raises(SystemExit) as e:
        cli.main(["try-off", "--help"])
    assert e.value.code == 0 and "fastest" in capsys.readouterr().out
