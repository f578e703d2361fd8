"""``omfa --self-test`` and ``omfa-desktop --self-test`` from a source install (the pyproject entry points
engine.cli:main and omfa_desktop.app:main), not only from the bundle's own launchers."""
import pytest


@pytest.fixture
def ran(monkeypatch):
    import engine.selftest

    calls = []
    monkeypatch.setattr(engine.selftest, "run_self_test", lambda *a: calls.append(a) or 0)
    return calls


def test_omfa_entry_point_runs_the_self_test(ran):
    from engine.cli import main

    assert main(["--self-test", "--verbose", "--steps", "2"]) == 0
    assert ran == [(2, "auto", "auto", True)]


def test_omfa_desktop_entry_point_runs_it_before_any_qt(ran):
    import sys

    from omfa_desktop.app import main

    qt_before = "PySide6.QtWidgets" in sys.modules
    assert main(["--self-test"]) == 0
    assert ran == [(4, "auto", "auto", False)]
    assert qt_before or "PySide6.QtWidgets" not in sys.modules


def test_help_lists_it(capsys):
    from engine.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--self-test" in capsys.readouterr().out
