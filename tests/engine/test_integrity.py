"""Untrusted model folders: manifests, pickle refusal, config/weights mismatches, the hash cache."""
import json
import logging
import os
import shutil

import pytest
import torch

from engine import integrity
from engine.integrity import MANIFEST, verify_manifest, write_manifest
from engine.model import ModelError, load_model

from omfa_testing import tiny_model

UNET_W = "unet/diffusion_pytorch_model.safetensors"
PICKLE_WORDS = r"is a pickle checkpoint; OMFA never unpickles weights because loading pickle can run arbitrary code"


@pytest.fixture(autouse=True)
def _never_unpickle(monkeypatch):
    """Nothing here may reach an unpickler, whatever the code path."""
    import pickle

    def boom(*a, **k):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(torch, "load", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)


def _flip_byte(path, offset=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------------------------- manifest
def test_save_writes_a_manifest_that_verifies(model_dir):
    files = json.loads((model_dir / MANIFEST).read_text())["files"]
    on_disk = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file())
    assert sorted(files) == [f for f in on_disk if f != MANIFEST]
    entry = files[UNET_W]
    assert entry["bytes"] == (model_dir / UNET_W).stat().st_size and len(entry["sha256"]) == 64
    r = verify_manifest(model_dir)
    assert r.files == len(files) and r.bytes == sum(e["bytes"] for e in files.values())
    load_model(model_dir)


def test_a_flipped_byte_is_refused_naming_the_file(model_dir):
    verify_manifest(model_dir)  # cached as good ...
    path = model_dir / UNET_W
    st = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and the tampering hides its mtime: still caught
    with pytest.raises(ModelError, match=r"diffusion_pytorch_model.safetensors does not match manifest.json"):
        load_model(model_dir)


def test_truncated_missing_and_unlisted_files_are_refused(model_dir, saved, tmp_path):
    path = model_dir / UNET_W
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match=r"diffusion_pytorch_model.safetensors is truncated: 1000 bytes where"):
        load_model(model_dir)

    other = shutil.copytree(saved, tmp_path / "x")
    (other / "text_embeddings.safetensors").unlink()
    with pytest.raises(ModelError, match=r"text_embeddings.safetensors is missing \(it is listed in manifest.json\)"):
        load_model(other)

    write_manifest(other)
    (other / "unet" / "extra.safetensors").write_bytes(b"\0" * 16)
    with pytest.raises(ModelError, match=r"extra.safetensors is not listed in manifest.json"):
        verify_manifest(other)
    # hidden files (.DS_Store) and non-weight files added later are not the manifest's business
    (other / "unet" / "extra.safetensors").unlink()
    (other / ".DS_Store").write_bytes(b"x")
    (other / "notes.txt").write_text("mine")
    verify_manifest(other)


def test_a_folder_without_manifest_loads_with_a_warning(model_dir, caplog):
    (model_dir / MANIFEST).unlink()
    with caplog.at_level(logging.WARNING, logger="omfa"):
        load_model(model_dir)
    assert "no manifest.json" in caplog.text and f"omfa manifest {model_dir}" in caplog.text
    # without a manifest, a truncated safetensors is still caught from its own header
    path = model_dir / UNET_W
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelError, match=r"diffusion_pytorch_model.safetensors is truncated: its header describes"):
        load_model(model_dir)


def test_the_shipped_demo_loads(tmp_path, caplog):
    from engine.paths import DEMO_MODEL

    if not (DEMO_MODEL / "omfa_config.json").is_file():
        pytest.skip("no shipped demo model")
    if (DEMO_MODEL / MANIFEST).is_file():
        verify_manifest(DEMO_MODEL)  # once shipped with a manifest, it must match
    copy = shutil.copytree(DEMO_MODEL, tmp_path / "demo")
    (copy / MANIFEST).unlink(missing_ok=True)  # as shipped before manifests: loads, with the warning
    with caplog.at_level(logging.WARNING, logger="omfa"):
        m = load_model(copy)
    assert m.config.preset == "demo" and "omfa manifest" in caplog.text


def test_a_corrupt_or_hostile_manifest_is_refused(model_dir):
    (model_dir / MANIFEST).write_text("{not json")
    with pytest.raises(ModelError, match="manifest.json could not be read"):
        load_model(model_dir)
    (model_dir / MANIFEST).write_text(json.dumps({"format": integrity.MANIFEST_FORMAT, "files": {
        "../outside": {"sha256": "0" * 64, "bytes": 1}}}))
    with pytest.raises(ModelError, match="invalid path '../outside'"):
        verify_manifest(model_dir)


# ---------------------------------------------------------------------------------------- pickle
def test_pickle_files_are_refused_by_every_entry_point(tmp_path):
    from engine.codec import load_codec
    from engine.model import init_from_diffusers
    from engine.pipeline import Pipeline, load_vae

    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"\x80\x04 not really a pickle")
    like = tiny_model().codec
    for call in (lambda: load_model(ckpt), lambda: Pipeline.load(ckpt, "cpu"), lambda: init_from_diffusers(ckpt),
                 lambda: load_vae(ckpt, like, torch.float32), lambda: load_codec(ckpt)):
        with pytest.raises(ModelError, match=PICKLE_WORDS) as e:
            call()
        assert str(ckpt) in str(e.value) and "safetensors" in str(e.value)
    with pytest.raises(ModelError, match=r"model.ckpt " + PICKLE_WORDS + ".*from_single_file"):
        load_model(tmp_path)  # a folder of only a .ckpt


def test_folders_with_only_pickle_weights_are_refused(tmp_path, model_dir):
    from engine.model import init_from_diffusers
    from engine.pipeline import load_vae

    vae = tmp_path / "vae"
    vae.mkdir()
    (vae / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL", "block_out_channels": [32, 32, 32],
                                                 "latent_channels": 4}))
    (vae / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04 pickle bytes")
    with pytest.raises(ModelError, match=r"vae/diffusion_pytorch_model.bin " + PICKLE_WORDS + r".*AutoencoderKL"):
        load_vae(vae, tiny_model().codec, torch.float32)
    # a diffusers base folder with a pickled UNet
    base = tmp_path / "base"
    (base / "unet").mkdir(parents=True)
    (base / "unet" / "config.json").write_text("{}")
    (base / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    shutil.copytree(vae, base / "vae")
    with pytest.raises(ModelError, match=r"unet/diffusion_pytorch_model.bin " + PICKLE_WORDS):
        init_from_diffusers(base, text="zeros")
    # an OMFA folder whose UNet weights were swapped for a pickle (and the manifest rewritten to match)
    (model_dir / UNET_W).unlink()
    (model_dir / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    write_manifest(model_dir)
    with pytest.raises(ModelError, match=r"unet/diffusion_pytorch_model.bin " + PICKLE_WORDS):
        load_model(model_dir)


# ---------------------------------------------------------------------------------------- config vs weights
def _edit_json(path, **changes):
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


def test_a_unet_config_that_does_not_match_its_weights_is_named(model_dir):
    cfg = model_dir / "unet" / "config.json"
    _edit_json(cfg, block_out_channels=[32, 32, 64])
    write_manifest(model_dir)  # consistent hashes: the folder was made this way, not damaged in transit
    with pytest.raises(ModelError, match=r"unet/config.json does not match the weights in .*tensor \S+ has shape "
                                         r"\[32\] in the weights but the config implies \[64\].*block_out_channels"):
        load_model(model_dir)
    _edit_json(cfg, block_out_channels=[32, 32, 32], in_channels=4)
    write_manifest(model_dir)
    with pytest.raises(ModelError, match=r"tensor conv_in.weight has shape \[32, 9, 3, 3\] in the weights but the "
                                         r"config implies \[32, 4, 3, 3\]"):
        load_model(model_dir)
    # diffusers itself would load this one silently, leaving the missing layers random
    _edit_json(cfg, in_channels=9, layers_per_block=2)
    write_manifest(model_dir)
    with pytest.raises(ModelError, match=r"config.json does not match .*tensor\(s\) the weights lack"):
        load_model(model_dir)


def test_omfa_and_codec_config_mismatches_are_named(model_dir):
    cfg = model_dir / "omfa_config.json"
    raw = json.loads(cfg.read_text())
    _edit_json(cfg, layout={**raw["layout"], "factor": 8})
    write_manifest(model_dir)
    with pytest.raises(ModelError, match=r"omfa_config.json has layout factor 8 but the codec .* has factor 4"):
        load_model(model_dir)
    _edit_json(cfg, layout=raw["layout"], trained="yes")
    write_manifest(model_dir)
    with pytest.raises(ModelError, match=r"omfa_config.json is invalid: 'trained' must be true or false, not str"):
        load_model(model_dir)
    _edit_json(cfg, trained=False, noise_schedule={**raw["noise_schedule"], "num_train_timesteps": "1000"})
    write_manifest(model_dir)
    with pytest.raises(ModelError, match=r"noise_schedule.num_train_timesteps must be a int, not str"):
        load_model(model_dir)
    _edit_json(cfg, noise_schedule=raw["noise_schedule"])
    _edit_json(model_dir / "codec" / "config.json", channels=[32, 48])
    write_manifest(model_dir)
    with pytest.raises(ModelError, match=r"codec/config.json does not match the weights in .*codec.safetensors: "
                                         r"tensor \S+ has shape \[\d+(, \d+)*\] in the weights"):
        load_model(model_dir)


# ---------------------------------------------------------------------------------------- hash cache
def test_the_hash_cache_skips_unchanged_files_and_rehashes_changed_ones(model_dir, monkeypatch):
    calls = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda p: calls.append(p.name) or real(p))
    write_manifest(model_dir)
    n = len(json.loads((model_dir / MANIFEST).read_text())["files"])
    assert len(calls) == n  # a fresh copy: every file hashed once
    calls.clear()
    assert verify_manifest(model_dir).hashed == 0 and calls == []  # second look: nothing re-read
    path = model_dir / "unet" / "config.json"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched, same content
    assert verify_manifest(model_dir).hashed == 1 and calls == ["config.json"]
    # a corrupt cache file is ignored and rebuilt
    cache = integrity.hash_cache_path()
    cache.write_text("{garbage")
    calls.clear()
    verify_manifest(model_dir)
    assert len(calls) == n and json.loads(cache.read_text())["version"] == 1
    # and the cache can be switched off
    monkeypatch.setenv("OMFA_HASH_CACHE", "off")
    calls.clear()
    verify_manifest(model_dir)
    verify_manifest(model_dir)
    assert len(calls) == 2 * n


# ---------------------------------------------------------------------------------------- CLI
def test_omfa_manifest_and_verify_commands(model_dir, capsys):
    from engine import cli

    (model_dir / MANIFEST).unlink()
    assert cli.main(["verify", str(model_dir)]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert cli.main(["manifest", str(model_dir)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["verify", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK:") and out.count("\n") == 1
    _flip_byte(model_dir / "codec" / "codec.safetensors")
    assert cli.main(["verify", str(model_dir)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED:") and "codec.safetensors does not match" in out and out.count("\n") == 1
