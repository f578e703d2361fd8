"""The cheaper PySide6 per-import check (omfa_desktop.pyside_import_hook) gives the original's answers without
decoding and caching every imported module's source."""
import importlib
import linecache
import sys

from omfa_desktop.pyside_import_hook import lighten


def _module(tmp_path, monkeypatch, name: str, text: str):
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return __import__(name)  # through builtins.__import__, which shiboken6 replaced (importlib bypasses it)


def test_the_light_check_answers_as_the_original(tmp_path, monkeypatch):
    feature = sys.modules.get("shibokensupport.feature") or importlib.import_module("shibokensupport.feature")
    assert lighten() is True and lighten() is True  # idempotent
    light = feature._mod_uses_pyside
    assert getattr(light, "_omfa_light", False)
    uses = _module(tmp_path, monkeypatch, "omfa_hook_uses", "from PySide6.QtCore import QObject\n")
    plain = _module(tmp_path, monkeypatch, "omfa_hook_plain", "X = 1\n")
    assert light(uses) is True and light(plain) is False
    assert light(sys) is False  # a built-in module: the original's answer (no source)
    import math  # an extension module (no .py): handed to the original
    assert light(math) is False


def test_imports_after_it_are_recorded_without_caching_their_source(tmp_path, monkeypatch):
    lighten()
    feature = sys.modules["shibokensupport.feature"]
    uses = _module(tmp_path, monkeypatch, "omfa_hook_uses2", "import PySide6\n")
    plain = _module(tmp_path, monkeypatch, "omfa_hook_plain2", "Y = 2\n")
    assert feature.pyside_feature_dict[uses.__name__] == 0  # uses PySide: a feature switch applies
    assert feature.pyside_feature_dict[plain.__name__] == -1  # ignored, as before
    # the original check read each module through linecache, keeping every imported source in memory
    assert plain.__file__ not in linecache.cache and uses.__file__ not in linecache.cache
