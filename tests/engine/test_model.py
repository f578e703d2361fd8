import json

import pytest
import torch

from engine.integrity import write_manifest
from engine.model import IN_CHANNELS, ModelError, init_from_diffusers, load_model, unet_flops, widen_conv_in

from omfa_testing import tiny_model


def test_save_load_gives_identical_outputs(tmp_path):
    m = tiny_model()
    x = torch.randn(2, IN_CHANNELS, 8, 24)
    t = torch.tensor([10, 900])
    with torch.no_grad():
        ref = m(x, t)
    m.save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").rglob("*") if p.is_file())
    assert not any(f.endswith((".bin", ".pt", ".pkl", ".ckpt")) for f in files)  # never pickle
    m2 = load_model(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(m2(x, t), ref)
        img = torch.rand(1, 3, 32, 32) * 2 - 1
        assert torch.equal(m2.codec.encode(img), m.codec.encode(img))
    # saved again (a fine-tune's export): no trace of the folder it was loaded from
    m2.save(tmp_path / "again")
    assert "_name_or_path" not in json.loads((tmp_path / "again/unet/config.json").read_text())


def test_fp16_save_halves_the_unet(tmp_path):
    m = tiny_model()
    m.save(tmp_path / "a")
    m.save(tmp_path / "b", fp16=True)
    a = (tmp_path / "a/unet/diffusion_pytorch_model.safetensors").stat().st_size
    b = (tmp_path / "b/unet/diffusion_pytorch_model.safetensors").stat().st_size
    assert b < 0.55 * a
    assert next(m.unet.parameters()).dtype == torch.float32  # the live model is untouched


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="omfa_config.json is missing"):
        load_model(tmp_path / "empty")
    m = tiny_model()
    m.save(tmp_path / "m")
    (tmp_path / "m/text_embeddings.safetensors").unlink()
    with pytest.raises(ModelError, match="text_embeddings.safetensors is missing"):
        load_model(tmp_path / "m")
    m.save(tmp_path / "m2")
    (tmp_path / "m2/unet/diffusion_pytorch_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="diffusion_pytorch_model.safetensors is truncated"):
        load_model(tmp_path / "m2")  # caught by the manifest
    write_manifest(tmp_path / "m2")  # and without its help, by the safetensors header check
    with pytest.raises(ModelError, match="diffusion_pytorch_model.safetensors is not a safetensors file"):
        load_model(tmp_path / "m2")
    m.save(tmp_path / "m3")
    (tmp_path / "m3/omfa_config.json").write_text("{not json")
    with pytest.raises(ModelError, match="omfa_config.json is truncated: .* manifest.json says"):
        load_model(tmp_path / "m3")
    write_manifest(tmp_path / "m3")
    with pytest.raises(ModelError, match="omfa_config.json is invalid"):
        load_model(tmp_path / "m3")


def _tiny_sdxl_folder(root, in_channels=4):
    """A diffusers pipeline folder with an SDXL-shaped (text_time) UNet and a factor-2 VAE, no text encoders."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=in_channels, out_channels=4, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        layers_per_block=1, attention_head_dim=(2, 4), transformer_layers_per_block=(1, 1), cross_attention_dim=32,
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + 16, norm_num_groups=32)
    vae = AutoencoderKL(block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=32,
                        scaling_factor=0.13025)
    unet.save_pretrained(root / "unet")
    vae.save_pretrained(root / "vae")
    (root / "scheduler").mkdir()
    (root / "scheduler/scheduler_config.json").write_text(json.dumps(
        {"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085,
         "beta_end": 0.012, "beta_schedule": "scaled_linear", "prediction_type": "epsilon"}))
    return unet


def test_tiny_sdxl_folder_loads_offline_and_widening_keeps_the_output(tmp_path, monkeypatch):
    from engine.layout import PanelLayout

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = _tiny_sdxl_folder(tmp_path)
    layout = PanelLayout({"person": 16, "garment": 16}, 16, 2)
    m = init_from_diffusers(tmp_path, text="zeros", layout=layout)
    assert m.unet.config.in_channels == IN_CHANNELS and m.unet.conv_in.in_channels == IN_CHANNELS
    assert torch.count_nonzero(m.unet.conv_in.weight[:, 4:]) == 0
    assert m.codec.factor == 2 and m.null_text.shape == (1, 77, 32) and m.pooled_text.shape == (1, 16)
    x = torch.randn(2, 4, 8, 16)
    extra = torch.randn(2, IN_CHANNELS - 4, 8, 16)  # pose + mask channels: anything, they are zero-weighted
    t = torch.tensor([3, 700])
    with torch.no_grad():
        ehs = torch.zeros(2, 77, 32)
        cond = {"text_embeds": torch.zeros(2, 16), "time_ids": torch.tensor([[16., 32, 0, 0, 16, 32]] * 2)}
        ref = base(x, t, encoder_hidden_states=ehs, added_cond_kwargs=cond).sample
        out = m(torch.cat([x, extra], 1), t)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # The converted model saves and loads like any OMFA model.
    m.save(tmp_path / "omfa")
    again = load_model(tmp_path / "omfa")
    with torch.no_grad():
        torch.testing.assert_close(again(torch.cat([x, extra], 1), t), out)


def test_nine_channel_inpainting_base_loads_as_is(tmp_path):
    from engine.layout import PanelLayout

    base = _tiny_sdxl_folder(tmp_path, in_channels=IN_CHANNELS)
    m = init_from_diffusers(tmp_path, text="zeros", layout=PanelLayout({"person": 16}, 16, 2))
    assert torch.equal(m.unet.conv_in.weight, base.conv_in.weight)


def test_conversion_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="unet/config.json is missing"):
        init_from_diffusers(tmp_path)
    _tiny_sdxl_folder(tmp_path)
    with pytest.raises(ModelError, match="transformers|text_encoder"):
        init_from_diffusers(tmp_path, text="auto")


def test_widen_conv_in_is_idempotent():
    m = tiny_model()
    w = m.unet.conv_in.weight.clone()
    widen_conv_in(m.unet)
    assert torch.equal(m.unet.conv_in.weight, w)


def test_flops_on_meta_device_match_sdxl_geometry():
    # Measured independently with diffusers 0.42.1: 4.94 TFLOP per 768x1024 panel, 10.68 for two.
    assert unet_flops("sdxl", 768, 1024, 1) / 1e12 == pytest.approx(4.94, abs=0.01)
    assert unet_flops("sdxl", 768, 1024, 2) / 1e12 == pytest.approx(10.68, abs=0.01)


def test_omfa_convert_command(tmp_path, capsys):
    from engine import cli

    _tiny_sdxl_folder(tmp_path / "base" if (tmp_path / "base").mkdir() is None else None)
    code = cli.main(["convert", "--base", str(tmp_path / "base"), "--out", str(tmp_path / "omfa"), "--text", "zeros",
                     "--size", "16x16", "--panels", "person,garment", "--fp16"])
    assert code == 0, capsys.readouterr().err
    m = load_model(tmp_path / "omfa")
    assert m.unet.config.in_channels == IN_CHANNELS and m.layout.panels == ("person", "garment")
    assert cli.main(["convert", "--base", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 1
    assert "unet/config.json is missing" in capsys.readouterr().err


def _patched_tiny(patch=2, full_attention=True):
    from engine.layout import PanelLayout
    from engine.model import build_model

    from omfa_testing import TINY_UNET

    layout = PanelLayout({"person": 32, "garment": 32, "head": 32}, 32, 4)  # latent 8 x (8+8+8)
    m = build_model("demo", layout=layout, patch=patch, full_attention=full_attention, **TINY_UNET)
    with torch.no_grad():
        m.unet.conv_out.weight.normal_(0, 0.1)
    return m.eval()


def test_patched_unet_works_on_latent_patches_and_round_trips(tmp_path):
    m = _patched_tiny()
    cfg = m.unet.config
    assert (cfg.in_channels, cfg.out_channels) == (4 * IN_CHANNELS, 16)  # 2x2 patches folded into channels
    assert set(cfg.down_block_types) == {"CrossAttnDownBlock2D"} and m.width_multiple == 8
    x = torch.randn(2, IN_CHANNELS, 8, 24)
    t = torch.tensor([10, 900])
    with torch.no_grad():
        out = m(x, t)
        assert out.shape == (2, 4, 8, 24)  # the latent's own resolution, not the UNet's
        # the UNet sees 2x2 patches: it is called on a (2, 36, 4, 12) tensor
        seen = []
        hook = m.unet.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape))
        m(x, t)
        hook.remove()
        assert seen == [torch.Size([2, 4 * IN_CHANNELS, 4, 12])]
    m.save(tmp_path / "m")
    assert json.loads((tmp_path / "m/omfa_config.json").read_text())["patch"] == 2
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "m")(x, t), out)
    # a config that lost its patch no longer matches the UNet: refused by name, before weights are read
    cfg_path = tmp_path / "m/omfa_config.json"
    raw = json.loads(cfg_path.read_text())
    for patch, words in ((1, "36 input channels; an OMFA UNet has 9"), (3, "'patch' must be 1, 2 or 4")):
        cfg_path.write_text(json.dumps({**raw, "patch": patch}))
        (tmp_path / "m/manifest.json").unlink()
        write_manifest(tmp_path / "m")  # a consistent folder whose config and UNet disagree
        with pytest.raises(ModelError, match=words):
            load_model(tmp_path / "m")


def test_patch_needs_panels_the_patched_unet_can_divide():
    from engine.layout import PanelLayout
    from engine.model import build_model

    from omfa_testing import TINY_UNET

    odd = PanelLayout({"person": 48, "garment": 48, "head": 32}, 32, 4)  # person latent 12: not a multiple of 8
    with pytest.raises(ModelError, match="multiple of 8"):
        build_model("demo", layout=odd, patch=2, **TINY_UNET)
    short = PanelLayout({"person": 32, "garment": 32, "head": 32}, 48, 4)  # height latent 12
    with pytest.raises(ModelError, match="multiple of 8"):
        build_model("demo", layout=short, patch=2, **TINY_UNET)
    assert build_model("demo", layout=short, **TINY_UNET).config.patch == 1  # unpatched: as before
    with pytest.raises(ModelError, match="patch must be 1, 2 or 4"):
        build_model("demo", patch=3, **TINY_UNET)
