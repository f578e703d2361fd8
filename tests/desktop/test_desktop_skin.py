"""GPU skinning of the viewport (omfa_desktop.viewport.skin): the shader's maths, checked on the CPU against
the engine's own forward (engine.body.skinning), for the mannequin and for a body with pose correctives."""
import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def mannequin():
    from engine.body.model import BodyModel

    return BodyModel.load_mannequin()


def _pose(seed: int):
    from engine.body.state import BodyState

    rng = np.random.default_rng(seed)
    s = BodyState()
    s.body_pose[:] = rng.normal(0, 0.4, s.body_pose.shape)
    s.left_hand_pose[:] = rng.normal(0, 0.3, s.left_hand_pose.shape)
    s.right_hand_pose[:] = rng.normal(0, 0.3, s.right_hand_pose.shape)
    s.global_orient[:] = rng.normal(0, 0.5, 3)
    s.jaw_pose[:] = rng.normal(0, 0.1, 3)
    s.transl[:] = rng.normal(0, 0.2, 3)
    s.betas[:] = rng.normal(0, 1.0, 10)
    return s


def test_gpu_skinning_gives_the_engine_forward_on_the_mannequin(mannequin):
    from omfa_desktop.viewport.skin import GpuSkin

    skin = GpuSkin.for_body(mannequin)
    assert skin is not None and skin.posedirs is None  # the mannequin has no pose correctives
    for seed in range(3):
        state = _pose(seed)
        v, j = mannequin.forward(state)
        mats, joints, rest = skin.pose(state)
        assert mats.shape == (55, 4, 4) and rest is None
        assert np.abs(skin.cpu_vertices() - v).max() < 1e-4 and np.abs(joints - j[:55]).max() < 1e-4


def test_a_shape_change_is_reported_once_and_a_pose_change_is_not(mannequin):
    from omfa_desktop.viewport.skin import GpuSkin

    skin = GpuSkin.for_body(mannequin)
    state = _pose(0)
    assert skin.set_shape(state.betas) is True and skin.set_shape(state.betas) is False
    state.body_pose[3] += 0.3  # a joint drag
    skin.pose(state)
    assert skin.set_shape(state.betas) is False
    state.betas[0] += 0.5
    assert skin.set_shape(state.betas) is True


def test_pose_correctives_are_added_on_the_cpu():
    from engine.body.model import BodyModel
    from omfa_desktop.viewport.skin import GpuSkin

    mannequin = BodyModel.load_mannequin()
    body = BodyModel.load_mannequin()  # a second copy, given correctives
    inner = body._model
    g = torch.Generator().manual_seed(0)
    inner.posedirs.copy_(torch.randn(inner.posedirs.shape, generator=g) * 1e-3)  # an SMPL-X-like body
    skin = GpuSkin.for_body(body)
    state = _pose(1)
    v, _ = body.forward(state)
    _, _, rest = skin.pose(state)
    assert rest is not None and rest.shape == v.shape
    assert np.abs(skin.cpu_vertices() - v).max() < 1e-4
    assert np.abs(GpuSkin.for_body(mannequin).pose(state)[0] - skin.skin).max() < 1e-6  # same matrices
