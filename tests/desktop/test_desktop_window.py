"""The main window: opens with the model and the samples, runs jobs through the worker into the gallery."""
import subprocess
import sys
from pathlib import Path

import numpy as np
from desktop_testing import run_job

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_window_loads_no_torch():
    code = "import sys, omfa_desktop.app, omfa_desktop.window; print(sorted(m for m in ('torch', 'diffusers', " \
           "'pyrender', 'smplx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert out.stdout.strip() == "[]"


def test_window_opens_with_the_model_and_the_sample_inputs(make_window):
    from engine.paths import sample_paths

    w = make_window()
    samples = sample_paths()
    for slot, kind in (("person", "person"), ("garment", "garment"), ("head", "head"), ("photo_guide", "guide")):
        assert w.slots[slot].path == samples[kind]
        assert w.slots[slot].image is not None and w.slots[slot].image.ndim == 3
    assert w.task() == "try-off"
    status = w.model_label.text()
    assert "cpu · fp32 · demo (untrained)" in status and "UNTRAINED" in status
    assert w.notice.isVisible() and "UNTRAINED" in w.notice.text.text() and "not</b> a model for real photos" \
        in w.notice.text.text()
    assert w.generate_button.isEnabled()


def test_notice_is_dismissable_and_remembered(make_window, tiny_model_dir):
    from engine.model import build_model

    w = make_window()
    w.notice.close_button.click()
    assert not w.notice.isVisible() and w.settings.notice_dismissed
    # with an untrained model the notice comes back (noise must be said); a trained one respects the dismissal
    w2 = make_window()
    assert w2.notice.isVisible()
    trained = tiny_model_dir.parent / "tiny_trained"
    if not trained.exists():
        m = build_model("demo", block_out_channels=(32, 32, 32), cross_attention_dim=32, attention_head_dim=8)
        m.config.trained = True
        m.config.name = "tiny (pretend trained)"
        m.save(trained)
    w3 = make_window(model_folder=str(trained))
    assert not w3.notice.isVisible()
    assert "UNTRAINED" not in w3.model_label.text()


def test_try_off_job_runs_through_the_worker_into_the_gallery_and_onto_disk(qtbot, make_window, data_dir):
    from engine.export import read_png_metadata

    w = make_window()
    w.steps.setValue(2)
    seen = []
    w.queue.jobProgress.connect(lambda job, img: seen.append((job.step, job.total, img.width(), img.height())))
    job = run_job(qtbot, w)
    assert job.state.value == "finished", job.details
    assert [s[:2] for s in seen] == [(1, 2), (2, 2)]
    assert seen[0][2:] == (24, 32)  # the garment panel of the x0 preview, at latent resolution
    # the gallery: one entry, marked as a garment, usable as a garment
    assert len(w.gallery.entries) == 1
    entry = w.gallery.entries[0]
    assert entry.is_garment and w.gallery.use_button.isEnabled()
    # on disk, under the data dir, with the full request inside the PNG
    png = data_dir / "gallery" / entry.id / "output_00.png"
    assert png.is_file()
    meta = read_png_metadata(png)
    assert meta["request"]["task"] == "try-off" and meta["request"]["steps"] == 2
    assert meta["result"]["status"] == "finished" and meta["result"]["settings"]["model_trained"] is False
    assert set(meta["result"]["timings"]) >= {"encode", "sample", "decode", "total", "per_step"}
    assert {"person", "head", "guide_00"} <= set(entry.inputs)
    out = entry.output_images()[0]
    assert out.shape == (128, 96, 3) and np.array_equal(out, job.result.outputs[0])
    assert w.queue.ready


def test_cancel_mid_run_leaves_the_app_ready_for_the_next_job(qtbot, make_window):
    w = make_window()
    w.steps.setValue(500)
    job = w.generate()
    qtbot.waitUntil(lambda: job.step >= 1, timeout=60_000)
    assert w.cancel_button.isEnabled()
    w.cancel_button.click()
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert job.state.value == "cancelled"
    assert job.step < 500 and job.result is not None and job.result.steps_done == job.step
    assert w.gallery.entries == [] and w.queue.ready and w.generate_button.isEnabled()
    assert not w.cancel_button.isEnabled()
    w.steps.setValue(2)
    job2 = run_job(qtbot, w)
    assert job2.state.value == "finished"
    assert len(w.gallery.entries) == 1


def test_queue_shows_states_and_cancels_a_queued_job(qtbot, make_window):
    w = make_window()
    w.steps.setValue(500)
    first = w.generate()
    w.steps.setValue(2)
    second = w.generate()
    third = w.generate()
    qtbot.waitUntil(lambda: first.step >= 1, timeout=60_000)
    assert (first.state.value, second.state.value, third.state.value) == ("running", "queued", "queued")
    texts = [w.job_list.item(i).text() for i in range(w.job_list.count())]
    assert any("RUNNING" in t for t in texts) and sum("QUEUED" in t for t in texts) == 2
    w.queue.cancel(third)
    assert third.state.value == "cancelled"
    w.queue.cancel(first)
    qtbot.waitUntil(lambda: second.done, timeout=60_000)
    assert (first.state.value, second.state.value, third.state.value) == ("cancelled", "finished", "cancelled")
    assert third.step == 0 and len(w.gallery.entries) == 1


def test_saved_png_reopens_to_the_same_settings(qtbot, make_window, tmp_path):
    w = make_window()
    w.steps.setValue(2)
    w.guidance.setValue(3.5)
    w.sampler.setCurrentIndex(w.sampler.findData("euler_a"))
    w.seed.setValue(4242)
    before = w.session.settings()
    job = run_job(qtbot, w)
    assert job.state.value == "finished", job.details
    saved = w.gallery.entries[0].save_png(tmp_path / "mine.png")
    assert saved == [tmp_path / "mine.png"]
    # change everything, then restore from the PNG
    w.set_task("multi-view")
    w.steps.setValue(7)
    w.guidance.setValue(1.0)
    w.sampler.setCurrentIndex(w.sampler.findData("heun"))
    w.seed.setValue(1)
    w.seed_lock.setChecked(False)
    restored = w.open_result_png(tmp_path / "mine.png")
    assert restored == before == w.session.settings()
    assert w.seed_lock.isChecked() and "restored" in w.messages.message()


def test_a_new_pose_job_gets_exactly_the_guides_the_panel_shows(qtbot, make_window):
    w = make_window()
    w.set_task("multi-view")
    w.views.setValue(2)
    w.elevation.setValue(10)
    w.steps.setValue(1)
    w.pose.set_preset("waving")
    qtbot.waitUntil(lambda: w.pose.current_guides() is not None, timeout=60_000)
    guides, cams = w.pose.current_guides()
    assert len(guides) == 2 and guides[0].shape == (128, 96, 3)
    job = run_job(qtbot, w)
    assert job.state.value == "finished", job.details
    assert all(np.array_equal(a, b) for a, b in zip(job.request.pose_guides, guides))
    assert job.request.task == "multi-view" and job.request.num_views == 2 and job.request.cameras == cams
    entry = w.gallery.entries[0]
    assert len(entry.outputs) == 2 and not entry.is_garment
    assert entry.metadata["app"]["preset"] == "waving" and entry.metadata["app"]["elevation"] == 10
    # and it restores: task, views, elevation and the body pose
    w.set_task("try-off")
    w.pose.set_preset("t_pose")
    w.restore(entry.metadata)
    assert w.task() == "multi-view" and w.views.value() == 2 and w.elevation.value() == 10
    assert w.pose.preset == "waving"
    from engine.body.presets import load_preset

    assert w.pose.state == load_preset("waving")


def test_try_off_result_becomes_the_garment_input_with_one_click(qtbot, make_window):
    w = make_window()
    w.steps.setValue(2)
    job = run_job(qtbot, w)
    w.gallery.use_button.click()
    assert np.array_equal(w.slots["garment"].image, job.result.outputs[0])
    assert w.task() == "try-on"
    job2 = run_job(qtbot, w)
    assert job2.state.value == "finished", job2.details
    assert np.array_equal(job2.request.garment, job.result.outputs[0])
    assert len(w.gallery.entries) == 2 and not w.gallery.entries[0].is_garment


def test_results_persist_across_restarts(qtbot, make_window):
    w = make_window()
    w.steps.setValue(2)
    run_job(qtbot, w)
    w.shutdown()
    w.close()
    w2 = make_window()
    assert len(w2.gallery.entries) == 1 and w2.gallery.entries[0].is_garment
    w2.gallery.delete_current()
    w3 = make_window(wait=False)
    assert w3.gallery.entries == []


def test_a_bad_input_file_gives_a_message_not_an_exception(qtbot, make_window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    w = make_window()
    before = w.slots["person"].image.copy()
    bad = tmp_path / "holiday.png"
    bad.write_bytes(b"this is not a PNG at all")
    assert w.slots["person"].set_path(bad) is False
    assert "not an image file" in w.messages.message() and "holiday.png" in w.messages.message()
    assert np.array_equal(w.slots["person"].image, before)  # the slot kept its image
    # dropping a missing file, then a good one
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "missing.jpg"))])
    w.slots["garment"].dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert "no such file" in w.messages.message()
    from PIL import Image

    Image.fromarray(np.full((60, 40, 3), 200, np.uint8)).save(tmp_path / "flat.png")
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "flat.png"))])
    w.slots["garment"].dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert w.slots["garment"].path == tmp_path / "flat.png" and w.slots["garment"].image.shape == (60, 40, 3)
    # a PNG without OMFA settings
    assert w.open_result_png(tmp_path / "flat.png") is None
    assert "has no OMFA settings" in w.messages.message()


def test_missing_inputs_and_request_errors_name_the_field(qtbot, make_window):
    w = make_window()
    w.slots["person"].clear()
    assert w.generate() is None
    assert w.messages.message().startswith("Person photo:")
    w.set_task("try-on")
    w.slots["photo_guide"].clear()
    assert w.generate() is None
    assert w.messages.message().startswith("Pose guide") or "pose guide of the photo" in w.messages.message()
    # a request that only the engine refuses: the job fails with a readable message naming the field
    from engine.request import TryOnRequest

    req = TryOnRequest(task="try-off", person=np.zeros((10, 10, 4), np.uint8), steps=1)
    job = w.queue.submit(req, "try-off")
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert job.state.value == "failed" and job.error_field == "person"
    assert "Person photo" in job.message and "4-channel" in job.message
    assert "Traceback" in job.details and "Traceback" not in job.message
    assert "Job #" in w.messages.message() and w.messages.details_button.isVisible()
    # impossible precision on this machine: refused, the model stays loaded
    w.set_task("try-off")
    w.load_samples()
    w.precision.setCurrentIndex(w.precision.findData("fp16"))
    w.steps.setValue(1)
    job = run_job(qtbot, w)
    assert job.state.value == "failed" and job.error_field == "precision" and "GPU" in job.message
    w.precision.setCurrentIndex(0)
    assert run_job(qtbot, w).state.value == "finished"


def test_widgets_and_session_stay_in_step_both_ways(make_window):
    w = make_window()
    s = w.session
    w.steps.setValue(7)
    w.guided.setValue(30)
    w.seed_lock.setChecked(False)
    assert (s.steps, s.guidance_until, s.seed_locked, s.preset) == (7, 0.3, False, "custom")
    s.apply_preset("paper")
    assert (w.steps.value(), w.guided.value(), w.sampler.currentData(), w.preset.currentData()) == \
        (50, 100, "ddim", "paper")
    s.set_task("multi-view")
    assert w.task_buttons["multi-view"].isChecked() and w.views.isEnabled() and w.pose_box.isEnabled()
    s.set_input("head", None)
    assert w.slots["head"].image is None
    w.slots["head"].set_image(np.zeros((40, 30, 3), np.uint8), "mine")
    assert s.head.shape == (40, 30, 3) and s.sources["head"] == "mine"


def test_the_person_photo_can_be_opened_in_every_task(make_window):
    w = make_window()
    for task in ("try-off", "try-on", "new-pose", "multi-view"):
        w.set_task(task)
        assert w.slots["person"].open_button.isEnabled(), task   # was greyed out in new-pose and multi-view
        assert w.slots["garment"].open_button.isEnabled(), task
    assert not w.slots["person"].view.isEnabled()                # not read by multi-view: dimmed only


def test_the_garment_bar_goes_once_the_next_job_is_queued(qtbot, make_window):
    w = make_window()
    w.steps.setValue(1)
    w.use_wardrobe_garment(np.full((128, 96, 3), 200, np.uint8), {"name": "Blue stripes"})
    assert "is now the garment input" in w.messages.message()
    job = run_job(qtbot, w)
    assert job.state.value == "finished", job.details
    assert "is now the garment input" not in w.messages.message()   # it stayed up through later jobs


def test_the_pose_preset_box_says_custom_after_joint_edits(make_window):
    from engine.body.presets import load_preset

    w = make_window()
    w.pose.set_preset("walking")
    assert w.pose.preset_combo.currentData() == "walking"
    edited = w.pose.state.copy()
    edited.body_pose[3] += 0.5
    w.pose.set_state(edited, "walking", False, edited=True, from_viewport=True)   # what a joint drag sends
    assert w.pose.preset_combo.currentData() == "custom" and "Custom" in w.pose.preset_combo.currentText()
    assert w.session.pose.edited and w.session.pose.preset == "walking"   # the session keeps where it came from
    w.pose.preset_combo.setCurrentIndex(w.pose.preset_combo.findData("walking"))   # the preset again: reloaded
    assert w.pose.state == load_preset("walking") and not w.pose.edited
