"""Settings for the optional folders: SMPL-X (+ body), VAE and hmr2 — validated with a message naming the
field, persisted, and used: the SMPL-X body by the guide renders and the viewport, the VAE by the pipeline.

No real SMPL-X files exist here: the shipped mannequin is in SMPL-X format, so a copy of it named
SMPLX_NEUTRAL.npz (its template widened, to tell the renders apart) stands in for the user's SMPL-X.
"""
import json
from dataclasses import replace
import shutil

import numpy as np
import pytest
from desktop_testing import gl_available, run_job

MANNEQUIN = "resources/body/omfa_mannequin_smplx.npz"


def _root():
    from engine.paths import ROOT

    return ROOT


@pytest.fixture(scope="module")
def smplx_dir(tmp_path_factory):
    """A folder with SMPLX_NEUTRAL.npz only: the mannequin with a 25 % wider template (another body)."""
    folder = tmp_path_factory.mktemp("smplx")
    with np.load(_root() / MANNEQUIN) as d:
        data = {k: d[k] for k in d.files}
    data["v_template"] = data["v_template"] * np.array([1.25, 1.0, 1.0], np.float32)
    np.savez(folder / "SMPLX_NEUTRAL.npz", **data)
    return folder


def _vae(folder, blocks=3):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(block_out_channels=(32,) * blocks, latent_channels=4, norm_num_groups=32, layers_per_block=1,
                  down_block_types=("DownEncoderBlock2D",) * blocks,
                  up_block_types=("UpDecoderBlock2D",) * blocks).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def vae_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vae")
    return {"f4": _vae(root / "f4"), "f2": _vae(root / "f2", blocks=2)}


def _hmr2(folder, ckpt="checkpoints/epoch=35-step=1000000.ckpt"):
    (folder / ckpt).parent.mkdir(parents=True, exist_ok=True)
    (folder / ckpt).write_bytes(b"\0")
    (folder / "model_config.yaml").write_text("MODEL: {}\n")
    return folder


def _err(s, **kw):
    from omfa_desktop.model.app_settings import SettingsError, validate

    with pytest.raises(SettingsError) as e:
        validate(s, check_device=False, **kw)
    return e.value


# ------------------------------------------------------------------ validation
def test_smplx_folder_is_validated_by_loading_the_chosen_body(tmp_path, smplx_dir):
    from engine.body.model import SMPLX_URL
    from omfa_desktop.model.app_settings import AppSettings, validate

    validate(AppSettings(smplx_folder=str(smplx_dir)), check_device=False)
    e = _err(AppSettings(smplx_folder=str(tmp_path)))  # empty folder: names the missing file, says where to get it
    assert e.field == "smplx_folder" and str(tmp_path / "SMPLX_NEUTRAL.npz") in e.message and SMPLX_URL in e.message
    e = _err(AppSettings(smplx_folder=str(smplx_dir), smplx_gender="female"))
    assert e.field == "smplx_folder" and "SMPLX_FEMALE.npz" in e.message
    (tmp_path / "SMPLX_NEUTRAL.npz").write_bytes(b"this is not a zip file")
    e = _err(AppSettings(smplx_folder=str(tmp_path)))
    assert e.field == "smplx_folder" and "invalid SMPL-X file" in e.message and "SMPLX_NEUTRAL.npz" in e.message
    np.savez(tmp_path / "SMPLX_NEUTRAL.npz", something=np.zeros(3))  # a valid npz that is not SMPL-X
    assert "invalid SMPL-X file" in _err(AppSettings(smplx_folder=str(tmp_path))).message
    assert "is not a folder" in _err(AppSettings(smplx_folder=str(tmp_path / "nope"))).message
    assert _err(AppSettings(smplx_gender="robot")).field == "smplx_gender"
    # at startup only the file's presence is checked (no torch); loading it later falls back to the mannequin
    validate(AppSettings(smplx_folder=str(tmp_path)), check_device=False, deep=False)


def test_vae_folder_must_be_an_autoencoder_of_the_models_geometry(tmp_path, vae_dirs, tiny_model_dir):
    from omfa_desktop.model.app_settings import AppSettings, validate

    for model in ("", str(tiny_model_dir)):  # the demo model (or its stand-in) and the tiny test model: factor 4
        validate(AppSettings(model_folder=model, vae_folder=str(vae_dirs["f4"])), check_device=False)
        e = _err(AppSettings(model_folder=model, vae_folder=str(vae_dirs["f2"])))
        assert e.field == "vae_folder" and "factor 2" in e.message and "factor-4" in e.message
    sd = tmp_path / "sd_vae"
    sd.mkdir()
    (sd / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL", "latent_channels": 4,
                                                "block_out_channels": [128, 256, 512, 512]}))
    e = _err(AppSettings(vae_folder=str(sd)))
    assert "no .safetensors" in e.message
    (sd / "diffusion_pytorch_model.safetensors").write_bytes(b"")  # the dialog reads configs, not weights
    e = _err(AppSettings(vae_folder=str(sd)))
    assert e.field == "vae_folder" and "factor 8" in e.message and "SD/SDXL VAE" in e.message
    # checked against the session's model when the saved model folder is not the one running
    e = _err(AppSettings(vae_folder=str(vae_dirs["f2"])), model_folder=str(tiny_model_dir))
    assert "factor 2" in e.message
    assert "not a folder" in _err(AppSettings(vae_folder=str(tmp_path / "nope"))).message
    assert "config.json" in _err(AppSettings(vae_folder=str(tmp_path))).message
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"}))
    assert "not an AutoencoderKL" in _err(AppSettings(vae_folder=str(tmp_path / "unet"))).message


def test_hmr2_folder_needs_a_checkpoint_and_model_config(tmp_path):
    from omfa_desktop.model.app_settings import AppSettings, validate

    assert "is not a folder" in _err(AppSettings(hmr2_folder=str(tmp_path / "nope"))).message
    e = _err(AppSettings(hmr2_folder=str(tmp_path)))
    assert e.field == "hmr2_folder" and "model_config.yaml" in e.message
    (tmp_path / "model_config.yaml").write_text("MODEL: {}\n")
    (tmp_path / "notes.txt").write_text("")
    e = _err(AppSettings(hmr2_folder=str(tmp_path)))
    assert e.field == "hmr2_folder" and "*.ckpt" in e.message and "*.safetensors" in e.message
    for name in ("model.pth", "checkpoints/last.ckpt", "hmr2.safetensors"):
        d = tmp_path / name.replace("/", "_").replace(".", "_")
        _hmr2(d, name)
        validate(AppSettings(hmr2_folder=str(d)), check_device=False)


# ------------------------------------------------------------------ persistence
def test_folder_settings_round_trip_and_a_vanished_folder_is_reset(data_dir, tmp_path, smplx_dir, vae_dirs):
    from omfa_desktop.model.app_settings import AppSettings, load_settings, save_settings

    hmr2 = _hmr2(tmp_path / "hmr2")
    s = AppSettings(vae_folder=str(vae_dirs["f4"]), smplx_folder=str(smplx_dir), smplx_gender="neutral",
                    hmr2_folder=str(hmr2), device="cpu", precision="fp32")
    save_settings(s)
    assert load_settings() == (s, [])
    shutil.rmtree(hmr2)
    data = json.loads((data_dir / "settings.json").read_text())
    data["smplx_gender"] = "male"  # a body whose file the folder does not have
    (data_dir / "settings.json").write_text(json.dumps(data))
    loaded, notes = load_settings()
    assert loaded.hmr2_folder == "" and loaded.smplx_folder == "" and loaded.smplx_gender == "male"
    assert loaded.vae_folder == str(vae_dirs["f4"])
    assert any(n.startswith("setting hmr2_folder reset") for n in notes)
    assert any(n.startswith("setting smplx_folder reset") and "SMPLX_MALE.npz" in n for n in notes)


# ------------------------------------------------------------------ the dialog
def test_dialog_names_the_field_shows_the_licence_and_clears(qtbot, data_dir, tmp_path, smplx_dir, vae_dirs):
    from engine.body.model import SMPLX_URL
    from omfa_desktop.settings import AppSettings, SettingsDialog

    dlg = SettingsDialog(AppSettings(device="cpu", precision="fp32"))
    qtbot.addWidget(dlg)
    assert SMPLX_URL in dlg.licence_label.text() and "non-commercial" in dlg.licence_label.text()
    dlg.smplx_edit.setText(str(tmp_path))
    assert dlg.try_accept() is False and dlg.result_settings is None
    assert dlg.error_label.text().startswith("SMPL-X folder: missing SMPL-X file")
    dlg.smplx_field.clear_button.click()
    assert dlg.smplx_edit.text() == ""
    dlg.vae_edit.setText(str(vae_dirs["f2"]))
    assert dlg.try_accept() is False and dlg.error_label.text().startswith("VAE folder:")
    assert "factor 2" in dlg.error_label.text()
    dlg.vae_field.clear_button.click()
    dlg.hmr2_edit.setText(str(tmp_path))
    assert dlg.try_accept() is False and dlg.error_label.text().startswith("hmr2 folder:")
    hmr2 = _hmr2(tmp_path / "hmr2")
    dlg.hmr2_edit.setText(str(hmr2))
    dlg.smplx_edit.setText(str(smplx_dir))
    dlg.vae_edit.setText(str(vae_dirs["f4"]))
    assert dlg.try_accept() is True
    assert dlg.result_settings == AppSettings(device="cpu", precision="fp32", smplx_folder=str(smplx_dir),
                                              vae_folder=str(vae_dirs["f4"]), hmr2_folder=str(hmr2))


# ------------------------------------------------------------------ used by the app
def test_the_chosen_smplx_body_is_what_the_guides_render(qtbot, make_window, smplx_dir):
    from omfa_desktop.model.app_settings import load_settings

    w = make_window()
    w.set_task("new-pose")
    w.steps.setValue(1)
    qtbot.waitUntil(lambda: w.pose.current_guides() is not None, timeout=60_000)
    assert w.pose.body_name == "mannequin" and w.body_label.text() == "body: OMFA mannequin"
    mannequin_guide = w.pose.current_guides()[0][0]

    w.set_app_settings(replace(w.settings, smplx_folder=str(smplx_dir)))
    assert load_settings()[0].smplx_folder == str(smplx_dir)
    qtbot.waitUntil(lambda: w.pose.current_guides() is not None and w.pose.body_name == "smplx-neutral",
                    timeout=60_000)
    smplx_guide = w.pose.current_guides()[0][0]
    assert smplx_guide.shape == mannequin_guide.shape and not np.array_equal(smplx_guide, mannequin_guide)
    # the wider body covers more of the image
    body = lambda g: (np.abs(g.astype(int) - 255).sum(-1) > 30).sum()  # noqa: E731 - white background
    assert body(smplx_guide) > body(mannequin_guide)
    assert w.body_label.text() == "body: SMPL-X (neutral)" and "SMPL-X (neutral)" in w.pose.status.text()
    job = run_job(qtbot, w)
    assert job.state.value == "finished" and job.app["body_model"] == "smplx-neutral"
    assert np.array_equal(job.request.pose_guides[0], smplx_guide)
    # cleared: the mannequin again
    w.set_app_settings(replace(w.settings, smplx_folder=""))
    qtbot.waitUntil(lambda: w.pose.current_guides() is not None and w.pose.body_name == "mannequin",
                    timeout=60_000)
    assert np.array_equal(w.pose.current_guides()[0][0], mannequin_guide)


def test_an_smplx_file_that_does_not_load_falls_back_to_the_mannequin_with_a_message(qtbot, make_window, tmp_path):
    from omfa_desktop.model.app_settings import AppSettings, save_settings

    (tmp_path / "SMPLX_NEUTRAL.npz").write_bytes(b"damaged")  # present (passes the startup check), unloadable
    save_settings(AppSettings(smplx_folder=str(tmp_path)))
    w = make_window()
    w.set_task("new-pose")
    qtbot.waitUntil(lambda: w.pose.current_guides() is not None and bool(w.pose.body_name), timeout=60_000)
    assert w.pose.body_name == "mannequin" and "invalid SMPL-X file" in w.pose.body_note
    msg = w.messages.message()
    assert msg.startswith("SMPL-X folder: invalid SMPL-X file") and "mannequin is used instead" in msg


def test_a_vae_setting_reloads_the_model_with_that_codec(qtbot, make_window, vae_dirs, tiny_model_dir):
    from omfa_desktop.model.app_settings import AppSettings

    w = make_window()
    assert w.model_info.vae == ""
    w.set_app_settings(AppSettings(vae_folder=str(vae_dirs["f4"])))
    qtbot.waitUntil(lambda: w.model_info is not None and not w.queue.loading, timeout=60_000)
    assert w.model_info.vae == str(vae_dirs["f4"]) and w.model_info.folder == str(tiny_model_dir)
    assert "VAE f4" in w.model_label.text()
    w.steps.setValue(1)
    job = run_job(qtbot, w)
    assert job.state.value == "finished" and job.result.settings["vae"] == str(vae_dirs["f4"])
    # a VAE that does not fit (the settings file edited by hand): the model keeps its codec, with a message
    w.set_app_settings(AppSettings(vae_folder=str(vae_dirs["f2"])))
    qtbot.waitUntil(lambda: w.model_info is not None and not w.queue.loading, timeout=60_000)
    assert w.model_info.vae == "" and "factor 2" in w.model_info.vae_error
    assert w.messages.message().startswith("VAE folder:") and "own codec is used" in w.messages.message()
    assert w.generate_button.isEnabled()


@pytest.mark.skipif(not gl_available(), reason="no OpenGL viewport here (needs Xvfb/X11 and EGL)")
def test_the_viewport_poses_the_chosen_smplx_body(qtbot, make_window, smplx_dir):
    from omfa_desktop.model.app_settings import AppSettings

    w = make_window(with_viewport=True)
    vp = w.viewport
    qtbot.waitUntil(lambda: vp.ready, timeout=60_000)
    assert vp.body_model.name == "mannequin"
    width = np.ptp(vp.view.vertices[:, 0])
    w.set_app_settings(AppSettings(smplx_folder=str(smplx_dir)))
    qtbot.waitUntil(lambda: vp.body_model.name == "smplx-neutral", timeout=60_000)
    assert np.ptp(vp.view.vertices[:, 0]) > 1.1 * width and "SMPL-X (neutral)" in vp.view.toolTip()
    vp.view.grab()
    assert vp.view.error == ""
