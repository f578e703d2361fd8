"""engine.body.skinning: our SMPL-X equations give smplx's vertices and joints, and the app poses bodies
without importing smplx (whose licence keeps it out of the installers)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.body.skinning import SkinningError, SmplxSkinning, axis_angle_to_matrix
from engine.paths import RESOURCES

MANNEQUIN = RESOURCES / "body" / "omfa_mannequin_smplx.npz"


def _random_pose(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda n, s: torch.randn(b, n, generator=g) * s  # noqa: E731
    return dict(betas=r(10, 1.0), global_orient=r(3, 0.6), body_pose=r(63, 0.4), left_hand_pose=r(45, 0.3),
                right_hand_pose=r(45, 0.3), jaw_pose=r(3, 0.2), leye_pose=r(3, 0.1), reye_pose=r(3, 0.1),
                expression=r(10, 1.0), transl=r(3, 1.0))


def test_matches_smplx_on_the_mannequin():
    smplx = pytest.importorskip("smplx")
    ref = smplx.SMPLX(str(MANNEQUIN), ext="npz", use_pca=False, flat_hand_mean=True, num_betas=10,
                      num_expression_coeffs=10, batch_size=1)
    own = SmplxSkinning(MANNEQUIN)
    kw = _random_pose()
    with torch.no_grad():
        a, b = ref(**kw), own(**kw)
    assert b.vertices.shape == a.vertices.shape and b.joints.shape == (3, 55, 3)
    assert torch.allclose(a.vertices, b.vertices, atol=1e-5)
    assert torch.allclose(a.joints[:, :55], b.joints, atol=1e-5)
    assert np.array_equal(own.faces, np.asarray(ref.faces, np.int64))
    assert torch.equal(own.lbs_weights, ref.lbs_weights)


def test_rest_pose_is_the_template_and_rotations_are_rotations():
    own = SmplxSkinning(MANNEQUIN)
    with torch.no_grad():
        rest = own()
    assert torch.allclose(rest.vertices[0], own.v_template, atol=1e-6)
    R = axis_angle_to_matrix(torch.randn(50, 3))
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3).expand(50, 3, 3), atol=1e-5)
    assert torch.allclose(torch.det(R), torch.ones(50), atol=1e-5)


def test_gradients_flow_for_fitting():
    own = SmplxSkinning(MANNEQUIN)
    pose = torch.zeros(1, 63, requires_grad=True)
    own(body_pose=pose).joints.sum().backward()
    assert pose.grad is not None and torch.isfinite(pose.grad).all() and pose.grad.abs().sum() > 0


def test_bad_files_are_named(tmp_path):
    np.savez(tmp_path / "x.npz", v_template=np.zeros((4, 3)))
    with pytest.raises(SkinningError, match="missing f, shapedirs"):
        SmplxSkinning(tmp_path / "x.npz")
    (tmp_path / "y.npz").write_bytes(b"not a zip")
    with pytest.raises(SkinningError, match="not a readable .npz"):
        SmplxSkinning(tmp_path / "y.npz")


def test_the_app_poses_and_renders_without_importing_smplx():
    code = ("import sys\n"
            "from engine.body.model import BodyModel\n"
            "from engine.body.presets import load_preset\n"
            "m = BodyModel.load_mannequin()\n"
            "v, j = m.forward(load_preset('walking'))\n"
            "assert v.shape[1] == 3 and j.shape == (55, 3)\n"
            "print('smplx' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
