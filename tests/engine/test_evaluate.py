"""``engine.evaluation`` and ``omfa eval``: report structure, metric validation on ground truth, baselines.

A tiny random model (its outputs are noise) and a few rendered samples keep every test at a few seconds;
the samples are rendered once per module into shards that both the API and the CLI read.
"""
import json
import math

import numpy as np
import pytest
from PIL import Image

from engine import cli
from engine.data.garments import GarmentSpec
from engine.data.synthetic import SyntheticSample
from engine.evaluation import (LIBRARY_METRICS, METRICS, SYSTEM_LABELS, TASK_SYSTEMS, TASKS, EvalError, EvalReport,
                             evaluate, head_region, load_samples, mean_image, outline_fill, score_try_off,
                             silhouette_fill, top_band, try_on_foreground, validate_metrics)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    from engine.train import render_shards

    d = tmp_path_factory.mktemp("eval_data")
    render_shards(d, "test", 4, shard_size=3, log=lambda *a: None)  # two shards: 3 + 1 samples
    render_shards(d, "train", 2, log=lambda *a: None)
    return d


@pytest.fixture(scope="module")
def samples(shards):
    return load_samples(4, "test", shards)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from engine.model import build_model

    folder = tmp_path_factory.mktemp("eval_model") / "model"
    build_model("demo", block_out_channels=(32, 32, 32), cross_attention_dim=32, attention_head_dim=8).save(folder)
    return folder


@pytest.fixture(scope="module")
def report(model_dir, shards) -> EvalReport:
    return evaluate(model_dir, "test", n=3, steps=2, data=shards, n_train=2)


# ------------------------------------------------------------------------------------------ structure
def test_report_structure(report):
    assert [t.task for t in report.tasks] == list(TASKS)
    assert report.trained is False and report.settings["n"] == 3 and report.settings["steps"] == 2
    for t in report.tasks:
        assert t.n == 3 and t.systems == TASK_SYSTEMS[t.task]
        assert [r.key for r in t.rows] == [m.key for m in METRICS[t.task]] + list(LIBRARY_METRICS)
        for r in t.rows:
            if r.kind == "library":
                assert r.note.startswith(("unavailable: ", "failed: ")) or set(r.values) == set(t.systems)
                continue
            assert set(r.values) == set(t.systems), r.key
            if r.kind == "share":
                assert all(0 <= h <= c <= 3 for h, c in r.support.values())
        for system, per in t.per_sample.items():
            assert system in t.systems and all(len(v) == 3 for v in per.values())
        assert len(t.examples) == 3 and t.examples[0][1].shape == (128, 96, 3)
        grid = report.grid(t.task)
        assert grid.dtype == np.uint8 and grid.shape[0] > 128 and grid.shape[2] == 3
    assert {b.status for b in report.bar} <= {"met", "NOT met", "n/a"}
    scopes = [b.scope for b in report.bar]
    assert scopes[:5] == ["validation"] * 5 and "try-off" in scopes and "try-on" in scopes
    # The audit's probe is a column, and the content metrics are judged against it and the outline fill.
    off = report.task("try-off")
    assert "grey_garment" in off.systems and off.value("edge", "grey_garment") == off.value("edge", "outline_fill")
    content = [b for b in report.bar if b.requirement.startswith("content:")]
    assert len(content) == 2 and all("grey garment" in b.value for b in content)

    # Strict JSON (no NaN / Infinity tokens), with per-sample values.
    def no_constants(x):
        raise ValueError(f"non-standard JSON constant {x}")

    d = json.loads(report.to_json(), parse_constant=no_constants)
    assert d["tasks"][0]["per_sample"]["model"]["ssim_fg"] and d["bar"][0]["status"] == "met"
    psnr_gt = next(m for m in d["tasks"][0]["metrics"] if m["key"] == "psnr")["values"]["ground_truth"]
    assert psnr_gt == "inf"


def test_markdown_lists_every_metric_baseline_and_bar_line(report):
    md = report.to_markdown()
    for task in TASKS:
        for m in METRICS[task]:
            assert m.label in md, m.label
        for system in TASK_SYSTEMS[task]:
            assert f"| {SYSTEM_LABELS[system]} " in md or f"| {SYSTEM_LABELS[system]} |" in md
    for label, _ in LIBRARY_METRICS.values():
        assert f"| {label} " in md
    assert "unavailable: " in md or "failed: " in md or all(
        not r.note for t in report.tasks for r in t.rows)  # every library metric ran (weights present)
    for b in report.bar:
        assert b.requirement in md
    assert "analyser self-check" in md and "UNTRAINED" in md
    # The untrained model cannot meet the bar, and the report says so.
    assert "NOT met" in md


# ------------------------------------------------------------------------------------------ validation
def test_ground_truth_against_itself_is_perfect(samples, report):
    lines = validate_metrics(samples)
    by_req = {b.requirement: b for b in lines}
    assert all(b.met for b in lines if b.met is not None) and len(lines) == 5
    assert any("self-check" in r and by_req[r].value.startswith("100%") for r in by_req)
    for t in report.tasks:
        gt = {r.key: r.values["ground_truth"] for r in t.rows if r.kind != "library"}
        assert gt["ssim"] == pytest.approx(1.0) and gt["ssim_fg"] == pytest.approx(1.0)
        assert gt["psnr"] == math.inf and gt["psnr_fg"] == math.inf
    off, on = report.task("try-off"), report.task("try-on")
    assert off.value("de", "ground_truth") == pytest.approx(0.0, abs=1e-9)
    assert off.value("pattern", "ground_truth") == 1.0 and off.value("family", "ground_truth") == 1.0
    assert on.value("torso_de", "ground_truth") == pytest.approx(0.0, abs=1e-9)
    assert on.value("head_de", "ground_truth") == pytest.approx(0.0, abs=1e-9)
    # The person's own silhouette against its guide: the achievable ceiling, close to 1.
    assert on.value("iou", "ground_truth") > 0.95


def test_head_region_is_the_top_of_the_figure(samples):
    for s in samples:
        fig = try_on_foreground(s)
        head = head_region(s, fig)
        rows = np.nonzero(fig.any(1))[0]
        hrows = np.nonzero(head.any(1))[0]
        assert 20 <= head.sum() <= 400
        assert not (head & ~fig).any() and not (head & s.person_b_mask).any()
        assert hrows.mean() < rows[0] + 0.3 * (rows[-1] - rows[0])
    # Without pose metadata: the top band of the figure.
    s = samples[0]
    bare = SyntheticSample(**s.arrays(), meta={})
    fig = try_on_foreground(bare)
    np.testing.assert_array_equal(head_region(bare, fig), top_band(fig, 0.13))


# ------------------------------------------------------------------------------------------ baselines
def _solid_sample(colour=(200, 30, 40)):
    """A 16x12 world: a solid garment (rows 3..12, cols 2..9) worn over a two-colour person region."""
    h, w = 16, 12
    gm = np.zeros((h, w), bool)
    gm[3:13, 2:10] = True
    garment = np.full((h, w, 3), 255, np.uint8)
    garment[gm] = colour
    person = np.full((h, w, 3), 255, np.uint8)
    pm = np.zeros((h, w), bool)
    pm[4:8, 3:7] = True
    person[4:6, 3:7] = (100, 0, 0)
    person[6:8, 3:7] = (0, 0, 200)
    z = np.zeros((h, w), bool)
    img = np.full((h, w, 3), 255, np.uint8)
    return SyntheticSample(person=person, garment=garment, head=img, guide=img, person_b=img, guide_b=img,
                           person_mask=pm, garment_mask=gm, person_b_mask=z, body_mask=z,
                           meta={"garment": GarmentSpec("solid", colour).to_dict()})


def test_outline_fill_is_the_garment_outline_in_the_mean_worn_colour():
    s = _solid_sample()
    out = outline_fill(s.person, s.person_mask, s.garment_mask)
    assert (out[s.garment_mask] == (50, 0, 100)).all() and (out[~s.garment_mask] == 255).all()
    # When the worn colour is the garment's, the baseline is the ground truth: perfect scores.
    s.person[s.person_mask] = (200, 30, 40)
    out = outline_fill(s.person, s.person_mask, s.garment_mask)
    np.testing.assert_array_equal(out, s.garment)
    per, pooled = score_try_off([out], [s])
    assert per["ssim_fg"][0] == pytest.approx(1.0) and per["de"][0] == pytest.approx(0.0, abs=1e-9)
    assert per["pattern"][0] == 1.0 and math.isnan(per["stripe_orient"][0]) and pooled["psnr"] == math.inf


def test_silhouette_fill_and_mean_image():
    h, w = 16, 12
    garment = np.full((h, w, 3), 255, np.uint8)
    gm = np.zeros((h, w), bool)
    gm[2:6, 2:6] = True
    garment[2:4, 2:6] = (0, 100, 0)
    garment[4:6, 2:6] = (0, 200, 50)
    head = np.full((h, 8, 3), 255, np.uint8)
    head[4:8, 2:6] = (180, 140, 120)
    fig = np.zeros((h, w), bool)
    fig[1:15, 4:8] = True
    hm = np.zeros((h, w), bool)
    hm[1:3, 4:8] = True
    out = silhouette_fill(garment, gm, head, fig, hm)
    assert (out[fig & ~hm] == (0, 150, 25)).all()
    assert (out[hm] == (180, 140, 120)).all() and (out[~fig] == 255).all()
    a, b = np.full((2, 2, 3), 10, np.uint8), np.full((2, 2, 3), 21, np.uint8)
    np.testing.assert_array_equal(mean_image([a, b, b]), np.full((2, 2, 3), 17, np.uint8))
    band = top_band(fig, 0.25)
    assert band.sum() == 4 * 4 and band[1:5, 4:8].all() and not band[5:].any()  # ceil(0.25 * 14) rows


def test_baselines_in_the_report_beat_noise(report):
    """Sanity: on every pixel metric a trivial baseline beats an untrained model's noise."""
    for t in report.tasks:
        for key in ("ssim_fg", "psnr"):
            base = max(t.value(key, b) for b in TASK_SYSTEMS[t.task] if b not in ("model", "ground_truth"))
            assert base > t.value(key, "model"), (t.task, key)


# ------------------------------------------------------------------------------------------ errors
def test_bad_inputs_raise_eval_errors(model_dir, shards, tmp_path):
    with pytest.raises(EvalError, match="does not exist"):
        evaluate(tmp_path / "nope", "test", n=1, steps=1, data=shards)
    with pytest.raises(EvalError, match="only 4 test samples"):
        load_samples(9, "test", shards)
    with pytest.raises(EvalError, match="no val_"):
        load_samples(1, "val", shards)
    with pytest.raises(EvalError, match="steps"):
        evaluate(model_dir, "test", n=1, steps=0, data=shards, n_train=1)


# ------------------------------------------------------------------------------------------ CLI
def test_cli_eval_writes_table_json_and_grids(model_dir, shards, tmp_path, capsys):
    code = cli.main(["eval", "--model", str(model_dir), "--split", "test", "--n", "2", "--steps", "2",
                     "--data", str(shards), "--n-train", "2", "--out", str(tmp_path / "r.md"),
                     "--json", str(tmp_path / "r.json"), "--grid", str(tmp_path / "grid.png"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "### Try-off" in out and "### Quality bar" in out and "analyser self-check" in out
    assert (tmp_path / "r.md").read_text() == out
    settings = json.loads((tmp_path / "r.json").read_text())["settings"]
    assert settings["n"] == 2 and settings["scheduler"] == "dpm++2m" and settings["guidance_until"] == 0.5
    assert settings["split"] == "test" and "reported only" in settings["split_role"]
    assert "(world seed 0)" in settings["data"]
    assert "guidance 2 on the first 50% of the steps" in out  # the fast preset is eval's default too
    for task in TASKS:
        img = np.asarray(Image.open(tmp_path / f"grid_{task}.png"))
        assert img.ndim == 3 and img.shape[0] > 128


@pytest.mark.parametrize("extra,words", [
    (["--model", "/nonexistent/model"], "does not exist"),
    (["--data", "/nonexistent/data"], "does not exist"),
    (["--n", "0"], "--n must be at least 1"),
    (["--split", "val"], "no val_"),
    ([], "no val_"),  # val is the default split: choices are made there, test is asked for by name
    (["--steps", "0"], "--steps must be at least 1"),
])
def test_cli_eval_bad_input_is_one_clear_line(extra, words, model_dir, shards, capsys):
    argv = ["eval", "--model", str(model_dir), "--data", str(shards), "--n", "1", "--steps", "1",
            "--n-train", "1", "--quiet"]
    code = cli.main(argv + extra)  # argparse: the last of a repeated option wins
    err = capsys.readouterr().err
    assert code != 0 and words in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


# ------------------------------------------------------------------------------------------ splits
def test_splits_are_disjoint_streams_of_one_world():
    from engine.data.synthetic import SyntheticWorld
    from engine.evaluation.splits import sample_fingerprint, split_overlap

    # The fingerprint is a function of the drawn sample only, so a repeated sample would be caught ...
    a, b = SyntheticWorld(seed=0), SyntheticWorld(seed=0)
    assert sample_fingerprint(a.spec(5, "val")) == sample_fingerprint(b.spec(5, "val"))
    assert sample_fingerprint(a.spec(5, "val")) != sample_fingerprint(a.spec(6, "val"))
    # ... and none is: train, val and test of worlds 0 and 1 share no sample.
    overlap = split_overlap(40, world_seeds=(0, 1))
    assert len(overlap) == 15 and sum(overlap.values()) == 0


def test_cli_data_render_val_with_world_seed_and_refuses_mixing_worlds(tmp_path, capsys):
    out = tmp_path / "d"
    assert cli.main(["data", "render", "--split", "val", "--count", "1", "--world-seed", "2", "--out", str(out)]) == 0
    assert "world seed 2" in capsys.readouterr().out
    with np.load(out / "val_00000.npz") as z:
        meta = json.loads(bytes(z["meta"]).decode())
    assert meta[0]["split"] == "val" and meta[0]["seed"] == 2
    assert load_samples(1, "val", out)[0].meta["seed"] == 2
    # Resuming into that folder with another world would mix two worlds' samples: one clear line instead.
    code = cli.main(["data", "render", "--split", "val", "--count", "1", "--seed", "3", "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0 and "holds world seed 2, not 3" in err and "Traceback" not in err
