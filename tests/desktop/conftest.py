"""Desktop tests: pytest-qt under Xvfb (pytest-xvfb starts it), a tiny model, a temporary data folder.

The GL set-up must precede the QApplication (pytest-qt creates it on first use of ``qtbot``) and follow
pytest-xvfb's start of Xvfb (it sets DISPLAY in its pytest_configure; this conftest is imported before
that), so it runs in a last pytest_configure: PyOpenGL on EGL and Qt's xcb on EGL too (ENVIRONMENT.md).
"""
import gc
import os

import pytest

os.environ.setdefault("OMFA_THREADS", "1")  # the engine thread uses one core: the machine is shared



@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    from omfa_desktop.glenv import configure_gl_environment

    configure_gl_environment()

@pytest.fixture(autouse=True)
def gui_thread_gc(qapp):
    """Cycles are collected on the GUI thread only, as the app does (omfa_desktop.startup.GuiThreadGC): the
    collector tripping on the engine thread while the garbage holds Qt objects crashed a run once."""
    from omfa_desktop.startup import GuiThreadGC

    guard = GuiThreadGC(qapp)
    yield guard
    guard.stop()
    gc.collect()


TINY = dict(block_out_channels=(32, 32, 32), cross_attention_dim=32, attention_head_dim=8)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A demo-layout model (96x128 panels, tiny codec) with a ~0.5 M-parameter UNet: cheap steps."""
    import torch

    from engine.model import build_model

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny_model")
    build_model("demo", **TINY).save(folder)
    return folder


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "omfa_data"
    monkeypatch.setenv("OMFA_DATA_DIR", str(d))
    monkeypatch.delenv("OMFA_MODEL", raising=False)
    return d


@pytest.fixture
def make_window(qtbot, data_dir, tiny_model_dir):
    """``make_window(**kw)`` -> a shown MainWindow on the tiny model, its model loaded."""
    from omfa_desktop.window import MainWindow

    made = []

    def make(wait: bool = True, **kw):
        kw.setdefault("model_folder", str(tiny_model_dir))
        kw.setdefault("with_viewport", False)
        w = MainWindow(**kw)
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        if wait:
            qtbot.waitUntil(lambda: w.model_info is not None or w.queue.model_error is not None, timeout=120_000)
            assert w.model_info is not None, w.queue.model_error
        return w

    yield make
    for w in made:
        w.shutdown()
