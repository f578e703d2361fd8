"""The trainer's batches: which panels are noised, where the pose goes, the two-view canvas."""
import numpy as np
import torch

from engine.train import IMAGE_KEYS, TrainConfig, _Batcher
from omfa_testing import tiny_model


def _batch(n=3, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"head": (32, 32)}
    return {k: rng.integers(0, 256, (n, *shapes.get(k, (32, 32)), 3), dtype=np.uint8) for k in IMAGE_KEYS}


def test_two_view_canvas_generates_both_persons_from_garment_head_and_both_guides():
    m = tiny_model()
    lay = m.layout
    b = _Batcher(m, TrainConfig(p_no_head=0.0, p_drop=0.0), np.random.default_rng(0))
    batch = _batch()
    x0, pose, mask, drop_clean, drop_pose, tasks = b.two_views(batch)
    z = {k: b.encode(batch[k]) for k in IMAGE_KEYS}
    w = lay.widths["person"] // lay.factor  # 8 latent columns per panel
    assert x0.shape == (3, 4, 8, 4 * w) and pose.shape == x0.shape and tasks == ["two-views"] * 3
    # p_A | p_B | garment | head, with both persons generated and the rest clean
    assert torch.equal(x0[..., :w], z["person"]) and torch.equal(x0[..., w:2 * w], z["person_b"])
    assert torch.equal(x0[..., 2 * w:3 * w], z["garment"]) and torch.equal(x0[..., 3 * w:], z["head"])
    assert mask.shape == (3, 1, 8, 4 * w)
    assert (mask[..., :2 * w] == 1).all() and (mask[..., 2 * w:] == 0).all()
    # each person panel gets its own view's guide; the clean panels carry no pose
    assert torch.equal(pose[..., :w], z["guide"]) and torch.equal(pose[..., w:2 * w], z["guide_b"])
    assert (pose[..., 2 * w:] == 0).all()
    assert not drop_clean.any() and not drop_pose.any()


def test_two_view_canvas_drops_heads_like_the_single_canvas():
    m = tiny_model()
    b = _Batcher(m, TrainConfig(p_no_head=1.0), np.random.default_rng(0))
    x0, *_ = b.two_views(_batch())
    w = m.layout.widths["person"] // m.layout.factor
    assert (x0[..., 3 * w:] == 0).all() and (x0[..., 2 * w:3 * w] != 0).any()


def test_four_view_canvas_alternates_the_two_poses_each_with_its_own_guide():
    m = tiny_model()
    b = _Batcher(m, TrainConfig(p_no_head=0.0, p_drop=0.0), np.random.default_rng(0))
    batch = _batch(n=2)
    x0, pose, mask, *_, tasks = b.multi_views(batch, 4)
    z = {k: b.encode(batch[k]) for k in IMAGE_KEYS}
    w = m.layout.widths["person"] // m.layout.factor
    assert x0.shape == (2, 4, 8, 6 * w) and tasks == ["4-views"] * 2
    for i, (p, g) in enumerate([("person", "guide"), ("person_b", "guide_b")] * 2):
        assert torch.equal(x0[..., i * w:(i + 1) * w], z[p]) and torch.equal(pose[..., i * w:(i + 1) * w], z[g])
    assert torch.equal(x0[..., 4 * w:5 * w], z["garment"]) and (pose[..., 4 * w:] == 0).all()
    assert (mask[..., :4 * w] == 1).all() and (mask[..., 4 * w:] == 0).all()
