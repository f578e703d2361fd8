"""Persisted settings: validated on change with a clear message, restored on the next start."""
import json

import pytest


def test_sampler_list_matches_the_engine_and_settings_import_no_torch():
    import subprocess
    import sys

    from engine.diffusion import SCHEDULERS

    from omfa_desktop.model.app_settings import SAMPLERS

    assert list(SAMPLERS) == list(SCHEDULERS)
    # The window lists samplers and thread counts before the engine thread has imported torch.
    code = "import sys, omfa_desktop.settings as s; print('torch' in sys.modules, 'dpm++2m' in s.SAMPLERS)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_validate_names_the_bad_field(tmp_path, tiny_model_dir):
    from omfa_desktop.model.app_settings import AppSettings, SettingsError, validate

    validate(AppSettings())
    validate(AppSettings(model_folder=str(tiny_model_dir), device="cpu", precision="fp32"))
    cases = [(AppSettings(model_folder=str(tmp_path)), "model_folder", "no omfa_config.json"),
             (AppSettings(model_folder=str(tmp_path / "nope")), "model_folder", "is not a folder"),
             (AppSettings(device="tpu"), "device", "cuda:N"),
             (AppSettings(precision="fp8"), "precision", "must be one of"),
             (AppSettings(default_sampler="plms"), "default_sampler", "ddim"),
             (AppSettings(device="cpu", precision="fp16"), "precision", "GPU"),
             (AppSettings(threads=-1), "threads", "0 (automatic)"),
             (AppSettings(threads=100000), "threads", "0 (automatic)")]
    for s, field, words in cases:
        with pytest.raises(SettingsError) as e:
            validate(s)
        assert e.value.field == field and words in e.value.message, (s, e.value)


def test_settings_round_trip_and_a_damaged_file_falls_back(data_dir):
    from omfa_desktop.model.app_settings import AppSettings, load_settings, save_settings, settings_path

    s = AppSettings(device="cpu", precision="fp32", default_sampler="euler", notice_dismissed=True)
    path = save_settings(s)
    assert path == settings_path() and path.parent == data_dir
    assert load_settings() == (s, [])
    path.write_text(json.dumps({"device": "tpu", "default_sampler": "unipc", "precision": 3, "junk": 1}))
    loaded, notes = load_settings()
    assert loaded == AppSettings(default_sampler="unipc")
    assert len(notes) == 2 and any("device" in n for n in notes) and any("precision" in n for n in notes)
    path.write_text("{not json")
    loaded, notes = load_settings()
    assert loaded == AppSettings() and "was damaged" in notes[0] and "moved aside" in notes[0]
    # the damaged file is kept for the user, not overwritten; the next save starts a fresh one
    kept = list(data_dir.glob("settings.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json" and not path.exists()
    save_settings(s)
    assert load_settings() == (s, [])


def test_settings_dialog_refuses_an_invalid_value_with_a_message(qtbot, data_dir, tmp_path):
    from omfa_desktop.settings import AppSettings, SettingsDialog

    dlg = SettingsDialog(AppSettings())
    qtbot.addWidget(dlg)
    dlg.model_edit.setText(str(tmp_path))
    assert dlg.try_accept() is False and dlg.result_settings is None
    assert dlg.error_label.text().startswith("Model folder:") and "omfa_config.json" in dlg.error_label.text()
    dlg.model_edit.setText("")
    dlg.device_combo.setCurrentText("cpu")
    dlg.precision_combo.setCurrentText("fp16")
    assert dlg.try_accept() is False and dlg.error_label.text().startswith("Precision:")
    dlg.precision_combo.setCurrentText("fp32")
    dlg.sampler_combo.setCurrentIndex(dlg.sampler_combo.findData("dpm++2m"))
    assert dlg.try_accept() is True
    assert dlg.result_settings == AppSettings(device="cpu", precision="fp32", default_sampler="dpm++2m")


def test_changed_settings_persist_and_reload_the_model(qtbot, make_window, tiny_model_dir):
    from omfa_desktop.model.app_settings import AppSettings, load_settings

    w = make_window()  # the tiny model as a session override
    new = AppSettings(model_folder=str(tiny_model_dir), device="cpu", precision="fp32", default_sampler="unipc")
    w.set_app_settings(new)
    assert w.model_info is None or w.queue.loading
    qtbot.waitUntil(lambda: w.model_info is not None and not w.queue.loading, timeout=60_000)
    assert w.model_info.folder == str(tiny_model_dir) and w.sampler.currentData() == "unipc"
    assert load_settings()[0] == new
    w2 = make_window(model_folder=None)
    assert w2.model_info.folder == str(tiny_model_dir) and w2.sampler.currentData() == "unipc"


def test_a_hostile_model_config_is_one_line_in_the_model_settings(qtbot, data_dir, tiny_model_dir, tmp_path):
    """Deep nesting, a zero schedule size, a wrong type: the dialog names the file and the field in one line."""
    import shutil

    from engine.integrity import write_manifest
    from omfa_desktop.settings import AppSettings, SettingsDialog, SettingsError, validate

    folder = shutil.copytree(tiny_model_dir, tmp_path / "m")
    cfg = folder / "omfa_config.json"
    good = json.loads(cfg.read_text())
    deep = '{"layout":' * 200_000 + "1" + "}" * 200_000
    zero = json.dumps({**good, "noise_schedule": {**good["noise_schedule"], "num_train_timesteps": 0}})
    typed = json.dumps({**good, "views_per_canvas": "4"})
    for text, words in ((deep, "nested too deeply"), (zero, "noise_schedule.num_train_timesteps"),
                        (typed, "'views_per_canvas' must be an integer")):
        cfg.write_text(text)
        write_manifest(folder)
        with pytest.raises(SettingsError) as e:
            validate(AppSettings(model_folder=str(folder)))
        assert e.value.field == "model_folder" and str(cfg) in e.value.message and words in e.value.message
        dlg = SettingsDialog(AppSettings())
        qtbot.addWidget(dlg)
        dlg.model_edit.setText(str(folder))
        assert dlg.try_accept() is False
        shown = dlg.error_label.text()
        assert shown.startswith("Model folder:") and words in shown and "\n" not in shown


def test_a_settings_file_nested_200000_deep_is_moved_aside_not_a_crash(data_dir):
    from omfa_desktop.settings import AppSettings, load_settings, settings_path

    data_dir.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('{"model_folder":' * 200_000 + '""' + "}" * 200_000)
    loaded, notes = load_settings()
    assert loaded == AppSettings() and "was damaged" in notes[0] and "nested too deeply" in notes[0]
    assert list(data_dir.glob("settings.json.damaged-*")) and not settings_path().exists()
