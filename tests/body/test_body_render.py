"""Offscreen guide renders (EGL or OSMesa)."""

import numpy as np
import pytest

from engine.body.camera import orbit_cameras
from engine.body.state import BodyState

pytestmark = pytest.mark.gl


def test_silhouette_inside_image_for_all_presets(model, renderer_small):
    from engine.body.presets import list_presets, load_preset

    for name in list_presets():
        v, _ = model.forward(load_preset(name))
        for elev in (0.0, 25.0):
            for m in renderer_small.render_silhouette(v, model.faces, orbit_cameras(v, 4, elev, 96, 128)):
                assert m.sum() > 300, name
                border = np.concatenate([m[0], m[-1], m[:, 0], m[:, -1]])
                assert not border.any(), f"{name} touches the border at elevation {elev}"


@pytest.mark.parametrize("size", [(48, 64), (64, 48), (768, 1024)])
def test_any_resolution_matches_projection(model, size):
    from engine.body.render import GuideRenderer

    w, h = size
    v, _ = model.forward(BodyState())
    cam = orbit_cameras(v, 1, 10.0, w, h)[0]
    with GuideRenderer(w, h) as r:
        img = r.render(v, model.faces, [cam])[0]
        sil = r.render_silhouette(v, model.faces, [cam])[0]
    assert img.shape == (h, w, 3) and img.dtype == np.uint8
    uv, _ = cam.project(v)
    ys, xs = np.nonzero(sil)
    # The silhouette's extent matches the projected vertices' (to a pixel or two).
    tol = 3.0  # sub-pixel finger tips may not cover a pixel centre
    assert abs(xs.min() - uv[:, 0].min()) < tol and abs(xs.max() + 1 - uv[:, 0].max()) < tol
    assert abs(ys.min() - uv[:, 1].min()) < tol and abs(ys.max() + 1 - uv[:, 1].max()) < tol


def test_left_and_right_get_different_colours(model, renderer_small):
    from engine.body.presets import load_preset

    s = load_preset("a_pose")
    v, j = model.forward(s)
    cam = orbit_cameras(v, 1, 0.0, 96, 128)[0]
    img = renderer_small.render(v, model.faces, [cam])[0].astype(int)
    J = {n: i for i, n in enumerate(model.joint_names)}
    for left, right in (("left_elbow", "right_elbow"), ("left_knee", "right_knee")):
        (ul, vl), (ur, vr) = cam.project(j[[J[left], J[right]]])[0].astype(int)
        assert np.abs(img[vl, ul] - img[vr, ur]).sum() > 120, (left, img[vl, ul], img[vr, ur])


def test_front_and_back_differ(model, renderer_small):
    v, j = model.forward(BodyState())
    front, back = orbit_cameras(v, 2, 0.0, 96, 128)
    imgs = renderer_small.render(v, model.faces, [front, back])
    J = {n: i for i, n in enumerate(model.joint_names)}
    cf = imgs[0][tuple(front.project(j[[J["spine2"]]])[0].astype(int)[0][::-1])].astype(int)
    cb = imgs[1][tuple(back.project(j[[J["spine2"]]])[0].astype(int)[0][::-1])].astype(int)
    assert np.abs(cf - cb).sum() > 100


def test_styles_render(model):
    from engine.body.render import STYLES, GuideRenderer, RenderError

    v, _ = model.forward(BodyState())
    cams = orbit_cameras(v, 2, 0.0, 48, 64)
    for style in STYLES:
        with GuideRenderer(48, 64, style) as r:
            ims = r.render(v, model.faces, cams)
        assert len(ims) == 2 and ims[0].shape == (64, 48, 3) and ims[0].std() > 5
    with pytest.raises(RenderError, match="unknown guide style"):
        GuideRenderer(48, 64, "crayon")


def test_textured_garment_on_torso(model, parts, renderer_small):
    v, j = model.forward(BodyState())
    cam = orbit_cameras(v, 1, 0.0, 96, 128)[0]
    tex = np.zeros((64, 48, 3), np.uint8)
    tex[..., 0] = 230  # red shirt
    skin = np.tile([[0.2, 0.8, 0.2]], (len(v), 1))  # green body, so red can only come from the texture
    img = renderer_small.render_appearance(v, model.faces, [cam], skin,
                                           garment=(parts.garment_mask, parts.garment_uv, tex))[0].astype(int)
    J = {n: i for i, n in enumerate(model.joint_names)}
    u, vv = cam.project(j[[J["spine2"]]])[0].astype(int)[0]
    r, g, b = img[vv, u]
    assert r > 120 and r > 2 * g and r > 2 * b
    u, vv = cam.project(j[[J["left_knee"]]])[0].astype(int)[0]
    assert img[vv, u, 1] > img[vv, u, 0]  # legs keep their vertex colour


def test_garment_silhouette(parts):
    m = parts.garment_silhouette(128, 96)
    assert m.shape == (128, 96) and 0.15 < m.mean() < 0.7
    assert not np.concatenate([m[0], m[-1], m[:, 0], m[:, -1]]).any()
    # A T-shirt: wider at the sleeves than at the hem.
    rows = np.nonzero(m.any(1))[0]
    top, bottom = rows.min(), rows.max()
    sleeve_w = m[top + (bottom - top) // 5].sum()
    hem_w = m[bottom - 2].sum()
    assert sleeve_w > hem_w * 1.3


def test_pose_render_command(tmp_path):
    from engine.body.commands import main

    assert main(["pose", "render", "--preset", "walking", "--views", "3", "--size", "64x48",
                 "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("walking_view*.png"))) == 3
    assert main(["pose", "render", "--preset", "nope", "--out", str(tmp_path)]) == 2
