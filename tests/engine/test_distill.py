"""Few-step distillation (engine.distill): LoRA students, their sampler, resumable training, the turbo preset."""
import json

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.device import select_device
from engine.distill import DistillConfig, distill, install_student
from engine.student import (LoraConv, StudentError, dequantize, inject_lora, load_student, lora_state, merge_lora,
                            quantize, sample_student, student_alphas)
from engine.pipeline import Pipeline
from engine.presets import with_preset
from engine.request import RequestError, TryOnRequest

from omfa_testing import count_rows, rand_image, tiny_model


def _shards(folder, n=6, seed=0):
    """A train shard of random images at the tiny model's panel size (32 x 32, head 32 wide)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
              for k in ("person", "garment", "head", "guide", "person_b", "guide_b")}
    np.savez(folder / "train_00000.npz", **arrays)
    return folder


@pytest.fixture
def teacher(tmp_path):
    folder = tmp_path / "teacher"
    tiny_model().save(folder)
    return folder


def _cfg(teacher, tmp_path, **kw):
    base = dict(teacher=str(teacher), out=str(tmp_path / "run"), data=str(_shards(tmp_path / "data")), targets=4,
                chunk=2, steps=8, batch=2, lr=1e-2, warmup=1, rank=4, save_every=4, log_every=1,
                step_weights={"1": 0.5, "2": 0.5}, threads=0)
    base.update(kw)
    return DistillConfig(**base)


def test_lora_merge_equals_the_adapted_forward_and_survives_int8_storage():
    torch.manual_seed(0)
    model = tiny_model()
    x = torch.randn(2, 9, 8, 24)
    t = torch.tensor([500, 100])
    teacher_out = model(x, t).detach()
    base = __import__("copy").deepcopy(model.unet)
    params = inject_lora(model.unet, rank=4)
    assert model(x, t).detach().equal(teacher_out)  # a fresh adapter changes nothing (up = 0)
    with torch.no_grad():
        for p in params:
            p.normal_(0, 0.05)
    adapted = model(x, t).detach()
    assert (adapted - teacher_out).abs().max() > 1e-2
    state = lora_state(model.unet)
    assert any(isinstance(m, LoraConv) for m in model.unet.modules())
    merged = __import__("copy").deepcopy(base)
    merge_lora(merged, dequantize(quantize(state)))
    model.unet = merged
    out = model(x, t).detach()
    # int8 factors: the merged student is the adapted one up to quantisation (far below what it learned)
    assert (out - adapted).abs().max() < 0.02 * (adapted - teacher_out).abs().max() + 1e-4


def test_merge_refuses_adapters_made_for_another_model():
    model = tiny_model()
    inject_lora(model.unet, rank=2)
    state = lora_state(model.unet)
    other = tiny_model().unet
    bad = {k: v for k, v in state.items()}
    key = next(k for k in bad if k.endswith(".down") and bad[k].ndim == 2)
    bad[key] = torch.zeros(bad[key].shape[0], bad[key].shape[1] + 3)
    with pytest.raises(StudentError, match="another model"):
        merge_lora(other, bad)


def test_student_sampling_keeps_clean_panels_and_makes_one_call_per_step(model):
    lay = model.layout
    torch.manual_seed(0)
    x0 = torch.randn(2, 4, 8, 24)
    mask = lay.mask("try-off")
    calls = []

    def spy(x_in, t):
        calls.append((x_in.shape[0], int(t[0])))
        return model(x_in, t)

    alphas = student_alphas(model)
    out = sample_student(spy, x0, torch.zeros_like(x0), mask, [901, 451], alphas, model.config.prediction_type,
                         noise=torch.randn_like(x0), init=torch.zeros(1, 4, 8, 24))
    keep = ~mask.bool().expand_as(x0)
    assert out.latents[keep].equal(x0[keep])  # clean panels exactly
    assert not out.latents[~keep].equal(x0[~keep])
    assert calls == [(2, 901), (2, 451)]  # no CFG batch: guidance is built into the student


def test_the_refining_step_is_one_teacher_call_at_its_timestep_from_the_students_jump(model):
    from engine.diffusion import unet_input
    from engine.student import ddim_jump, x0_from_output

    lay = model.layout
    torch.manual_seed(0)
    x0 = torch.randn(1, 4, 8, 24)
    mask = lay.mask("try-off")
    m = mask.bool().expand_as(x0)
    alphas = student_alphas(model)
    student_calls, teacher_calls = [], []

    def student(x_in, t):
        student_calls.append(int(t[0]))
        return model(x_in, t)

    def teacher(x_in, t):
        teacher_calls.append(int(t[0]))
        return model(x_in, t) * 0.5  # another network than the student's, so its output is recognisable

    noise = torch.randn_like(x0)
    plain = sample_student(student, x0, torch.zeros_like(x0), mask, [901, 451], alphas, model.config.prediction_type,
                           noise=noise)
    steps = []
    refined = sample_student(student, x0, torch.zeros_like(x0), mask, [901, 451], alphas,
                             model.config.prediction_type, noise=noise, refine=(teacher, [48]),
                             progress=lambda i, n, _x: steps.append((i, n)))
    assert student_calls == [901, 451, 901, 451] and teacher_calls == [48]
    assert steps == [(1, 3), (2, 3), (3, 3)] and refined.steps_done == 3
    # the result is the teacher's x0 estimate at the DDIM jump from the student's last state to t = 48
    x = torch.where(m, noise, x0)
    x0_hat = torch.where(m, x0_from_output(model(unet_input(x, torch.zeros_like(x0), mask.float()),
                                                 torch.full((1,), 901)), x, 901, alphas,
                                           model.config.prediction_type), x0)
    x = torch.where(m, ddim_jump(x, x0_hat, 901, 451, alphas), x0)
    x0_hat = torch.where(m, x0_from_output(model(unet_input(x, torch.zeros_like(x0), mask.float()),
                                                 torch.full((1,), 451)), x, 451, alphas,
                                           model.config.prediction_type), x0)
    assert torch.allclose(plain.latents, x0_hat, atol=1e-5)
    x = torch.where(m, ddim_jump(x, x0_hat, 451, 48, alphas), x0)
    out = model(unet_input(x, torch.zeros_like(x0), mask.float()), torch.full((1,), 48)) * 0.5
    expect = torch.where(m, x0_from_output(out, x, 48, alphas, model.config.prediction_type), x0)
    assert torch.allclose(refined.latents, expect, atol=1e-5)
    assert refined.latents[~m].equal(x0[~m]) and not torch.allclose(refined.latents, plain.latents)


def test_distill_trains_a_student_that_resumes_and_changes_the_output(teacher, tmp_path, capsys):
    torch.manual_seed(0)
    cfg = _cfg(teacher, tmp_path)
    lines: list[str] = []
    student_dir = distill(cfg, log=lines.append, stop_after=4)
    assert any("targets chunk 2/2" in line for line in lines)
    progress = json.loads((tmp_path / "run" / "checkpoint" / "progress.json").read_text())
    assert progress["step"] == 4
    first = load_student(student_dir)
    # the resumed run continues from step 4, reuses the recorded targets, and ends at the target step count
    lines.clear()
    distill(cfg, log=lines.append)
    assert any("resumed from" in line and "at step 4" in line for line in lines)
    assert not any("targets chunk" in line for line in lines)
    progress = json.loads((tmp_path / "run" / "checkpoint" / "progress.json").read_text())
    assert progress["step"] == 8
    losses = [v for _, v in progress["losses"]]
    assert len(losses) == 8 and losses[-1] < losses[0]  # it learns the teacher's endpoints
    second = load_student(student_dir)
    assert second.config.training["steps"] == 8
    assert any(not torch.equal(first.lora[k], second.lora[k]) for k in first.lora)
    # installed beside its teacher: the turbo preset runs the student (one row, one step)
    install_student(student_dir, teacher)
    pipe = Pipeline.load(teacher, device="cpu")
    rows = count_rows(pipe)
    person = rand_image(np.random.default_rng(0), 32, 32)
    turbo = pipe.run(with_preset(TryOnRequest(person=person, seed=1), "turbo"))
    assert rows == [1] and turbo.settings["student"]["timesteps"] == second.config.timesteps_for(1)
    # with a refining step the teacher's own UNet makes one more call at refine_t, after the student's
    st, student_unet = pipe.student()
    st.config.refine = [48]
    seen = []
    teacher_unet = pipe.model.unet
    hooks = [u.register_forward_pre_hook(lambda mod, a, name=name: seen.append(name))
             for name, u in (("student", student_unet), ("teacher", teacher_unet))]
    rows.clear()
    refined = pipe.run(with_preset(TryOnRequest(person=person, seed=1), "turbo"))
    for h in hooks:
        h.remove()
    assert seen == ["student", "teacher"] and rows == [1, 1]
    assert refined.settings["student"]["refine"] == [48] and pipe.model.unet is teacher_unet
    assert not np.array_equal(refined.outputs[0], turbo.outputs[0])
    st.config.refine = []
    rows.clear()
    fast = pipe.run(with_preset(TryOnRequest(person=person, seed=1), "fast"))
    assert len(rows) == 20
    assert not np.array_equal(turbo.outputs[0], fast.outputs[0])
    assert main(["verify", str(teacher)]) == 0  # the manifest covers the student


def test_turbo_is_refused_in_one_line_without_a_student_and_with_settings_it_cannot_honour(teacher, tmp_path):
    pipe = Pipeline.load(teacher, device="cpu")
    person = rand_image(np.random.default_rng(0), 32, 32)
    assert not pipe.has_student and "student" not in pipe.schedulers()
    with pytest.raises(RequestError) as e:
        pipe.run(with_preset(TryOnRequest(person=person), "turbo"))
    assert e.value.field == "scheduler" and "no few-step student" in str(e.value) and "\n" not in str(e.value)
    Pipeline(tiny_model(), select_device("cpu"))  # a pipeline without a folder has no student either
    cfg = _cfg(teacher, tmp_path, steps=1, targets=2)
    install_student(distill(cfg, log=lambda *_: None), teacher)
    pipe = Pipeline.load(teacher, device="cpu")
    assert pipe.has_student
    for field, change in (("steps", {"steps": 3}), ("guidance", {"guidance": 2.0}),
                          ("strength", {"strength": 0.5, "garment": person})):
        req = with_preset(TryOnRequest(person=person), "turbo")
        with pytest.raises(RequestError) as e:
            pipe.run(__import__("dataclasses").replace(req, **change))
        assert e.value.field == field


def test_a_student_without_the_turbo_presets_step_count_is_announced_at_the_start(teacher, tmp_path):
    lines: list[str] = []
    distill(_cfg(teacher, tmp_path, steps=1, targets=2, step_weights={"2": 1.0}), log=lines.append)
    assert any(line.startswith("note: the turbo preset samples 1 step(s)") and "2: --steps" in line for line in lines)
    lines.clear()
    distill(_cfg(teacher, tmp_path, steps=1, targets=2, out=str(tmp_path / "run1")), log=lines.append)
    assert not any(line.startswith("note: the turbo preset") for line in lines)


def test_student_step_counts_come_from_the_config_alone(teacher, tmp_path):
    from engine.student import student_step_counts

    assert student_step_counts(teacher) == ()  # no student
    install_student(distill(_cfg(teacher, tmp_path, steps=1, targets=2), log=lambda *_: None), teacher)
    assert student_step_counts(teacher) == (1, 2)
    assert Pipeline.load(teacher, device="cpu").info().student_steps == (1, 2)
    (teacher / "student" / "student_config.json").write_text("{not json")
    assert student_step_counts(teacher) == ()  # unreadable: loading the student says why


def test_install_refuses_a_student_of_another_teacher(teacher, tmp_path):
    student = distill(_cfg(teacher, tmp_path, steps=1, targets=2), log=lambda *_: None)
    other = tmp_path / "other"
    tiny_model(seed=5).save(other)
    with pytest.raises(StudentError, match="other UNet weights"):
        install_student(student, other)
    assert not (other / "student").exists()


def test_cli_distill_refuses_bad_options_in_one_line(capsys):
    assert main(["distill", "--rank", "0"]) == 2
    assert main(["distill", "--student-steps", "two"]) == 2
    assert main(["distill", "--preset", "turbo"]) == 2
    assert main(["distill", "--pixel-weight", "-1"]) == 2
    assert main(["distill", "--pixel-weight", "inf"]) == 2
    assert main(["distill", "--white-weight", "-2"]) == 2
    assert main(["distill", "--silhouette-weight", "nan", "--pixel-weight", "1"]) == 2
    assert main(["distill", "--silhouette-weight", "1"]) == 2  # part of the pixel loss, which is off
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 8 and all(line.startswith("error: ") for line in err)


@pytest.mark.parametrize("refine", [["48"], [48, 142], [0], [5000], "48", [True]])
def test_a_student_config_with_a_bad_refine_schedule_is_refused_in_one_line(teacher, tmp_path, refine):
    student = distill(_cfg(teacher, tmp_path, steps=1, targets=2), log=lambda *_: None)
    cfg = json.loads((student / "student_config.json").read_text())
    cfg["refine"] = refine
    (student / "student_config.json").write_text(json.dumps(cfg))
    with pytest.raises(StudentError, match="'refine' must be") as e:
        load_student(student)
    assert "\n" not in str(e.value)


def _tiny_vae():
    from diffusers import AutoencoderKL

    from engine.codec import VaeCodec

    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(32, 32), latent_channels=4, norm_num_groups=32, layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    return VaeCodec(vae.eval())


@pytest.mark.parametrize("kind", ["tiny", "vae"])
def test_decode_with_grad_is_decode_and_passes_gradients_to_the_latents(kind):
    from engine.codec import TinyCodec

    codec = TinyCodec().eval() if kind == "tiny" else _tiny_vae()
    codec.requires_grad_(False)
    z = torch.randn(2, 4, 8, 8, requires_grad=True)
    out = codec.decode_with_grad(z)
    assert torch.allclose(out, codec.decode(z.detach()), atol=1e-6)
    out.sum().backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0


def test_the_pixel_loss_compares_only_decoded_generated_panels():
    from engine.distill import pixel_loss

    model = tiny_model()
    model.requires_grad_(False)
    lay = model.layout
    torch.manual_seed(0)
    target = torch.randn(2, 4, lay.height // lay.factor, lay.width // lay.factor)
    clean = torch.randn_like(target)
    mask = torch.cat([lay.mask("try-off"), lay.mask("try-on")])  # row 0 generates the garment, row 1 the person
    assert float(pixel_loss(model, target.clone(), target, clean, mask)) == 0.0
    # what the clean panels of x0_hat hold does not matter: they are re-imposed from the clean canvas
    x0_hat = torch.where(mask.bool(), target, torch.randn_like(target)).requires_grad_(True)
    assert float(pixel_loss(model, x0_hat, target, clean, mask).detach()) == 0.0
    moved = (target + 0.5 * torch.randn_like(target)).requires_grad_(True)
    loss = pixel_loss(model, moved, target, clean, mask)
    assert float(loss) > 0
    loss.backward()
    g = moved.grad.abs().sum(dim=1, keepdim=True)
    assert float((g * (1 - mask)).sum()) == 0.0 and float((g * mask).sum()) > 0  # gradients on generated panels


def test_distill_with_a_pixel_loss_trains_and_reports_the_held_out_pixel_error(teacher, tmp_path):
    lines: list[str] = []
    cfg = _cfg(teacher, tmp_path, steps=2, pixel_weight=1.0, white_weight=3.0, silhouette_weight=0.5)
    distill(cfg, log=lines.append)
    held = [line for line in lines if "held-out" in line]
    assert held and all("pixel L1 1 step(s)" in line for line in held)
    progress = json.loads((tmp_path / "run" / "checkpoint" / "progress.json").read_text())
    assert progress["config"]["pixel_weight"] == 1.0 and "px1" in progress["val"][-1][1]
    training = load_student(tmp_path / "run" / "student").config.training
    assert (training["pixel_weight"], training["white_weight"], training["silhouette_weight"]) == (1.0, 3.0, 0.5)
    # the same first step without the pixel term has a smaller loss (the pixel term is in what is minimised)
    plain: list[str] = []
    distill(_cfg(teacher, tmp_path, steps=1, out=str(tmp_path / "plain"), log_every=1), log=plain.append)
    def first_loss(log: list[str]) -> float:
        return float(next(line for line in log if line.startswith("step 1/")).split("loss ")[1].split()[0])

    assert first_loss(plain) < first_loss(lines)


def _exact_codec_model():
    """A model stand-in whose codec's pixels are the latent's first 3 channels, upsampled: errors are exact."""
    from types import SimpleNamespace

    import torch.nn.functional as F

    lay = tiny_model().layout

    class Upsample:
        factor = lay.factor

        def decode_with_grad(self, z):
            return F.interpolate(z[:, :3], scale_factor=self.factor, mode="nearest").clamp(-1, 1)

        decode = decode_with_grad

    return SimpleNamespace(layout=lay, codec=Upsample())


def test_the_white_weight_weighs_errors_where_the_teachers_pixel_is_white():
    from engine.distill import pixel_loss

    model = _exact_codec_model()
    lay = model.layout
    target = torch.full((1, 4, lay.height // lay.factor, lay.width // lay.factor), -0.5)
    mask = lay.mask("try-off")
    white = mask.bool() & (torch.arange(target.shape[-1]) % 2 == 0)  # half the garment panel is white
    target = torch.where(white, torch.ones_like(target), target)
    off = torch.where(white, target - 0.2, target)  # off-white exactly where the teacher is white
    plain = float(pixel_loss(model, off, target, target, mask))
    weighted = float(pixel_loss(model, off, target, target, mask, white_weight=3.0))
    assert plain == pytest.approx(0.1, abs=1e-6)               # 0.2 on half the generated pixels
    assert weighted == pytest.approx(0.2 * 4 / 5, abs=1e-6)    # weights 4 (white) and 1: 0.2 * 4 / (4 + 1)
    assert float(pixel_loss(model, target - 0.2 * (~white).float(), target, target, mask, white_weight=3.0)) \
        == pytest.approx(0.2 * 1 / 5, abs=1e-6)                # errors off the white pixels weigh less


def test_the_silhouette_term_acts_at_the_metrics_white_threshold():
    from engine.distill import WHITE_LEVEL, pixel_loss, soft_figure
    from engine.metrics import foreground_mask

    # the soft mask agrees with the evaluation's hard one away from the threshold, on real 8-bit levels
    levels = np.array([255, 250, 243, 240, 230, 128, 0], np.uint8)
    img = np.repeat(levels[None, :, None], 3, axis=2)                     # (1, 7, 3) grey levels
    hard = foreground_mask(img)[0]
    soft = soft_figure(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1.0)[0, 0, 0].numpy()
    assert list(hard) == [False, False, False, True, True, True, True]
    assert (soft[[0, 1]] < 0.2).all() and (soft[[4, 5, 6]] > 0.8).all()   # 243/240 sit at the threshold
    assert WHITE_LEVEL == pytest.approx(1 - 24 / 255)

    # a pixel a few levels off-white where the teacher is white: the silhouette term sees it, weighted
    model = _exact_codec_model()
    lay = model.layout
    mask = lay.mask("try-off")
    target = torch.where(mask.bool(), torch.ones(1, 4, lay.height // lay.factor, lay.width // lay.factor), -0.5)
    grey = torch.where(mask.bool(), target - 30 / 127.5, target)          # 30 levels: figure to the metric
    x = grey.clone().requires_grad_(True)
    plain = pixel_loss(model, x, target, target, mask)
    with_sil = pixel_loss(model, x, target, target, mask, silhouette_weight=2.0)
    assert float(plain.detach()) == pytest.approx(30 / 127.5, abs=1e-5)
    sil = float(soft_figure(torch.full((1, 3, 1, 1), 1 - 30 / 127.5)))
    assert float(with_sil.detach()) == pytest.approx(30 / 127.5 + 2.0 * sil, abs=1e-5)
    (g,) = torch.autograd.grad(with_sil, x)
    assert float(g[mask.bool().expand_as(g)].sum()) < 0 and not g[~mask.bool().expand_as(g)].any()
    # agreeing silhouettes add only the soft mask's small tail on pure white
    tail = 2.0 * float(soft_figure(torch.ones(1, 3, 1, 1)))
    assert float(pixel_loss(model, target, target, target, mask, silhouette_weight=2.0)) == pytest.approx(tail)
    assert tail < 0.1
