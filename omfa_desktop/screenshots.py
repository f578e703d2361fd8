"""Screenshots of the window for docs/screenshots (run under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m omfa_desktop.screenshots --out docs/screenshots

Takes: the window before a try-off, during it (progress + live preview), after it (result in the gallery),
and the viewport posing a non-preset pose (a preset with hand-edited joints) from the side. Uses a
temporary data folder so the user's gallery is untouched. ``--only dialogs`` takes the four input dialogs of
omfa_desktop/dialogs/ (batch, turntable, person to person, layer) without loading a model.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--model", help="model folder (default: the demo model, or its untrained stand-in)")
    ap.add_argument("--steps", type=int, help="denoising steps of the try-off shown (default: the preset's)")
    ap.add_argument("--only", choices=["all", "faults", "estimate", "wardrobe", "dialogs", "work", "gate", "turbo"],
                    default="all",
                    help="'faults': only the fault-handling shots (out of memory, a damaged gallery entry); "
                         "'wardrobe': the Wardrobe tab with a kept try-off result and three sample garments; "
                         "'dialogs': the batch, turntable, person-to-person and layer dialogs (no model needed); "
                         "'work': the Create menu, a finished 8-view turntable and a person-to-person job; "
                         "'gate': a cat refused on the person slot, and a try-off of a real portrait marked as "
                         "outside the demo model's world in the gallery; 'turbo': a try-off with the turbo preset "
                         "(the distilled student)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["OMFA_DATA_DIR"] = tempfile.mkdtemp(prefix="omfa_shots_")

    from omfa_desktop.glenv import configure_gl_environment

    gl = configure_gl_environment()
    from omfa_desktop.startup import qt_application
    from omfa_desktop.window import MainWindow

    app = qt_application()
    if args.only == "dialogs":
        return _dialog_shots(app, out)
    w = MainWindow(model_folder=args.model)
    w.show()

    from omfa_desktop.qtutil import pump_events as pump, wait_for as wait

    def shot(widget, name: str) -> None:
        pump(0.4)
        path = out / name
        widget.grab().save(str(path))
        print(f"wrote {path}")

    if not wait(lambda: w.model_info is not None or w.queue.model_error is not None):
        print("the model did not load", file=sys.stderr)
        return 1
    if w.viewport is not None:
        wait(lambda: w.viewport.ready, 120)
    wait(lambda: w.pose.current_guides() is not None, 60)
    if args.steps:
        w.steps.setValue(args.steps)
    if args.only == "faults":
        return _fault_shots(w, wait, shot)
    if args.only == "estimate":
        return _estimate_shot(w, wait, shot)
    if args.only == "wardrobe":
        return _wardrobe_shot(w, wait, shot)
    if args.only == "work":
        return _work_shots(w, wait, shot, pump)
    if args.only == "gate":
        return _gate_shots(w, wait, shot)
    if args.only == "turbo":
        return _turbo_shot(w, wait, shot)
    shot(w, "window_before_try_off.png")

    job = w.generate()
    wait(lambda: job.step >= max(2, w.steps.value() // 2) or job.done)
    shot(w, "window_during_try_off.png")
    wait(lambda: job.done)
    shot(w, "window_after_try_off.png")

    # the viewport: a preset with hand-edited joints, seen from the side
    if w.viewport is None:
        print(f"no viewport ({gl.get('reason')}): skipping the posing shot", file=sys.stderr)
    else:
        from engine.body.skeleton import JOINT_NAMES

        vp = w.viewport
        w.notice.hide()
        w.set_task("new-pose")
        w.pose.set_preset("walking")
        edits = {"left_shoulder": (0.0, 0.0, 35.0), "left_elbow": (0.0, -70.0, 0.0), "right_shoulder": (0.0, 0.0, 20.0),
                 "spine2": (12.0, 0.0, 0.0), "head": (-15.0, 20.0, 0.0), "right_knee": (45.0, 0.0, 0.0)}
        for name, euler in edits.items():
            vp.select(JOINT_NAMES.index(name))
            for spin, v in zip(vp.spins, euler):
                spin.setValue(v)
        vp.select(JOINT_NAMES.index("left_elbow"))
        vp.view.set_view("side")
        vp.view.frame_all()
        wait(lambda: w.pose.current_guides() is not None, 60)
        shot(w, "window_posing_side_view.png")
        shot(vp, "viewport_posing_side_view.png")
        vp.guide_check.setChecked(True)
        shot(vp, "viewport_guide_toggle.png")
        vp.guide_check.setChecked(False)
    w.shutdown()
    return 0


def _turbo_shot(w, wait, shot) -> int:
    index = w.preset.findData("turbo")
    if index < 0:
        print("this model has no turbo student: skipping the turbo shot", file=sys.stderr)
        w.shutdown()
        return 1
    w.preset.setCurrentIndex(index)
    job = w.generate()
    wait(lambda: job.done)
    shot(w, "window_turbo_try_off.png")
    w.shutdown()
    return 0


def _estimate_shot(w, wait, shot) -> int:
    """Edit → Estimate pose from photo on a sample photo (upscaled: BlazePose wants more than 96x128), and the
person box dialog of Edit → Estimate pose in a person box."""
    import numpy as np
    from PIL import Image

    w.notice.hide()
    person = w.slots["person"].image
    w.slots["person"].set_image(np.asarray(Image.fromarray(person).resize((384, 512), Image.BICUBIC)),
                                "demo_000_person.png x4")
    w.slots["photo_guide"].clear()
    w.estimate_action.trigger()
    wait(lambda: getattr(w, "_estimate_token", 1) is None, 180)
    shot(w, "estimate_pose_from_photo.png")
    from omfa_desktop.boxdialog import PersonBoxDialog  # Edit → Estimate pose in a person box…

    dlg = PersonBoxDialog(w.session.person, (90, 10, 290, 500), w)
    dlg.show()
    shot(dlg, "person_box_dialog.png")
    dlg.close()
    w.shutdown()
    return 0


def _wardrobe_shot(w, wait, shot) -> int:
    """A try-off result kept from the gallery, three shipped sample garments beside it, the first selected."""
    from engine.images import load_image
    from engine.paths import SAMPLES

    w.notice.hide()
    job = w.generate()
    wait(lambda: job.done)
    for i, name, tags in [(1, "Sand tee, GX print", "print, letters, beige"), (2, "Lemon check", "check, yellow"),
                          (3, "Sand and lime two-tone", "two-tone, summer")]:
        w.wardrobe.keep(load_image(SAMPLES / f"demo_00{i}_garment.png"), name, tags,
                        source=f"file demo_00{i}_garment.png")
    w.gallery.keep_button.click()   # the try-off result: newest, selected, Wardrobe tab shown
    w.wardrobe.tags_edit.setText("try-off, demo")
    w.wardrobe.tags_edit.editingFinished.emit()
    shot(w, "wardrobe.png")
    w.shutdown()
    return 0


def _gate_shots(w, wait, shot) -> int:
    """scikit-image's cat refused on the person slot; its astronaut portrait accepted, the banner back, and
    the try-off result badged as outside the demo model's world (engine.body.gate, engine.domain)."""
    from PIL import Image
    from skimage import data

    folder = Path(tempfile.mkdtemp(prefix="omfa_gate_"))
    Image.fromarray(data.chelsea()).save(folder / "cat.png")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    w.notice.close_button.click()
    w.slots["person"].set_path(folder / "cat.png")
    shot(w, "person_slot_no_person.png")
    w.slots["person"].set_path(folder / "astronaut.png")
    w.slots["photo_guide"].clear()
    job = w.generate()
    wait(lambda: job.done)
    shot(w, "gallery_outside_world.png")
    w.shutdown()
    return 0


def _work_shots(w, wait, shot, pump) -> int:
    """Create menu; a turntable (8 views of the walking pose) in the gallery; a person-to-person job's stages."""
    from types import SimpleNamespace

    from engine.images import load_image
    from engine.paths import SAMPLES

    w.notice.hide()
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Create")
    menu.popup(w.mapToGlobal(w.menuBar().actionGeometry(menu.menuAction()).bottomLeft()))
    shot(menu, "create_menu.png")
    menu.hide()
    opts = SimpleNamespace(views=8, batch=8, elevation=0.0, fps=8.0, gif=True, mp4=True, sheet=True, folder="")
    w.work.turntable(opts)
    wait(lambda: w.queue.jobs and w.queue.jobs[-1].done)
    shot(w, "window_turntable.png")
    n = len(w.queue.jobs)
    w.work.person_to_person(load_image(SAMPLES / "demo_000_person.png"), load_image(SAMPLES / "demo_001_person.png"),
                            load_image(SAMPLES / "demo_001_head.png"), pose_source="viewport")
    wait(lambda: len(w.queue.jobs) > n and w.queue.jobs[-1].done)
    shot(w, "window_person_to_person.png")
    w.shutdown()
    return 0


def _dialog_shots(app, out: Path) -> int:
    """The four dialogs of omfa_desktop.dialogs, filled with the shipped samples (copied into client and
    garment folders for the batch), as they look before OK."""
    import shutil

    from engine.images import load_image
    from engine.paths import SAMPLES
    from omfa_desktop.dialogs import BatchDialog, LayerDialog, PersonToPersonDialog, TurntableDialog

    root = Path(tempfile.mkdtemp(prefix="omfa_shots_")) / "shop"
    for i, name in enumerate(("anna", "ben", "chloe")):
        (root / "clients").mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / f"demo_00{i}_person.png", root / "clients" / f"{name}.png")
    for i, name in enumerate(("striped_tee", "print_tee", "check_shirt", "two_tone_top")):
        (root / "garments").mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / f"demo_00{i}_garment.png", root / "garments" / f"{name}.png")

    def shot(dialog, name: str) -> None:
        dialog.show()
        t = time.time()
        while time.time() - t < 0.4:
            app.processEvents()
            time.sleep(0.01)
        path = out / name
        dialog.grab().save(str(path))
        print(f"wrote {path}")
        dialog.close()

    batch = BatchDialog(start_dir=str(root))
    batch.set_paths(people=root / "clients", garments=root / "garments", out=root / "results")
    batch.set_poses(["own", "walking", "hands_on_hips"])
    shot(batch, "dialog_batch.png")
    import json

    from engine.paths import DEMO_MODEL

    k = json.loads((DEMO_MODEL / "omfa_config.json").read_text()).get("views_per_canvas", 1)
    turntable = TurntableDialog(views_per_canvas=int(k))  # as the window opens it on the shipped model
    turntable.quick[24].click()
    shot(turntable, "dialog_turntable.png")
    p2p = PersonToPersonDialog(photo_a=load_image(SAMPLES / "demo_000_person.png"))
    p2p.set_photo_b(SAMPLES / "demo_001_person.png")
    shot(p2p, "dialog_person_to_person.png")
    layer = LayerDialog(base=load_image(SAMPLES / "demo_001_person.png"))
    layer.set_garment(SAMPLES / "demo_000_garment.png")
    shot(layer, "dialog_layer.png")
    return 0


def _fault_shots(w, wait, shot) -> int:
    """An out-of-memory failure (injected: this machine has no GPU) with its one-click remedy, then the
    notice a damaged gallery entry gives at start."""
    import torch


    pipe = w.queue.worker.pipe
    forward = pipe.model.forward
    calls = {"n": 0}

    def oom(x_in, t):
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 7.79 GiB total)")
        return forward(x_in, t)

    pipe.model.forward = oom
    w.notice.hide()
    w.steps.setValue(4)
    job = w.generate()
    wait(lambda: job.done)
    shot(w, "fault_out_of_memory.png")
    pipe.model.forward = forward
    w.steps.setValue(2)
    ok = w.generate()
    wait(lambda: ok.done)
    entry = w.gallery.entries[0]
    (entry.folder / "entry.json").write_text('{"id": "truncat')
    w.gallery.reload()
    shot(w, "fault_damaged_gallery_entry.png")
    w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
