"""The model manager (engine.model_registry, ``omfa models``) and counted memory (engine.memcount,
``omfa bench fullsize``'s small twin), on tiny SD/SDXL-shaped diffusers folders the tests make."""
import json

import pytest
import torch

from engine.cli import main
from engine.model_registry import ModelRegistry, RegistryError, describe
from model_folders import snapshot, tiny_diffusers_folder


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh user data + config folder (the registry lives there) and one-thread torch."""
    torch.set_num_threads(1)
    monkeypatch.setenv("OMFA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OMFA_CONFIG_DIR", raising=False)
    monkeypatch.setenv("OMFA_HASH_CACHE", "off")
    return tmp_path


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("bases")
    return {"sdxl": tiny_diffusers_folder(root / "xl", xl=True), "sd15": tiny_diffusers_folder(root / "sd", xl=False)}


def test_demo_model_is_always_listed_read_only(home, capsys):
    reg = ModelRegistry()
    assert reg.first_start and [r.builtin for r in reg.all()] == [True]
    assert reg.active().builtin and reg.active_folder() is None
    with pytest.raises(RegistryError, match="demo model cannot be removed"):
        reg.remove("1")
    assert main(["models", "remove", "demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the shipped demo model cannot be removed") and "Traceback" not in err
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "* 1  OMFA demo" in out and "read-only" in out and "What each kind of model can do" in out


@pytest.mark.parametrize("kind", ["sdxl", "sd15"])
def test_add_converts_a_diffusers_folder_into_a_new_one(home, bases, kind):
    from engine.model import load_model

    base = bases[kind]
    before = snapshot(base)
    steps = []
    reg = ModelRegistry()
    rec = reg.add(base, name=f"tiny {kind}", size=(32, 32), progress=lambda f, s: steps.append(f))
    assert snapshot(base) == before                       # never in place: the base is untouched
    assert rec.source == str(base.resolve()) and rec.base == kind
    out = home / "data" / "models" / f"{base.name}-omfa"
    assert rec.path == str(out.resolve()) and (out / "manifest.json").is_file()
    assert steps == sorted(steps) and steps[-1] == 1.0     # progress only moves forward, and ends
    d = describe(rec.path)
    model = load_model(rec.path)
    assert d.preset == kind and d.kind == "converted" and d.tasks == [] and d.manifest == "present"
    assert d.panels == {p: [32, 32] for p in ("person", "garment", "head")} and d.precision == "fp32"
    assert d.parameters == sum(p.numel() for p in model.unet.parameters()) + sum(
        p.numel() for p in model.codec.parameters())
    est = reg.estimate(rec)
    weights_fp16 = 2 * sum(p.numel() for p in model.unet.parameters())
    assert set(est) >= {"standard", "low", "offload", "weights"}
    assert est["standard"] > est["weights"] >= weights_fp16   # weights, then activations on top
    assert est["offload"] < est["low"]                         # as low, one module on the GPU at a time
    # Saved: a new registry (the next start) sees the same record and the same remembered estimate.
    again = ModelRegistry().find(f"tiny {kind}")
    assert again.path == rec.path and again.estimate == rec.estimate


def test_conversion_refuses_to_write_inside_the_base_or_over_a_folder(home, bases, tmp_path):
    base = bases["sdxl"]
    before = snapshot(base)
    reg = ModelRegistry()
    with pytest.raises(RegistryError, match="inside the diffusers folder"):
        reg.add(base, out=base / "omfa", size=(32, 32))
    (tmp_path / "taken").mkdir()
    with pytest.raises(RegistryError, match="already exists"):
        reg.add(base, out=tmp_path / "taken", size=(32, 32))
    with pytest.raises(RegistryError, match="neither an OMFA model folder .* nor a diffusers"):
        reg.add(tmp_path / "taken")
    assert snapshot(base) == before and reg.records == [] and not reg.path.exists()


def test_use_persists_and_is_what_load_default_loads(home, bases):
    from engine.pipeline import Pipeline

    reg = ModelRegistry()
    rec = reg.add(bases["sdxl"], size=(32, 32))
    reg.use("2")
    assert ModelRegistry().active().path == rec.path          # persisted
    pipe, fallback, folder = Pipeline.load_default(None, "cpu")
    assert not fallback and str(folder) == rec.path and pipe.model.config.preset == "sdxl"
    # An explicit folder still wins over the active model.
    from engine.paths import DEMO_MODEL

    _, _, folder = Pipeline.load_default(DEMO_MODEL, "cpu")
    assert folder == DEMO_MODEL
    ModelRegistry().remove(rec.path)                          # removing the active model: back to the demo
    assert ModelRegistry().active().builtin and Pipeline.load_default(None, "cpu")[2] == DEMO_MODEL
    assert (home / "data" / "models").is_dir() and any((home / "data" / "models").iterdir())  # folder kept


def test_verify_rehashes_with_progress_and_names_a_damaged_file(home, bases, capsys):
    reg = ModelRegistry()
    rec = reg.add(bases["sd15"], size=(32, 32))
    seen = []
    assert reg.verify(rec.path, progress=lambda f, s: seen.append(f)).verified["ok"]
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen) and len(seen) >= 3
    weights = next((home / "data" / "models").rglob("unet/diffusion_pytorch_model.safetensors"))
    raw = bytearray(weights.read_bytes())
    raw[-10] ^= 0xFF                                          # same size, different content
    weights.write_bytes(bytes(raw))
    assert main(["models", "verify", "2", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED:") and "diffusion_pytorch_model.safetensors does not match" in out
    assert ModelRegistry().find("2").verified["ok"] is False  # the result is kept for the list and the dialog


def test_models_cli_add_list_use_json(home, bases, capsys):
    assert main(["models", "add", str(bases["sdxl"]), "--name", "xl", "--size", "32x32", "--use", "--quiet"]) == 0
    assert "now the active model" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["OMFA demo (shipped)", "xl"] and [r["active"] for r in rows] == [False, True]
    assert rows[1]["details"]["preset"] == "sdxl" and rows[1]["memory_fp16"]["standard"] > 0
    assert main(["models", "use", "nope"]) == 1
    assert "no registered model is 'nope'" in capsys.readouterr().err
    assert main(["models", "add", str(bases["sdxl"]), "--size", "31x32", "--quiet"]) == 1   # bad size, one line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "panel size" in err


def test_a_damaged_registry_is_set_aside_and_the_demo_model_still_listed(home, capsys):
    path = home / "data" / "models.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert main(["models", "list"]) == 0
    cap = capsys.readouterr()
    assert "was damaged" in cap.err and "OMFA demo" in cap.out
    assert list(path.parent.glob("models.json.damaged-*"))


# ============================================================================================ counted memory
def test_an_estimate_remembered_under_an_older_way_of_counting_is_counted_again(home, monkeypatch):
    """The low-memory modes once counted sliced attention and an untiled VAE: an estimate a registry remembered
    then is counted again, not shown for ever."""
    import engine.memcount as memcount

    reg = ModelRegistry()
    demo = reg.find("1")
    first = reg.estimate(demo)
    calls = []
    monkeypatch.setattr(memcount, "estimate_fp16", lambda folder: calls.append(folder) or {"standard": 1})
    assert reg.estimate(demo) == first and calls == []                        # remembered
    monkeypatch.setattr(memcount, "COUNT_VERSION", memcount.COUNT_VERSION + 1)
    assert reg.estimate(demo) == {"standard": 1} and len(calls) == 1           # counted again


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fullsize_twin_counts_memory_on_a_tiny_sdxl_geometry(precision):
    """``omfa bench fullsize``'s code on the tiny geometry: every field of the table, and counts that hold
    together (weights at least, offload below standard, the meta-device estimate close to the real count)."""
    from engine.fullsize import markdown_table, run_config

    torch.set_num_threads(1)
    rows = [run_config("tiny", precision, m) for m in ("standard", "low", "offload")]
    for r in rows:
        assert r["status"] == "finished" and r["output_finite"] and r["output_shape"] == [32, 32, 3]
        assert r["unet_forwards"] == 2 or r["unet_batch"] == [2]     # one step with guidance: 2 branches
        assert r["wall_s"] > 0 and r["peak_rss_bytes"] > r["counted_peak_bytes"] > r["counted_weights_bytes"]
        weights = sum(r["gpu_fp16_weights_bytes"].values())
        assert weights == 2 * r["unet_parameters"] + 4 * r["vae_parameters"]   # fp16 UNet, upcast VAE
        if r["memory"] != "offload":
            assert r["gpu_fp16_peak_bytes"] > weights
        assert abs(r["gpu_fp16_meta_estimate_bytes"] / r["gpu_fp16_peak_bytes"] - 1) < 0.1
    standard, low, offload = rows
    assert standard["unet_batch"] == [2] and low["unet_batch"] == [1, 1]       # CFG batched, or one at a time
    assert offload["gpu_fp16_peak_bytes"] < low["gpu_fp16_peak_bytes"]           # low, one module placed
    table = markdown_table(rows)
    assert table.count("\n") == 4 and "| offload | " + precision in table


def test_recounted_meta_rows_keep_the_rows_they_replace_when_counted_another_way(tmp_path):
    from engine.fullsize import geometries, merge_meta, meta_rows
    from engine.memcount import COUNT_VERSION

    path = tmp_path / "fullsize.json"
    old = {"geometry": "tiny", "memory": "low", "gpu_fp16_peak_bytes": 1}          # counted before versions
    other = {"geometry": "sd15", "memory": "low", "gpu_fp16_peak_bytes": 2, "count_version": COUNT_VERSION}
    path.write_text(json.dumps({"rows": [{"geometry": "tiny", "memory": "low"}], "meta": [old, other]}))
    rows = meta_rows(geometries()["tiny"])
    assert [r["memory"] for r in rows] == ["standard", "low", "offload"]
    assert all(r["count_version"] == COUNT_VERSION for r in rows) and "512-px tiles" in rows[1]["modules"]
    for _ in range(2):                                   # merging the same count again changes nothing more
        merge_meta(path, rows)
        data = json.loads(path.read_text())
        assert data["meta"] == [other] + rows and data["meta_superseded"] == [old]
        assert data["rows"] == [{"geometry": "tiny", "memory": "low"}]         # real runs untouched

