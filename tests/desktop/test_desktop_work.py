"""The window's chained and bulk work (omfa_desktop/work.py): turntable, person to person, outfit layer, batch —
each queued as ONE job on the engine thread, stored in the gallery stage by stage."""
from types import SimpleNamespace

import numpy as np
from PIL import Image

from engine.export import read_png_metadata
from engine.media import frame_count, read_settings
from engine.paths import SAMPLES


def _wait_job(qtbot, w, n_before, timeout=120_000):
    qtbot.waitUntil(lambda: len(w.queue.jobs) > n_before, timeout=240_000)  # guides or a pose estimate first
    job = w.queue.jobs[-1]
    qtbot.waitUntil(lambda: job.done, timeout=timeout)
    return job


def _spy_rows(w):
    pipe = w.queue.worker.pipe
    rows, forward = [], pipe.model.forward
    pipe.model.forward = lambda x, t: (rows.append(x.shape[0]), forward(x, t))[1]
    return rows


def _options(**kw):
    return SimpleNamespace(**{"views": 5, "batch": 2, "elevation": 0.0, "fps": 8.0, "gif": True, "mp4": True,
                              "sheet": True, "folder": "", **kw})


def test_turntable_is_one_job_of_batched_views_stored_as_one_entry_and_exported(qtbot, make_window, tmp_path):
    w = make_window()
    w.load_samples()
    w.steps.setValue(1)
    rows = _spy_rows(w)
    assert w.work.turntable(_options(folder=str(tmp_path / "export"))) is not None
    job = _wait_job(qtbot, w, 0)
    assert job.state.value == "finished", job.details
    assert "turntable · 5 views" in job.title()
    assert rows == [4, 4, 2]  # 1 step: one UNet call per batch of 2, 2, 1 views, x2 for guidance
    entry = w.gallery.entries[0]
    assert entry.mode == "turntable" and len(entry.outputs) == 5 and w.gallery.animate_button.isEnabled()
    meta = read_png_metadata(entry.folder / "output_04.png")
    assert meta["request"]["num_views"] == 5 and meta["request"]["chain"]["kind"] == "turntable"
    gif = tmp_path / "export" / f"{entry.id}_turntable.gif"
    assert frame_count(gif) == 5 and frame_count(gif.with_suffix(".mp4")) == 5
    assert read_settings(gif)["request"]["chain"]["id"] == job.chain.id


def test_turntable_on_a_model_trained_for_shared_canvases_puts_its_views_side_by_side(qtbot, make_window):
    w = make_window()
    w.load_samples()
    w.steps.setValue(1)
    pipe = w.queue.worker.pipe
    pipe.model.config.views_per_canvas = 2  # as a model trained on 2-view canvases records
    pipe.model.latent_prior = _zero_prior(pipe.layout)  # as a model exported by omfa train carries
    rows = _spy_rows(w)
    assert w.work.turntable(_options(views=4, batch=4)) is not None
    job = _wait_job(qtbot, w, 0)
    assert job.state.value == "finished", job.details
    assert rows == [4]  # 4 views on 2 canvases, x2 for guidance (8 rows with one canvas per view)
    entry = w.gallery.entries[0]
    meta = read_png_metadata(entry.folder / "output_03.png")
    assert len(entry.outputs) == 4 and meta["result"]["settings"]["views_per_canvas"] == 2  # what ran
    assert "views 4 (2 per canvas)" in w.gallery.info.text()
    assert "started from the model's latent prior" in w.gallery.info.text()
    # "Share canvases" unticked in the dialog: one canvas per view (and a model without a prior)
    pipe.model.latent_prior = None
    rows.clear()
    assert w.work.turntable(_options(views=4, batch=4, share_canvas=False)) is not None
    job = _wait_job(qtbot, w, 1)
    assert job.state.value == "finished", job.details
    assert rows == [8] and "views 4 ·" in w.gallery.info.text()
    assert "latent prior" not in w.gallery.info.text()


def _zero_prior(layout):
    import torch

    from engine.prior import LatentPrior

    h = layout.height // layout.factor
    return LatentPrior({p: torch.zeros(4, h, layout.widths[p] // layout.factor) for p in layout.panels})


def test_person_to_person_stores_both_stages_with_one_chain(qtbot, make_window):
    from engine.images import load_image

    w = make_window()
    w.load_samples()  # the viewport pose: walking
    w.steps.setValue(1)
    a, b = load_image(SAMPLES / "demo_000_person.png"), load_image(SAMPLES / "demo_001_person.png")
    head = load_image(SAMPLES / "demo_001_head.png")
    assert w.work.person_to_person(a, b, head, pose_source="viewport") is not None
    job = _wait_job(qtbot, w, 0)
    assert job.state.value == "finished", job.details
    on, off = w.gallery.entries[0], w.gallery.entries[1]
    assert off.task == "try-off" and on.task == "try-on" and on.mode == off.mode == "person-to-person"
    assert off.settings["chain"]["id"] == on.settings["chain"]["id"] == job.chain.id
    assert [off.settings["chain"]["stage"], on.settings["chain"]["stage"]] == [0, 1]
    # the try-on's garment input is the try-off's output, pixel for pixel
    assert np.array_equal(on.input_images()["garment"], off.output_images()[0])
    assert np.array_equal(on.input_images()["head"], head)


def test_person_to_person_in_bs_own_pose_estimates_it_and_crops_the_head(qtbot, make_window):
    from engine.images import load_image

    w = make_window()
    w.steps.setValue(1)
    a, b = load_image(SAMPLES / "demo_000_person.png"), load_image(SAMPLES / "demo_002_person.png")
    assert w.work.person_to_person(a, b, None, pose_source="own") is not None
    job = _wait_job(qtbot, w, 0)
    assert job.state.value == "finished", job.details
    on = w.gallery.entries[0]
    assert on.input_images()["head"].shape == (128, 64, 3) and on.settings["body"] is not None


def test_layer_another_garment_over_a_try_on(qtbot, make_window):
    from engine.images import load_image

    w = make_window()
    w.load_samples()
    w.steps.setValue(4)
    w.work.person_to_person(load_image(SAMPLES / "demo_000_person.png"), load_image(SAMPLES / "demo_001_person.png"),
                            load_image(SAMPLES / "demo_001_head.png"), pose_source="viewport")
    _wait_job(qtbot, w, 0)
    base = w.gallery.entries[0]
    assert w.gallery.layer_button.isEnabled()
    job = w.work.layer(base, load_image(SAMPLES / "demo_003_garment.png"), 0.5)
    qtbot.waitUntil(lambda: job.done, timeout=120_000)
    assert job.state.value == "finished", job.details
    top = w.gallery.entries[0]
    assert top.mode == "outfit" and top.settings["strength"] == 0.5 and top.used_settings["steps_run"] == 2
    assert np.array_equal(top.input_images()["person"], base.output_images()[0])  # started from the layer below
    assert top.settings["seed"] == base.settings["seed"]


def test_batch_job_runs_resumes_and_reports(qtbot, make_window, tmp_path):
    from engine.batch import plan_folders

    for d in ("people", "garments", "heads"):
        (tmp_path / d).mkdir()
    for i in range(2):
        Image.open(SAMPLES / f"demo_00{i}_person.png").save(tmp_path / "people" / f"c{i}.png")
        Image.open(SAMPLES / f"demo_00{i}_head.png").save(tmp_path / "heads" / f"c{i}.png")
        Image.open(SAMPLES / f"demo_00{i}_garment.png").save(tmp_path / "garments" / f"g{i}.png")
    items = plan_folders(tmp_path / "people", tmp_path / "garments", [str(SAMPLES / "demo_000_guide.png")],
                         tmp_path / "heads")
    w = make_window()
    w.steps.setValue(1)
    out = tmp_path / "results"
    job = w.work.batch(items, out)
    w.queue.jobProgress.connect(lambda j, img: j.step >= 1 and j.cancel_event.set())  # interrupt after item 1
    qtbot.waitUntil(lambda: job.done, timeout=120_000)
    assert job.state.value == "cancelled"
    made = len(list((out / "items").glob("*.png")))
    assert 1 <= made < 4
    w.queue.jobProgress.disconnect()
    job = w.work.batch(items, out)
    qtbot.waitUntil(lambda: job.done, timeout=120_000)
    assert job.state.value == "finished", job.details
    assert job.result.count("skipped") == made and job.result.count("done") == 4 - made
    assert "batch" in job.title() and "4 items" in job.title()
    assert "already done" in w.messages.text.text() and (out / "index.html").is_file()


def test_menu_actions_open_the_real_dialogs_and_queue_their_job(qtbot, make_window, tmp_path):
    """Create → Turntable / Batch through the real dialogs (accepted as a user would, after filling them)."""
    from omfa_desktop.dialogs import BatchDialog, TurntableDialog

    class Turntable(TurntableDialog):
        def exec(self):
            # opened for the loaded model: "Share canvases" only when it was trained on shared canvases
            assert self.share.isHidden() == (w.model_info.views_per_canvas == 1)
            self.set_options(_options(views=3, batch=3))
            return True

    class Batch(BatchDialog):
        def exec(self):
            self.set_paths(people=SAMPLES, garments=tmp_path / "garments", out=tmp_path / "results")
            self.set_poses([str(SAMPLES / "demo_000_guide.png")])
            assert self.ok_button.isEnabled(), self.problem
            self.accept()
            return True

    (tmp_path / "garments").mkdir()
    Image.open(SAMPLES / "demo_000_garment.png").save(tmp_path / "garments" / "g.png")
    w = make_window()
    w.load_samples()
    w.steps.setValue(1)
    w.work.turntable(dialog_cls=Turntable)
    job = _wait_job(qtbot, w, 0)
    assert job.state.value == "finished", job.details
    assert len(w.gallery.entries[0].outputs) == 3
    # every image in the samples folder counts as a client photo here: the job runs the dialog's plan as is
    job = w.work.batch(dialog_cls=Batch)
    assert job is not None and job.batch.out == tmp_path / "results"
    assert len(job.batch.items) == len([p for p in SAMPLES.iterdir() if p.suffix == ".png"])
    w.queue.cancel(job)
    qtbot.waitUntil(lambda: job.done, timeout=120_000)
    assert w.work.last_batch  # remembered for the next Batch… of this session


def test_turntable_from_the_photo_orbits_the_photos_estimated_pose(qtbot, make_window):
    """No garment, a person photo with an estimated pose: the garment is taken off the photo and the views
    go around the photo's body, not the viewport's preset."""
    from engine.body.presets import load_preset

    w = make_window()
    w.load_samples()
    w.slots["garment"].clear()
    w.steps.setValue(1)
    waving = load_preset("waving")
    w.estimated_pose = {"state": waving, "photo_shape": w.slots["person"].image.shape}
    w.work.turntable(_options(views=2, batch=2))
    job = _wait_job(qtbot, w, 0)
    assert job.state.value == "finished", job.details
    assert [s.request.task for s in job.chain.stages] == ["try-off", "multi-view"]
    assert np.allclose(job.chain.stages[1].request.body["body_pose"], waving.to_dict()["body_pose"])
    assert w.gallery.entries[0].mode == "turntable" and w.gallery.entries[1].task == "try-off"
