"""omfa doctor's findings and fixes; the rotating log."""
import json
import logging

import pytest

from engine.doctor import FAIL, OK, WARN, run_checks
from engine.logs import close_logging, setup_logging


@pytest.fixture
def data(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("OMFA_DATA_DIR", str(d))
    monkeypatch.delenv("OMFA_LOG_DIR", raising=False)
    return d


def _by_name(checks):
    return {c.name: c for c in checks}


def test_doctor_names_each_problem_with_a_fix(data, tmp_path, monkeypatch):
    import engine.doctor as doctor

    monkeypatch.setattr(doctor, "_gl", lambda: doctor.Check("offscreen GL (guide renders)", OK, "stubbed in tests"))
    settings = {"model_folder": str(tmp_path / "gone"), "smplx_folder": str(tmp_path / "not_smplx"),
                "vae_folder": str(tmp_path / "no_vae")}
    (tmp_path / "not_smplx").mkdir()
    (data / "settings.json").write_text(json.dumps(settings))
    checks = _by_name(run_checks("cpu", "auto"))
    assert checks["model in Settings"].status == FAIL and "does not exist" in checks["model in Settings"].detail
    assert "Settings" in checks["model in Settings"].fix
    assert checks["VAE in Settings"].status == FAIL
    smplx = checks["SMPL-X body"]
    assert smplx.status == FAIL and "smpl-x.is.tue.mpg.de" in smplx.fix
    assert checks["device policy"].status == OK and "cpu" in checks["device policy"].detail
    assert checks["GPU"].status in (OK, WARN) and checks["packages"].status == OK
    data = checks["user data (gallery, settings)"]
    assert data.status == OK and "GB free" in data.detail
    for c in checks.values():
        assert c.status == OK or c.fix, c  # every finding says what to do


def test_doctor_catches_a_tampered_model_and_a_missing_manifest(data, tmp_path, monkeypatch):
    import engine.doctor as doctor
    from engine.integrity import write_manifest

    from omfa_testing import tiny_model

    folder = tmp_path / "m"
    tiny_model().save(folder)
    (data / "settings.json").write_text(json.dumps({"model_folder": str(folder)}))
    assert _by_name(doctor._models({"model_folder": str(folder)}))["model in Settings"].status == OK
    w = folder / "unet" / "diffusion_pytorch_model.safetensors"
    raw = bytearray(w.read_bytes())
    raw[-1] ^= 0xFF
    w.write_bytes(bytes(raw))
    c = _by_name(doctor._models({"model_folder": str(folder)}))["model in Settings"]
    assert c.status == FAIL and "does not match" in c.detail and c.fix
    (folder / "manifest.json").unlink()
    c = _by_name(doctor._models({"model_folder": str(folder)}))["model in Settings"]
    assert c.status == WARN and f"omfa manifest {folder}" in c.fix
    write_manifest(folder)
    assert _by_name(doctor._models({"model_folder": str(folder)}))["model in Settings"].status == OK


def test_doctor_reports_a_read_only_data_folder(data, monkeypatch):
    import engine.doctor as doctor

    monkeypatch.setattr(doctor.os, "access", lambda p, mode: False)
    c = _by_name(doctor._storage())["user data (gallery, settings)"]
    assert c.status == FAIL and "NOT writable" in c.detail and "OMFA_DATA_DIR" in c.fix


def test_the_log_rotates_in_the_log_folder_and_starts_with_versions(data):
    try:
        path = setup_logging()
        assert path == data / "logs" / "omfa.log"
        assert setup_logging() == path  # once per process
        log = logging.getLogger("omfa.test")
        log.error("job 3 failed: %s", "Out of memory on cuda")
        for _ in range(3000):  # ~1.2 MB: past the 1 MB limit
            log.info("x" * 400)
        text = path.read_text()
        first = (data / "logs" / "omfa.log.1").read_text().splitlines()[0]
        assert "start: python=" in first and "torch=" in first and "diffusers=" in first
        # the GUI and renderer come from PySide6-Essentials and pyrender-maintained: found under those names
        assert "PySide6=not installed" not in first and "pyrender=not installed" not in first
        assert (data / "logs" / "omfa.log.1").is_file() and len(list((data / "logs").iterdir())) <= 4
        assert path.stat().st_size < 1_100_000 and text
    finally:
        close_logging()


def test_an_unwritable_log_folder_does_not_stop_the_app(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("OMFA_LOG_DIR", str(blocker / "logs"))  # a folder under a file cannot be made
    try:
        assert setup_logging() is None
        assert "no log file" in capsys.readouterr().err
    finally:
        close_logging()
