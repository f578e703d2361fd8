"""Both offscreen GL platforms render the same guide (each in its own process: PyOpenGL binds once)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE = """
import json, numpy as np
from engine.body.guide import pose_guides
from engine.body.presets import load_preset
from engine.body.render import ensure_gl_platform
platform = ensure_gl_platform()
img = pose_guides(load_preset("walking"), 96, 128)[0][0]
fg = (np.abs(img.astype(int) - 255).sum(-1) > 30)
rows = [int(r) for r in np.nonzero(fg.any(1))[0][[0, -1]]]
print(json.dumps({"platform": platform, "fg": int(fg.sum()), "rows": rows}))
"""


def _render(platform: str) -> dict:
    env = {**os.environ, "PYOPENGL_PLATFORM": platform}
    out = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        pytest.fail(f"{platform} render failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_egl_and_osmesa_render_the_same_figure():
    egl, osmesa = _render("egl"), _render("osmesa")
    assert egl["platform"] == "egl" and osmesa["platform"] == "osmesa"
    assert egl["fg"] > 500
    # OSMesa has no MSAA: at 96x128 its edge pixels differ (~8% of a thin figure), not the figure itself.
    assert abs(egl["fg"] - osmesa["fg"]) < 0.12 * egl["fg"]
    assert all(abs(a - b) <= 1 for a, b in zip(egl["rows"], osmesa["rows"]))


def test_platform_is_chosen_automatically():
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    code = "from engine.body.render import ensure_gl_platform; print(ensure_gl_platform())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() in ("egl", "osmesa")


def test_windows_and_macos_use_pyrenders_pyglet_window(monkeypatch):
    """No EGL/OSMesa there: the platform is left to pyrender (a hidden pyglet window), PyOpenGL untouched."""
    from engine.body import render

    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    for name in ("win32", "darwin"):
        monkeypatch.setattr(render.sys, "platform", name)
        assert render.ensure_gl_platform() == "pyglet"
        assert "PYOPENGL_PLATFORM" not in os.environ
