"""Mannequin file, BodyModel, BodyState, presets and cameras (no OpenGL)."""

import json
import sys

import numpy as np
import pytest

from engine.body.skeleton import JOINT_NAMES
from engine.body.state import BodyState, BodyStateError

J = {n: i for i, n in enumerate(JOINT_NAMES)}


def test_smplx_loads_mannequin_directly():
    import smplx
    import torch

    from engine.body.mannequin import MANNEQUIN_PATH

    m = smplx.SMPLX(str(MANNEQUIN_PATH), use_pca=False, flat_hand_mean=True, num_betas=10)
    out = m(body_pose=torch.zeros(1, 63))
    assert out.vertices.shape[1] >= 9930
    assert out.joints.shape[1] == 55 + 21 + 51
    # The extra keypoints smplx reads at fixed ids land where they should (nose in front of the head).
    nose, leye, lthumb = (out.joints[0, k].detach().numpy() for k in (55, 57, 55 + 11))
    head = out.joints[0, J["head"]].detach().numpy()
    assert nose[2] > head[2] + 0.07 and leye[0] > 0.01 and lthumb[0] > 0.7


def test_mesh_closed_manifold_and_arrays(model, parts):
    import trimesh

    from engine.body.mannequin import MANNEQUIN_PATH

    d = np.load(MANNEQUIN_PATH)
    mesh = trimesh.Trimesh(d["v_template"], d["f"], process=False)
    assert mesh.is_watertight and mesh.euler_number == 2
    w = d["weights"]
    assert np.allclose(w.sum(1), 1, atol=1e-5) and (np.count_nonzero(w, 1) <= 4).all()
    assert np.allclose(d["J_regressor"] @ d["v_template"], parts.rest_joints, atol=1e-4)
    assert d["shapedirs"].shape[2] >= 20 and d["posedirs"].shape == (len(w), 3, 486)
    assert MANNEQUIN_PATH.stat().st_size < 10e6
    assert len(parts.part_id) == model.num_vertices == len(parts.garment_uv)
    for name in parts.part_names:
        assert parts.part_mask(name).any(), name


def test_raise_left_arm_moves_left_hand_only(model, parts):
    v0, _ = model.forward(BodyState())
    s = BodyState()
    s.set_joint_rotation("left_shoulder", [0, 0, 1.2])  # +z about the left shoulder lifts the arm
    v1, _ = model.forward(s)
    hand_l, foot_r, hand_r = parts.part_mask("hand_l"), parts.part_mask("foot_r"), parts.part_mask("hand_r")
    assert v1[hand_l, 1].mean() > v0[hand_l, 1].mean() + 0.4
    assert np.abs(v1[foot_r] - v0[foot_r]).max() < 1e-6
    assert np.abs(v1[hand_r] - v0[hand_r]).max() < 1e-6


def test_forward_is_deterministic(model, make_state):
    # (its speed is measured in benchmarks/bench_render.py, never in a timed test)
    s = make_state(1)
    a, b = model.forward(s), model.forward(s)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_mirror_twice_is_identity(make_state):
    s = make_state(2)
    assert s.mirrored().mirrored().allclose(s)


def test_mirrored_pose_is_reflection(model, make_state):
    from scipy.spatial import cKDTree

    from engine.body.skeleton import mirror_joint_index

    s = make_state(3)
    s.betas[:] = 0  # shape is symmetric only at... every beta here is symmetric; keep it simple
    v, j = model.forward(s)
    vm, jm = model.forward(s.mirrored())
    flip = np.array([-1.0, 1.0, 1.0])
    assert np.allclose(jm[:55], (j[:55] * flip)[mirror_joint_index()], atol=2e-4)
    d, _ = cKDTree(vm).query(v * flip)
    assert np.median(d) < 0.008 and d.max() < 0.03  # the mesh is symmetric only to ~marching-cubes precision


def test_height_grows_with_beta0(model):
    heights = []
    for b in np.linspace(-3, 3, 7):
        betas = np.zeros(10)
        betas[0] = b
        v, _ = model.forward(BodyState(betas=betas))
        heights.append(v[:, 1].max() - v[:, 1].min())
    assert np.all(np.diff(heights) > 0.01)
    assert 1.65 < heights[3] < 1.8


def test_girth_and_shoulders(model, parts):
    v0, _ = model.forward(BodyState())
    b = np.zeros(10)
    b[1] = 2
    v1, _ = model.forward(BodyState(betas=b))
    torso = parts.part_mask("torso")
    assert np.ptp(v1[torso, 0]) > np.ptp(v0[torso, 0]) + 0.01
    b = np.zeros(10)
    b[2] = 2
    _, j2 = model.forward(BodyState(betas=b))
    _, j0 = model.forward(BodyState())
    assert j2[J["left_shoulder"], 0] - j0[J["left_shoulder"], 0] > 0.02


def test_json_round_trip(tmp_path, make_state):
    s = make_state(4)
    assert BodyState.from_json(s.to_json()).allclose(s)
    path = tmp_path / "s.json"
    s.to_json(path)
    assert BodyState.from_json(path).allclose(s)
    assert BodyState.from_dict(json.loads(json.dumps(s.to_dict()))).allclose(s)


@pytest.mark.parametrize("bad, field", [
    ({"betas": [1, 2]}, "betas"),
    ({"body_pose": {"left_elbo": [0, 0, 0]}}, "left_elbo"),
    ({"transl": [0, "x", 0]}, "transl"),
    ({"global_orient": [0, float("nan"), 0]}, "global_orient"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_state_names_field(bad, field):
    with pytest.raises(BodyStateError, match=field):
        BodyState.from_dict(bad)


def test_presets_load():
    from engine.body.presets import PresetError, list_presets, load_preset

    names = list_presets()
    for n in ("a_pose", "t_pose", "walking", "hands_on_hips", "arms_crossed", "contrapposto", "hand_in_pocket",
              "over_the_shoulder_look", "sitting", "running", "waving", "back_view"):
        assert n in names
        load_preset(n)
    with pytest.raises(PresetError, match="available"):
        load_preset("moonwalk")


def test_missing_smplx_file_is_named(tmp_path):
    from engine.body.model import BodyModel, BodyModelError

    with pytest.raises(BodyModelError, match=r"SMPLX_FEMALE\.npz.*smpl-x\.is\.tue\.mpg\.de"):
        BodyModel.load_smplx(tmp_path, gender="female")
    (tmp_path / "SMPLX_NEUTRAL.npz").write_bytes(b"not a zip")
    with pytest.raises(BodyModelError, match="invalid SMPL-X file .*SMPLX_NEUTRAL.npz"):
        BodyModel.load_smplx(tmp_path)
    with pytest.raises(BodyModelError, match="gender"):
        BodyModel.load_smplx(tmp_path, gender="robot")


def test_orbit_cameras_project_inside(model):
    from engine.body.camera import orbit_cameras
    from engine.body.presets import list_presets, load_preset

    for name in list_presets():
        v, _ = model.forward(load_preset(name))
        for w, h in ((768, 1024), (64, 48), (100, 300)):
            for cam in orbit_cameras(v, 8, 15.0, w, h):
                uv, z = cam.project(v)
                assert (z > 0).all()
                assert uv[:, 0].min() > 0 and uv[:, 0].max() < w and uv[:, 1].min() > 0 and uv[:, 1].max() < h


def test_hmr2_camera_conventions(model, make_state):
    from scipy.spatial.transform import Rotation

    from engine.body.camera import camera_from_hmr2, hmr2_to_y_up

    cam = camera_from_hmr2([0.8, 0.05, 0.2], (400, 300), 250, (640, 480))
    f = 5000 / 256 * 640
    assert np.isclose(cam.fx, f) and np.isclose(cam.cx, 320)
    assert np.isclose(cam.t[2], 2 * f / (250 * 0.8))
    assert np.isclose(cam.t[0], 2 * (400 - 320) / (250 * 0.8) + 0.05)
    # hmr2's body (upside down in the camera frame) and its y-up version give the same image.
    s = make_state(5, 0.2)
    s.transl[:] = 0
    s.global_orient[:] = Rotation.from_euler("x", np.pi).as_rotvec()
    v_cam, _ = model.forward(s)
    cam2, orient = hmr2_to_y_up(cam, s.global_orient, model.shape_rest(s.betas)[1][0])
    s2 = s.copy()
    s2.global_orient[:] = orient
    v_up, _ = model.forward(s2)
    assert v_up[:, 1].mean() > v_cam[:, 1].mean() - 10  # sanity
    assert np.allclose(cam.project(v_cam)[0], cam2.project(v_up)[0], atol=0.05)


def test_engine_body_never_imports_qt():
    import subprocess

    code = ("import sys, engine.body.camera, engine.body.commands, engine.body.model, engine.body.presets, "
            "engine.body.render, engine.body.mannequin; "
            "sys.exit(any(m.startswith(('PySide6', 'PyQt')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
