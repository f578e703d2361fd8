"""The latent prior (engine.prior): computed from data, stored with the model, and where sampling starts."""
import shutil

import numpy as np
import pytest
import torch

from engine import cli
from engine.device import select_device
from engine.integrity import write_manifest
from engine.model import ModelError, load_model
from engine.pipeline import Pipeline
from engine.prior import LatentPrior, PriorError, check_latent_prior, compute_latent_prior
from engine.request import RequestError, TryOnRequest

from omfa_testing import rand_image, small_model_folder, tiny_model


def _prior(layout, value: float = 0.0) -> LatentPrior:
    h = layout.height // layout.factor
    return LatentPrior({p: torch.full((4, h, layout.widths[p] // layout.factor), value) for p in layout.panels},
                       "test")


def test_the_prior_is_the_mean_latent_of_each_panel_both_poses_for_the_person():
    lay = tiny_model().layout  # latent panels 8 x 8 each
    z = {k: torch.full((3, 4, 8, 8), v) for k, v in (("person", 1.0), ("person_b", 3.0), ("garment", -2.0),
                                                      ("head", 5.0), ("guide", 9.0))}
    z["garment"][0] += 3.0  # the mean is over samples, per position
    prior = compute_latent_prior(z, lay, "three samples")
    assert torch.allclose(prior.panels["person"], torch.full((4, 8, 8), 2.0))
    assert torch.allclose(prior.panels["garment"], torch.full((4, 8, 8), -1.0))
    assert torch.allclose(prior.panels["head"], torch.full((4, 8, 8), 5.0)) and prior.source == "three samples"
    with pytest.raises(PriorError, match="no head images"):
        compute_latent_prior({k: v for k, v in z.items() if k != "head"}, lay)


def test_a_prior_that_does_not_fit_the_model_is_refused():
    lay = tiny_model().layout
    good = _prior(lay).panels
    check_latent_prior(good, lay, 4)
    for bad, words in (({**good, "head": torch.zeros(4, 8, 7)}, "head panel of shape"),
                       ({k: v for k, v in good.items() if k != "garment"}, "lacks the garment"),
                       ({**good, "person": torch.full((4, 8, 8), float("nan"))}, "non-finite"),
                       (good, "shape (4, 8, 8); this model's is (3, 8, 8)")):
        with pytest.raises(ModelError, match=words.replace("(", r"\(").replace(")", r"\)")):
            check_latent_prior(bad, lay, 3 if bad is good else 4)


def test_a_saved_model_keeps_its_prior_and_a_bad_prior_file_fails_the_load(tmp_path):
    m = tiny_model()
    m.save(tmp_path / "plain")
    assert load_model(tmp_path / "plain").latent_prior is None
    m.latent_prior = _prior(m.layout, 0.5)
    m.save(tmp_path / "m")
    back = load_model(tmp_path / "m").latent_prior
    assert back.source == "test" and all(torch.equal(back.panels[p], m.latent_prior.panels[p]) for p in back.panels)
    # saving a model without one over that folder leaves no stale prior behind
    m.latent_prior = None
    m.save(tmp_path / "m")
    assert not (tmp_path / "m/latent_prior.safetensors").exists() and load_model(tmp_path / "m").latent_prior is None
    # a prior of the wrong shape (manifest rewritten, so only the prior is wrong) is refused by name
    from safetensors.torch import save_file

    save_file({p: torch.zeros(4, 8, 5) for p in m.layout.panels}, str(tmp_path / "m/latent_prior.safetensors"))
    write_manifest(tmp_path / "m")
    with pytest.raises(ModelError, match="latent_prior.safetensors has a person panel of shape"):
        load_model(tmp_path / "m")
    (tmp_path / "m/latent_prior.safetensors").write_bytes(b"not safetensors")
    write_manifest(tmp_path / "m")
    with pytest.raises(ModelError, match="could not read .*latent_prior.safetensors"):
        load_model(tmp_path / "m")


def _first_unet_input(pipe) -> list:
    seen = []
    forward = pipe.model.forward

    def spy(x_in, t):
        if not seen:
            seen.append((x_in.detach().clone(), int(t[0])))
        return forward(x_in, t)

    pipe.model.forward = spy
    return seen


@pytest.mark.parametrize("scheduler", ["ddim", "dpm++2m", "euler"])
def test_sampling_starts_around_the_prior_and_keeps_clean_panels_clean(rng, scheduler):
    """A try-off's generated garment panel starts at sqrt(alphabar_t0) * prior + noise; the clean person panel
    is the photo's latent either way. With the prior off (or absent) it starts from pure noise."""
    from engine.pipeline import make_scheduler

    pipe = Pipeline(tiny_model(), select_device("cpu"))
    pipe.model.latent_prior = _prior(pipe.layout, 40.0)
    person = rand_image(rng, 32, 32)
    runs = {}
    for on in (True, False):
        seen = _first_unet_input(pipe)
        r = pipe.run(TryOnRequest(person=person, steps=4, guidance=1.0, scheduler=scheduler, seed=2, noise_prior=on))
        runs[on] = (seen[0], r)
        pipe.model.forward = type(pipe.model).forward.__get__(pipe.model)
    sched = make_scheduler(scheduler, pipe.model.config.noise_schedule)
    sched.set_timesteps(4)
    (x_on, t_on), r_on = runs[True]
    (x_off, _), r_off = runs[False]
    g, p = pipe.layout.slices()["garment"], pipe.layout.slices()["person"]
    # the UNet sees scale_model_input(x_t) = sqrt(alphabar) x0 + sqrt(1 - alphabar) eps for every scheduler
    lift = (x_on[:, :4, :, g] - x_off[:, :4, :, g]).mean().item()
    want = 40.0 * float(sched.alphas_cumprod[int(t_on)]) ** 0.5
    assert lift == pytest.approx(want, rel=0.02)
    assert torch.equal(x_on[:, :4, :, p], x_off[:, :4, :, p])  # clean panels untouched
    assert r_on.settings["noise_prior"] is True and r_off.settings["noise_prior"] is False
    assert not np.array_equal(r_on.outputs[0], r_off.outputs[0])


def test_a_model_without_a_prior_or_a_replaced_codec_samples_from_pure_noise(rng):
    pipe = Pipeline(tiny_model(), select_device("cpu"))
    person = rand_image(rng, 32, 32)
    a = pipe.run(TryOnRequest(person=person, steps=3, seed=1))
    b = pipe.run(TryOnRequest(person=person, steps=3, seed=1, noise_prior=False))
    assert np.array_equal(a.outputs[0], b.outputs[0]) and a.settings["noise_prior"] is False


def test_shared_canvases_start_every_view_from_the_person_mean(rng):
    pipe = Pipeline(tiny_model(), select_device("cpu"))
    lay = pipe.layout
    prior = LatentPrior({"person": torch.full((4, 8, 8), 1.0), "garment": torch.full((4, 8, 8), 2.0),
                         "head": torch.full((4, 8, 8), 3.0)})
    canvas = prior.canvas(lay, 3)
    assert canvas.shape == (1, 4, 8, 8 * 5)
    assert canvas[..., :24].eq(1.0).all() and canvas[..., 24:32].eq(2.0).all() and canvas[..., 32:].eq(3.0).all()
    assert torch.equal(prior.canvas(lay, 1), lay.concat({k: v[None] for k, v in prior.panels.items()}))
    # a shared-canvas multi-view run takes it (the tiny model is treated as trained on 2 views per canvas)
    pipe.model.config.views_per_canvas = 2
    pipe.model.latent_prior = _prior(lay, 5.0)
    r = pipe.run(TryOnRequest(task="multi-view", garment=rand_image(rng, 32, 32), num_views=3,
                              pose_guides=[rand_image(rng, 32, 32) for _ in range(3)], steps=2, views_per_canvas=2))
    assert r.ok and len(r.outputs) == 3 and r.settings["noise_prior"] is True


def test_the_request_field_is_checked_and_old_results_replay_from_pure_noise(rng):
    lay = tiny_model().layout
    with pytest.raises(RequestError, match="noise_prior: must be true or false"):
        TryOnRequest(person=rand_image(rng, 32, 32), noise_prior="yes").validate(lay)
    settings = TryOnRequest(person=rand_image(rng, 32, 32)).settings()
    assert settings["noise_prior"] is True and TryOnRequest.from_settings(settings).noise_prior is True
    old_result = {k: v for k, v in settings.items() if k != "noise_prior"} | {"model": "OMFA demo"}
    assert TryOnRequest.from_settings(old_result).noise_prior is False


def test_omfa_prior_adds_a_prior_to_an_existing_model(tmp_path, capsys):
    from engine.train import render_shards

    folder = tmp_path / "model"
    shutil.copytree(small_model_folder(), folder)
    assert load_model(folder).latent_prior is None
    render_shards(tmp_path / "data", "train", 3, shard_size=2)
    assert cli.main(["prior", "--model", str(folder), "--data", str(tmp_path / "data")]) == 0
    assert "3 training samples" in capsys.readouterr().out
    prior = load_model(folder).latent_prior  # loads: the manifest was rewritten
    assert prior.source.startswith("3 training samples") and prior.panels["garment"].shape == (4, 32, 24)
    assert cli.main(["verify", str(folder)]) == 0
    # bad input: one clear line, and the model is left as it was
    before = (folder / "latent_prior.safetensors").read_bytes()
    for argv, words in ((["--data", str(tmp_path / "nowhere")], "no train_*.npz shards"),
                        (["--count", "0"], "at least 1 sample")):
        capsys.readouterr()
        assert cli.main(["prior", "--model", str(folder), *argv]) != 0
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
    assert (folder / "latent_prior.safetensors").read_bytes() == before
    assert cli.main(["prior", "--model", str(tmp_path / "missing"), "--count", "1"]) != 0
    assert "does not exist" in capsys.readouterr().err
