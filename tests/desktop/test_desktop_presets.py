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
