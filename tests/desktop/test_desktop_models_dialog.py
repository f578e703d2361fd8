"""Edit -> Models... (omfa_desktop.models_dialog) on tiny SD/SDXL-shaped diffusers folders the tests make."""
import pytest

from model_folders import snapshot, tiny_diffusers_folder


@pytest.fixture(scope="module")
def xl_base(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    return tiny_diffusers_folder(tmp_path_factory.mktemp("xl") / "sdxl-base", xl=True)


@pytest.fixture
def dialog(qtbot, data_dir, monkeypatch):
    from omfa_desktop.models_dialog import ModelsDialog

    monkeypatch.setenv("OMFA_HASH_CACHE", "off")

    def make():
        d = ModelsDialog()
        qtbot.addWidget(d)
        d.show()
        qtbot.waitUntil(lambda: not d.busy(), timeout=120_000)  # the demo model's memory is counted first
        return d

    return make


def test_first_start_explains_the_kinds_and_remembers_got_it(dialog):
    d = dialog()
    assert d.intro.isVisible() and "synthetic mannequin world" in d.intro_text.text()
    assert "outputs noise until trained" in d.intro_text.text()
    assert d.list.count() == 1 and "OMFA demo" in d.list.item(0).text()
    assert not d.remove_button.isEnabled() and not d.use_button.isEnabled()   # read-only, already active
    assert "standard" in d.fields["memory"].text() and "MB" in d.fields["memory"].text()
    d.intro_ok.click()
    assert not d.intro.isVisible()
    d.close()
    again = dialog()
    assert not again.intro.isVisible()
    again.kinds_button.click()
    assert again.intro.isVisible()


def test_add_converts_off_the_gui_thread_with_a_progress_bar_then_use_and_remove(dialog, xl_base, qtbot, data_dir):
    from engine.model_registry import ModelRegistry

    d = dialog()
    before = snapshot(xl_base)
    seen = []
    d.add_folder(str(xl_base), size=(32, 32))
    assert d.busy() and d.progress.isVisible() and not d.add_button.isEnabled()   # the GUI thread is free
    d.job.progressed.connect(lambda f, s: seen.append(f))
    qtbot.waitUntil(lambda: not d.busy(), timeout=120_000)
    assert seen and max(seen) == pytest.approx(1.0) and not d.progress.isVisible()
    assert snapshot(xl_base) == before                                          # never converted in place
    assert d.list.count() == 2 and d.list.currentRow() == 1
    assert "converted into" in d.status.text()
    f = d.fields
    assert f["preset"].text() == "SDXL" and f["kind"].text().startswith("Converted base")
    assert "person 32x32" in f["panels"].text() and "not fine-tuned" in f["tasks"].text()
    assert f["precision"].text() == "fp32" and f["manifest"].text().startswith("present; not verified")
    assert "GB" in f["memory"].text() or "MB" in f["memory"].text()
    path = ModelRegistry().find("2").path
    assert path.startswith(str(data_dir / "models"))

    d.verify_selected()
    qtbot.waitUntil(lambda: not d.busy(), timeout=60_000)
    assert "OK" in d.status.text() and f["manifest"].text().startswith("present; OK")

    chosen = []
    d.modelChosen.connect(chosen.append)
    assert d.use_button.isEnabled()
    d.use_button.click()
    assert chosen == [path] and ModelRegistry().active().path == path and "●" in d.list.item(1).text()
    d.remove_selected()
    assert chosen == [path, ""] and d.list.count() == 1 and ModelRegistry().active().builtin


def test_a_failed_conversion_says_why_and_keeps_the_list(dialog, tmp_path, qtbot):
    d = dialog()
    (tmp_path / "empty").mkdir()
    d.add_folder(str(tmp_path / "empty"))
    qtbot.waitUntil(lambda: not d.busy(), timeout=60_000)
    assert "neither an OMFA model folder" in d.status.text() and d.list.count() == 1
    assert d.add_button.isEnabled()


def test_edit_models_use_loads_the_model_in_the_window(make_window, qtbot, tiny_model_dir):
    from engine.model_registry import ModelRegistry

    w = make_window(model_folder=None)
    assert any(a.text() == "&Models…" for a in w.menuBar().actions()[1].menu().actions())
    reg = ModelRegistry()
    rec = reg.add(tiny_model_dir)
    reg.use(rec.path)
    w._use_registry_model(rec.path)
    qtbot.waitUntil(lambda: w.model_info is not None and w.model_info.folder == rec.path, timeout=120_000)
