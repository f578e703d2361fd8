"""The sampling preset selector: fast by default, paper on demand, custom once a field is edited."""
from desktop_testing import run_job


def test_window_starts_on_fast_and_switches_to_paper_and_custom(qtbot, make_window):
    w = make_window()
    assert w.preset.currentData() == "fast"
    assert (w.steps.value(), w.sampler.currentData(), w.guided.value()) == (20, "dpm++2m", 50)
    w.preset.setCurrentIndex(w.preset.findData("paper"))
    assert (w.steps.value(), w.sampler.currentData(), w.guided.value()) == (50, "ddim", 100)
    w.steps.setValue(30)
    assert w.preset.currentData() == "custom"
    w.steps.setValue(50)
    assert w.preset.currentData() == "paper"  # back on the preset's values: it is the preset again


def test_a_job_carries_the_guided_fraction_and_a_restore_brings_it_back(qtbot, make_window):
    w = make_window()
    w.steps.setValue(4)
    w.guided.setValue(50)
    w.session.memory = "offload"  # Settings → GPU memory (on the CPU it changes nothing but the route)
    job = run_job(qtbot, w)
    assert job.state.value == "finished" and job.request.guidance_until == 0.5
    assert job.request.memory == "offload"
    assert job.result.settings["guidance_until"] == 0.5
    w.preset.setCurrentIndex(w.preset.findData("paper"))
    w.restore(w.gallery.entries[0].metadata)
    assert w.guided.value() == 50 and w.steps.value() == 4 and w.preset.currentData() == "custom"


def _with_student(src, dst):
    """A copy of model folder ``src`` with a (randomly adapted) few-step student, as omfa distill writes one."""
    import shutil

    import torch

    from engine.student import StudentConfig, inject_lora, lora_state, save_student, student_schedules, unet_sha256
    from engine.integrity import write_manifest
    from engine.model import load_model

    shutil.copytree(src, dst)
    model = load_model(dst)
    params = inject_lora(model.unet, rank=2)
    with torch.no_grad():
        for p in params:
            p.normal_(0, 0.01)
    steps = [951 - 50 * i for i in range(20)]
    save_student(dst / "student", StudentConfig(teacher_unet_sha256=unet_sha256(dst), timesteps=steps,
                                                schedules=student_schedules(20, (1, 2)),
                                                teacher_sampler={"guidance": 2.0}), lora_state(model.unet))
    write_manifest(dst)
    return dst


def test_turbo_is_offered_only_for_a_model_with_a_student_and_runs_it(qtbot, make_window, tiny_model_dir, tmp_path):
    w = make_window()
    assert w.preset.findData("turbo") < 0 and w.sampler.findData("student") < 0
    w2 = make_window(model_folder=str(_with_student(tiny_model_dir, tmp_path / "with_student")))
    assert w2.preset.findData("turbo") >= 0
    w2.preset.setCurrentIndex(w2.preset.findData("turbo"))
    assert (w2.steps.value(), w2.sampler.currentData(), w2.guidance.value()) == (1, "student", 1.0)
    assert w2.preset.currentData() == "turbo"
    job = run_job(qtbot, w2)
    assert job.state.value == "finished", job.error
    assert job.result.settings["scheduler"] == "student" and job.result.steps_done == 1
    assert "· 1 step ·" in job.title()  # not "1 steps"
    assert "student · 1 step · guidance" in w2.gallery.info.text()
    # what the student cannot honour is refused by field before anything is queued
    assert w2.model_info.student_steps == (1, 2)
    jobs = len(w2.queue.jobs)
    w2.steps.setValue(3)
    assert w2.generate() is None and len(w2.queue.jobs) == jobs
    assert "Turbo samples in 1 or 2 steps, not 3" in w2.messages.text.text()
    w2.steps.setValue(2)
    w2.guidance.setValue(2.0)
    assert w2.generate() is None and len(w2.queue.jobs) == jobs
    assert "set guidance to 1.0" in w2.messages.text.text()
